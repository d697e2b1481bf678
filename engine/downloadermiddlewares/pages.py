"""Download-task outcomes: the final state of every page a crawl asked for.

`PageOutcomeMiddleware` is the outermost downloader middleware, so its process_response sees
only final responses (after redirects and retries) and its process_exception only final
failures, including requests refused by robots.txt. It announces each outcome with the
`page_finished` signal; the store recorder writes it.

A failure raised while a response travels back (too many redirects, a body too big to
decompress) never reaches process_exception: the spider's errback reports it with
`report_failure`.
"""

from __future__ import annotations

import time
from typing import Any

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.http import Response

from engine.downloadermiddlewares.downloadinfo import ATTEMPTS
from engine.ids import new_id
from engine.signals import page_finished
from engine.store.status import (
    CREATED,
    DELETED,
    GATES_EXHAUSTED,
    HANDLED,
    IN_PROGRESS,
    ROBOTS_DENIED,
    STATES,
)

PAGE_ID = "cp_page_id"
PARENT_ID = "cp_parent_id"
DEPTH = "cp_depth"
FINISHED = "cp_finished"  # set once the page's outcome was announced

# Download-task states (engine/store/status.py), re-exported for the crawl's modules.
__all__ = ["CREATED", "DELETED", "GATES_EXHAUSTED", "HANDLED", "IN_PROGRESS", "ROBOTS_DENIED",
           "STATES"]


class GatesExhausted(Exception):
    """Raised when every request gate (proxy or direct) failed for a page."""


def is_robots_denial(exc: Exception) -> bool:
    return str(exc) == "Forbidden by robots.txt"


class PageOutcomeMiddleware:
    def __init__(self, crawler: Crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PageOutcomeMiddleware:
        return cls(crawler)

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Response:
        if PAGE_ID in request.meta:
            content_type = (response.headers.get(b"Content-Type") or b"").decode("latin-1")
            self._finish(request, HANDLED, response, http_status=response.status,
                         content_type=content_type[:200] or None)
        return response

    def process_exception(
        self, request: Request, exception: Exception, spider: Spider | None = None
    ) -> None:
        if PAGE_ID not in request.meta:
            return
        if is_robots_denial(exception):
            state = ROBOTS_DENIED
        elif isinstance(exception, GatesExhausted):
            state = GATES_EXHAUSTED
        else:
            state = HANDLED
        error = f"{type(exception).__name__}: {exception}".rstrip(": ")
        self._finish(request, state, None, error=error)

    def _finish(self, request: Request, state: str, response: Response | None,
                **fields: Any) -> None:
        finish(self.crawler, request, state, response, **fields)


def report_failure(crawler: Crawler, request: Request, exception: BaseException | None) -> None:
    """A page's failure seen by the spider's errback, unless its outcome was announced."""
    if PAGE_ID in request.meta and not request.meta.get(FINISHED):
        error = f"{type(exception).__name__}: {exception}".rstrip(": ")
        finish(crawler, request, HANDLED, None, error=error)


def finish(crawler: Crawler, request: Request, state: str, response: Response | None,
           **fields: Any) -> None:
    """Announce a page's outcome (once)."""
    request.meta[FINISHED] = True
    now = time.time()
    page = {
        "id": request.meta[PAGE_ID],
        "url": request.meta.get("redirect_urls", [request.url])[0],
        "state": state,
        "depth": request.meta.get(DEPTH, 0),
        "parent_id": request.meta.get(PARENT_ID),
        "http_status": None,
        "content_type": None,
        "error": None,
        "created_at": request.meta.get("cp_created_at", now),
        "updated_at": now,
        **fields,
    }
    crawler.signals.send_catch_log(
        page_finished, page=page, attempts=list(request.meta.get(ATTEMPTS, [])),
        response=response,
    )


def page_meta(parent: Response | None, depth: int, **extra: Any) -> dict[str, Any]:
    """The meta of a new page request (a download task of its own), child of `parent`."""
    return {PAGE_ID: new_id("p"), PARENT_ID: parent.meta.get(PAGE_ID) if parent else None,
            DEPTH: depth, "cp_created_at": time.time(), **extra}
