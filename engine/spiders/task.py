"""The generic `task` spider: crawls and extracts what a scheme describes.

    scrapy crawl task -a scheme=scheme.json -O out.csv      # no server needed
    scrapy crawl task -a task_id=t_...                      # a stored task, recorded in the store

`scheme` is a path or inline JSON. With `task_id`, the run is `run_id` when given (the
launcher's queued run), or a new one.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.http import Response, TextResponse
from scrapy.utils.defer import deferred_from_coro
from twisted.python.failure import Failure

from engine.cookies import use_bundled_suffix_list
from engine.downloadermiddlewares.pages import DEPTH, PAGE_ID, PARENT_ID, report_failure
from engine.extraction.details import DetailJoin
from engine.extraction.items import extract_fields, extract_items, extract_links
from engine.frontier import (
    DETAIL,
    FOLLOW_DEPTH,
    KEY,
    PAGE_NO,
    RecentlySent,
    page_identity,
    page_key,
)
from engine.frontier.jobs import configure_job, is_job
from engine.ids import new_id
from engine.login import LoginFlow
from engine.outbound import NO_LOCAL_SCHEMES
from engine.run_warnings import ExtractionWatch
from engine.scheme import FieldRule, Scheme, parse_scheme
from engine.signals import page_parsed
from engine.sitemaps import SitemapReader
from engine.store import Row
from engine.store_access import crawl_store
from engine.task_settings import apply_scheme

SCHEDULER = "engine.frontier.scheduler.StoreScheduler"


def load_scheme(crawler: Crawler, scheme: str | None, task_id: str | None,
                run_id: str | None) -> tuple[Scheme, str | None]:
    """The scheme from a file, inline JSON or the store; and the stored run to record into."""
    if scheme is not None:
        text = scheme if scheme.lstrip().startswith("{") else Path(scheme).read_text("utf-8")
        return parse_scheme(text), run_id
    if task_id is None:
        raise ValueError("the task spider needs -a scheme=PATH_OR_JSON or -a task_id=ID")
    # The crawl's one store, which the recorder and the scheduler use too.
    store = crawl_store(crawler)
    task = store.get_task(task_id)
    if task is None:
        raise ValueError(f"task {task_id} not found in {store.url}")
    if run_id is None:  # started outside the control API, e.g. by Scrapyd's schedule.json
        # Taken at once, so that no launcher claims it and starts it a second time.
        run_id = store.queue_run(task_id, launcher="external")["id"]
    crawler.settings.set("CRAWLPLANE_TASK_KIND", task["kind"], priority="spider")
    return parse_scheme(task["scheme"]), run_id


class _FailedPage:
    """Where a failed page's meta is read from (`_parsed`), as from a response."""

    def __init__(self, request: Request):
        self.meta = request.meta


