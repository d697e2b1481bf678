"""One store per crawl process: the spider (reading its scheme), the store recorder and the
scheduler share it. Opened on first use from the crawler's settings, kept on the crawler,
closed when the crawl's engine has stopped (after every `spider_closed` handler is done)."""

from __future__ import annotations

from scrapy import signals
from scrapy.crawler import Crawler

from engine.store import Store, store_url

_ATTRIBUTE = "crawlplane_store"
# A shared crawl process (engine/shared.py) opens one store for all its crawlers: one
# connection pool and, above all, one SQLAlchemy compiled-statement cache (an engine each
# compiled every statement again, run after run).
_process_store: Store | None = None


def share_store(store: Store) -> None:
    global _process_store  # noqa: PLW0603 (one per process, set before any crawler exists)
    _process_store = store


def crawl_store(crawler: Crawler) -> Store:
    """The crawler's store. A crawl never migrates the store (the server does): it checks the
    schema's revision (raises `SchemaError` with what to run)."""
    if _process_store is not None:
        return _process_store
    store: Store | None = getattr(crawler, _ATTRIBUTE, None)
    if store is None:
        settings = crawler.settings
        store = Store(store_url(settings.get("CRAWLPLANE_STORE_URL"),
                                settings.get("CRAWLPLANE_DATA_DIR")), migrate=False)
        setattr(crawler, _ATTRIBUTE, store)
        crawler.signals.connect(store.close, signal=signals.engine_stopped, weak=False)
    return store
