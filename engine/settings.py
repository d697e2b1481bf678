"""Scrapy settings of the Crawlplane project, and the defaults of Crawlplane's own settings.

Crawlplane's settings are named `CRAWLPLANE_*`; the ones shared with the control API are read
from the environment so that `scrapy crawl`, Scrapyd and the server agree on the store.
"""

import os

BOT_NAME = "crawlplane"
SPIDER_MODULES = ["engine.spiders"]
NEWSPIDER_MODULE = "engine.spiders"

TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
ROBOTSTXT_OBEY = True
USER_AGENT = "Crawlplane/0.1 (+https://github.com/crawlplane/crawlplane)"
LOG_LEVEL = "INFO"
TELNETCONSOLE_ENABLED = False
FEED_EXPORT_ENCODING = "utf-8"

DOWNLOADER_MIDDLEWARES = {
    # Outermost: sees each page's final outcome (after redirects and retries, or a refusal).
    "engine.pages.PageOutcomeMiddleware": 50,
    # Innermost: records every attempt with the headers really sent.
    "engine.downloadinfo.DownloadInfoMiddleware": 950,
}
ITEM_PIPELINES = {
    "engine.pipelines.ItemLimitPipeline": 100,
}
EXTENSIONS = {
    "engine.recorder.StoreRecorder": 500,
}
FEED_EXPORTERS = {
    "csv": "engine.exporters.FlatCsvItemExporter",
    "xlsx": "engine.exporters.XlsxItemExporter",
}

# Where the store lives: a SQLAlchemy/PostgreSQL URL, or SQLite in the data directory.
CRAWLPLANE_DATA_DIR = os.environ.get("CRAWLPLANE_DATA_DIR", os.path.expanduser("~/.crawlplane"))
CRAWLPLANE_STORE_URL = os.environ.get("CRAWLPLANE_STORE_URL", "")
# The stored task and run a crawl belongs to (set by the `task` spider from its arguments).
CRAWLPLANE_TASK_ID = None
CRAWLPLANE_RUN_ID = None
# Batched writes from a crawl process: at most this many seconds or rows between flushes.
CRAWLPLANE_FLUSH_INTERVAL = 1.0
CRAWLPLANE_FLUSH_ROWS = 500
# Keep compressed page bodies in the store (the interactive API's page cache).
CRAWLPLANE_STORE_BODIES = False
