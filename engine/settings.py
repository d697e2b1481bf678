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
# Scrapy 2.19's remote control runs Python sent to a localhost HTTP port (its token in a file
# under the user's home): not in a service's crawl processes, and one server per crawler.
REMOTE_CONTROL_ENABLED = False
FEED_EXPORT_ENCODING = "utf-8"
# Scrapy starts this many asyncio tasks for the output of every response (Scraper's
# _parallel_asyncio): at its default of 100 that was ~40% of a crawl's CPU (py-spy, 60-page
# crawl). The item pipelines here are synchronous; 8 is plenty.
CONCURRENT_ITEMS = 8
# Scrapy parses a callback's source (ast) to warn of a generator that returns a value, for each
# new spider's bound methods (its cache never hits): ~5% of a one-page run's CPU (py-spy,
# bursts). The callbacks here are the engine's own, not users'.
WARN_ON_GENERATOR_RETURN_VALUE = False

DOWNLOADER_MIDDLEWARES = {
    # Outermost: sees each page's final outcome (after redirects and retries, or a refusal).
    "engine.downloadermiddlewares.pages.PageOutcomeMiddleware": 50,
    # Stored runs only: no request to metadata, link-local or (unless allowed) private hosts.
    "engine.downloadermiddlewares.guard.OutboundGuardMiddleware": 60,
    # Scrapy's, fixed for requests that wait for robots.txt
    # (engine/downloadermiddlewares/robots.py).
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "engine.downloadermiddlewares.robots.RobotsTxtMiddleware": 100,
    # Scrapy's RetryMiddleware, with the task's pause between attempts.
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "engine.downloadermiddlewares.retry_delay.DelayedRetryMiddleware": 550,
    # Inside retries and redirects, outside HttpProxyMiddleware (750): picks each attempt's
    # proxy or the direct connection, and moves a request on when its gate fails.
    "engine.downloadermiddlewares.gates.GateMiddleware": 710,  # after CookiesMiddleware (700)
    # Rendering crawls only: marks page requests for the browser, through the gate's proxy.
    "engine.rendering.RenderMiddleware": 720,
    # After robots.txt (100) and the gate's wait: the per-request crawl delay.
    "engine.downloadermiddlewares.crawl_delay.CrawlDelayMiddleware": 900,
    # Innermost: records every attempt with the headers really sent.
    "engine.downloadermiddlewares.downloadinfo.DownloadInfoMiddleware": 950,
}
ITEM_PIPELINES = {
    "engine.pipelines.ItemLimitPipeline": 100,
}
EXTENSIONS = {
    "engine.extensions.recorder.StoreRecorder": 500,
}
# The one exporter of each results format: feeds (`scrapy crawl -O`) use it, and so does the
# control API's renderer (control_api/results.py), so a file is the same either way.
FEED_EXPORTERS = {
    "json": "scrapy.exporters.JsonItemExporter",
    "jsonl": "scrapy.exporters.JsonLinesItemExporter",
    "csv": "engine.exporters.FlatCsvItemExporter",
    "xml": "engine.exporters.NullXmlItemExporter",
    "xlsx": "engine.exporters.XlsxItemExporter",
}

# Where the store lives: a SQLAlchemy/PostgreSQL URL, or SQLite in the data directory.
CRAWLPLANE_DATA_DIR = os.environ.get("CRAWLPLANE_DATA_DIR", os.path.expanduser("~/.crawlplane"))
CRAWLPLANE_STORE_URL = os.environ.get("CRAWLPLANE_STORE_URL", "")
# Whether stored runs may reach loopback and private addresses (the server's setting).
CRAWLPLANE_ALLOW_PRIVATE_TARGETS = os.environ.get("CRAWLPLANE_ALLOW_PRIVATE_TARGETS", "") in (
    "1", "true", "yes", "on")
