"""One store per crawl process: the spider (reading its scheme), the store recorder and the
scheduler share it. Opened on first use from the crawler's settings, kept on the crawler,
closed when the crawl's engine has stopped (after every `spider_closed` handler is done)."""

from __future__ import annotations

from scrapy import signals
from scrapy.crawler import Crawler

from engine.store import Store, store_url

_ATTRIBUTE = "crawlplane_store"


def crawl_store(crawler: Crawler) -> Store:
    """The crawler's store. A crawl never migrates the store (the server does): it checks the
    schema's revision (raises `SchemaError` with what to run)."""
    store: Store | None = getattr(crawler, _ATTRIBUTE, None)
    if store is None:
        settings = crawler.settings
        store = Store(store_url(settings.get("CRAWLPLANE_STORE_URL"),
                                settings.get("CRAWLPLANE_DATA_DIR")), migrate=False)
        setattr(crawler, _ATTRIBUTE, store)
        crawler.signals.connect(store.close, signal=signals.engine_stopped, weak=False)
    return store