class TaskSpider(Spider):
    name = "task"

    def __init__(self, scheme: Scheme, **kwargs: Any):
        super().__init__(**kwargs)
        self.scheme = scheme
        self.details = DetailJoin()
        self.seen: set[str] = set()  # (a stored run's frontier: `sent`)
        self.sent = RecentlySent()
        self.pages_requested = 0
        self.max_pages_reached = False  # a page was left out for limits.max_pages
        self.watch = ExtractionWatch()
        # A stored run's frontier is in the store (engine/frontier/): it dedups and counts.
        self.frontier = False

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> TaskSpider:
        task_id = kwargs.pop("task_id", None)
        scheme, run_id = load_scheme(crawler, kwargs.pop("scheme", None), task_id,
                                     kwargs.pop("run_id", None))
        apply_scheme(crawler.settings, scheme)
        if is_job(crawler.settings):  # the API fills its frontier (engine/frontier/jobs.py)
            configure_job(crawler.settings)
        use_bundled_suffix_list()
        if run_id:
            crawler.settings.set("CRAWLPLANE_TASK_ID", task_id, priority="spider")
            crawler.settings.set("CRAWLPLANE_RUN_ID", run_id, priority="spider")
            handlers = {**crawler.settings.getdict("DOWNLOAD_HANDLERS"), **NO_LOCAL_SCHEMES}
            crawler.settings.set("DOWNLOAD_HANDLERS", handlers, priority="spider")
            crawler.settings.set("SCHEDULER", SCHEDULER, priority="spider")
            if not is_job(crawler.settings):  # (a job's pages are the API's: no keys, no items)
                crawler.settings.set("CRAWLPLANE_FRONTIER", True, priority="spider")
                crawler.settings.set("CRAWLPLANE_RUN_PROCESSES", scheme.processes,
                                     priority="spider")
        spider = super().from_crawler(crawler, *args, scheme=scheme, **kwargs)
        assert isinstance(spider, TaskSpider)
        spider.frontier = bool(run_id) and not is_job(crawler.settings)
        return spider

    async def start(self) -> AsyncIterator[Request]:
        if is_job(self.settings):
            return
        urls = self.scheme.start_urls
        if urls:  # (at INFO, the crawl log names no page: this line says where it began)
            more = len(urls) - 1
            self.logger.info("starting at %s%s", urls[0],
                             f" and {more} more start URL{'s' * (more > 1)}" if more else "")
        if self.scheme.login is not None:  # the first requests come once logged in
            yield LoginFlow(self.scheme.login, self.first_requests, self.page_failed).request()
            return
        for request in self.first_requests():
            yield request

    def first_requests(self) -> Iterator[Request]:
        """The start URLs' requests, and the sitemaps' (engine/sitemaps.py)."""
        for url in self.scheme.start_urls:
            request = self._request(url, parent=None, depth=0, follow_depth=0, page_no=1)
            if request is not None:
                yield request
        if self.scheme.sitemap_urls:
            yield from SitemapReader(
                self.scheme, lambda url, parent, depth: self._request(url, parent, depth, 0, 1),
                self.page_failed, self.settings.getint("DOWNLOAD_MAXSIZE")).start()

    # -- requests -------------------------------------------------------------------------

    def _request(self, url: str, parent: Response | None, depth: int, follow_depth: int,
                 page_no: int, detail: str | None = None) -> Request | None:
        """A new download task, unless its URL was seen or the page budget is spent. A detail
        page (`detail` names the field it is for) is seen apart from listing pages."""
        identity = page_identity(url, detail)
        if self.frontier:  # the store dedups and counts (engine/frontier/scheduler.py)
            # Unless it is a detail page (refused ones are the scheduler's to settle): not a
            # page this process sent already, nor any new one once the store refused one for
            # limits.max_pages (a run's planned pages only grow).
            if not detail and (self.max_pages_reached or not self.sent.add(identity)):
                return None
        else:
            if identity in self.seen:
                return None
            if self.pages_requested >= self.scheme.limits.max_pages:
                self.max_pages_reached = True
                return None
            self.seen.add(identity)
            self.pages_requested += 1
        meta: dict[str, Any] = {
            PAGE_ID: new_id("p"),
            PARENT_ID: parent.meta.get(PAGE_ID) if parent is not None else None,
            DEPTH: depth,
            FOLLOW_DEPTH: follow_depth,
            PAGE_NO: page_no,
            "cp_created_at": time.time(),
        }
        if self.frontier:
            meta[KEY] = page_key(identity)
            meta[DETAIL] = detail
        return self._build(url, meta, detail)

    def _build(self, url: str, meta: dict[str, Any], detail: str | None) -> Request:
        if detail:
            return Request(url, callback=self.parse_detail, errback=self.detail_failed,
                           meta=meta, dont_filter=True)
        return Request(url, callback=self.parse, errback=self.page_failed, meta=meta,
                       dont_filter=True)

    # -- the durable frontier (engine/frontier/) --------------------------------------------

    def request_from_row(self, row: Row) -> Request:
        """A claimed page's request, rebuilt from its row."""
        meta = {PAGE_ID: row["id"], PARENT_ID: row["parent_id"], DEPTH: row["depth"],
                FOLLOW_DEPTH: row["follow_depth"] or 0, PAGE_NO: row["page_no"] or 1,
                "cp_created_at": row["created_at"], KEY: True, DETAIL: row["detail"]}
        return self._build(row["url"], meta, row["detail"])

    def _follow_rules(self) -> dict[str, FieldRule]:
        rules = self.scheme.item.fields if self.scheme.item else []
        return {rule.name: rule for rule in rules if rule.follow is not None}

    def follows_details(self) -> bool:
        """Whether the scheme fetches detail pages (items may wait for them)."""
        return bool(self._follow_rules())

    def restore_details(self, waiting: list[Row], known: list[Row]) -> None:
        """Items that wait for detail pages, and detail values found, by earlier processes."""
        self.details.restore(waiting, known, self._follow_rules())

    def details_refused(self, rows: list[Row]) -> None:
        """Detail pages left out for limits.max_pages: their items go without them."""
        engine = self.crawler.engine
        for row in rows:
            ready = self.details.resolve_pending(row["url"], None)
            if ready:
                self._parsed(None, 0, resolved=[p.id for p in ready])
            for pending in ready:
                if engine is not None:
                    deferred_from_coro(engine.scraper.start_itemproc_async(
                        pending.item, response=None))

    def _parsed(self, response: Response | _FailedPage | None, items: int,
                pending: list[Row] | None = None, resolved: list[str] | None = None,
                detail_value: Any = None) -> None:
        """Tell the recorder what a page's callback produced, to commit it with the page."""
        if not self.frontier:
            return
        page_id = response.meta.get(PAGE_ID) if response is not None else None
        self.crawler.signals.send_catch_log(
            page_parsed, page_id=page_id, items=items, pending=pending or [],
            resolved=resolved or [], detail_value=detail_value)

    # -- callbacks ------------------------------------------------------------------------

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        if not isinstance(response, TextResponse):
            self.logger.info("not HTML or XML, nothing to extract: %s", response.url)
            self._parsed(response, 0)
            return
        meta = response.meta
        self.watch.page()
        count, waiting, resolved = 0, [], []
        for item, links in extract_items(response.selector, self.scheme.item, response.url):
            self.watch.item(item)
            ready, to_fetch, pending = self.details.add_pending(item, links)
            for link in to_fetch:
                request = self._request(link.url, response, meta[DEPTH] + 1, meta[FOLLOW_DEPTH],
                                        1, detail=link.field.name)
                if request is None:  # over budget: the item gets the link without details
                    for done in self.details.resolve_pending(link.url, None):
                        count += 1
                        if done is pending:
                            pending = None
                        else:
                            resolved.append(done.id)
                        yield done.item
                else:
                    yield request
            if pending is not None and pending.missing:
                waiting.append(pending.row())
            if ready:
                count += 1
                yield item
        yield from self._next_pages(response)
        self._parsed(response, count, waiting, resolved)

    def _next_pages(self, response: TextResponse) -> Iterator[Request]:
        meta, page = response.meta, response.selector
        if self.scheme.paginate and meta[PAGE_NO] < self.scheme.paginate.max_pages:
            for url in extract_links(page, self.scheme.paginate.selector, response.url):
                request = self._request(url, response, meta[DEPTH] + 1, meta[FOLLOW_DEPTH],
                                        meta[PAGE_NO] + 1)
                if request is not None:
                    yield request
        for rule in self.scheme.follow:
            if meta[FOLLOW_DEPTH] >= rule.max_depth:
                continue
            for url in extract_links(page, rule.selector, response.url):
                request = self._request(url, response, meta[DEPTH] + 1, meta[FOLLOW_DEPTH] + 1, 1)
                if request is not None:
                    yield request

    def parse_detail(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        url = response.meta.get("redirect_urls", [response.url])[0]
        values = None
        if isinstance(response, TextResponse):
            values = {}
            for rule in self.details.waiting_rules(url):
                assert rule.follow is not None
                fields, _ = extract_fields(response.selector, rule.follow.fields, response.url)
                values[rule.name] = {"url": url, **fields}
        yield from self._resolved(response, url, values)

    def _resolved(self, response: Response | _FailedPage, url: str, values: dict[str, Any] | None
                  ) -> Iterator[Any]:
        ready = self.details.resolve_pending(url, values)
        for pending in ready:
            yield pending.item
        self._parsed(response, len(ready), resolved=[p.id for p in ready],
                     detail_value=values or {})

    def page_failed(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        self.logger.info("page failed: %s (%s)", request.url, failure.value)
        report_failure(self.crawler, request, failure.value)
        self._parsed(_FailedPage(request), 0)

    def detail_failed(self, failure: Failure) -> Iterator[Any]:
        request = failure.request  # type: ignore[attr-defined]
        report_failure(self.crawler, request, failure.value)
        url = request.meta.get("redirect_urls", [request.url])[0]
        self.logger.info("detail page failed, its fields stay empty: %s (%s)", url, failure.value)
        yield from self._resolved(_FailedPage(request), url, None)

    def closed(self, reason: str) -> None:
        if self.details:
            self.logger.warning("%d detail pages were still pending when the crawl closed (%s)",
                                len(self.details), reason)