# The stored task and run a crawl belongs to (set by the `task` spider from its arguments).
CRAWLPLANE_TASK_ID = None
CRAWLPLANE_RUN_ID = None
# Set by engine/preview.py: a one-page preview for the API, guarded like a stored run.
CRAWLPLANE_PREVIEW = False
# How much nicer than the server a crawl process it launches runs (engine/worker.py).
CRAWLPLANE_WORKER_NICE = int(os.environ.get("CRAWLPLANE_WORKER_NICE", "5"))
# Batched writes from a crawl process: at most this many seconds or rows between flushes.
CRAWLPLANE_FLUSH_INTERVAL = 1.0
CRAWLPLANE_FLUSH_ROWS = 500
# Seconds a crawl keeps what the store does not take before it ends (a store gone for good).
CRAWLPLANE_STORE_GIVE_UP = float(os.environ.get("CRAWLPLANE_STORE_GIVE_UP", "120"))
# The durable frontier of stored runs (engine/frontier/): set by the `task` spider for a stored
# run; new pages are written and Created pages claimed this many at a time (an interactive
# job's too: at most this many claimed pages wait in its process).
CRAWLPLANE_FRONTIER = False
CRAWLPLANE_FRONTIER_BATCH = int(os.environ.get("CRAWLPLANE_FRONTIER_BATCH", "100"))
# Crawl processes working on the run's frontier at once (the scheme's `processes`).
CRAWLPLANE_RUN_PROCESSES = 1
# The name this crawl process claims pages under (engine/frontier/worker_name), when its
# launcher gives one (the Scrapyd launcher: the job's); "host:pid" when empty.
CRAWLPLANE_WORKER = ""
# Keep compressed page bodies in the store (the interactive API's page cache).
CRAWLPLANE_STORE_BODIES = False
# Interactive jobs (engine/frontier/jobs.py): "crawl" or "job", set from the stored task.
CRAWLPLANE_TASK_KIND = "crawl"
# A job's crawl process polls the store for new download tasks this often (seconds; at the
# quiet interval once nothing came for 5 s), and closes after this many seconds without new
# work (the API launches a new one when work arrives).
CRAWLPLANE_JOB_POLL_INTERVAL = float(os.environ.get("CRAWLPLANE_JOB_POLL_INTERVAL", "0.02"))
CRAWLPLANE_JOB_QUIET_POLL_INTERVAL = 0.1
CRAWLPLANE_JOB_IDLE_TIMEOUT = float(os.environ.get("CRAWLPLANE_JOB_IDLE_TIMEOUT", "60"))

# Politeness and request gates (engine/downloadermiddlewares/: crawl_delay.py, gates.py,
# retry_delay.py).
# A crawl delay for every host: "1-5" (uniform per request) or "robots" (robots.txt
# Crawl-delay); None leaves it to Scrapy's DOWNLOAD_DELAY (a fixed delay).
CRAWLPLANE_CRAWL_DELAY = None
# Per-host crawl delays, {host or host:port: "0.5" | "1-5" | "robots"}, over the one above.
CRAWLPLANE_HOST_DELAYS: dict[str, str] = {}
# Proxies, in rotation order: [{"url": "http://user:pass@host:port", "connections_limit": 4}].
CRAWLPLANE_GATES: list[dict[str, object]] = []
# The direct connection as the last gate, once every proxy failed for a request.
CRAWLPLANE_GATES_DIRECT = True
# Response statuses that count as a gate's failure (connection errors always do).
CRAWLPLANE_GATES_ROTATE_ON = [401, 403]
# Seconds to wait before each retry of the retry policy.
CRAWLPLANE_RETRY_DELAY = 0.0

# Rendering (a scheme's `render`, engine/rendering.py): the machine's Chromium (Debian's
# `chromium` package; no browser is ever downloaded), and extra command-line flags for it
# (comma-separated in the environment), after the ones a closed network needs.
CRAWLPLANE_CHROMIUM = os.environ.get("CRAWLPLANE_CHROMIUM", "/usr/bin/chromium")
CRAWLPLANE_CHROMIUM_ARGS = [a for a in os.environ.get("CRAWLPLANE_CHROMIUM_ARGS", "").split(",")
                            if a]
# The scheme's `render` (set per crawl by engine/task_settings.py); empty: no rendering.
CRAWLPLANE_RENDER: dict[str, object] = {}
