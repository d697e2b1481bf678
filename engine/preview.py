"""Previews: one page fetched through the engine and extracted, nothing stored.

`python -m engine.preview` is a long-lived crawl process serving previews for the control API
(`POST /v1/preview`, control_api/web/preview.py): it reads one JSON line per preview on stdin,
`{"id", "scheme", "url"}`, runs a one-page crawl of the `task` spider's rules on a
`CrawlerRunner` in its own reactor (several at once if asked), and writes one JSON line per
answer on stdout, `{"id", "result": {"items", "links", "download"}}` or `{"id", "error"}`.

A crawl per preview keeps every rule of a stored run (the outbound guard, robots.txt, headers,
cookies, retries, redirects, proxy gates, DownloadInfo); one process for many previews keeps
Scrapy's start-up (about 0.7 s) out of each answer, as ScrapyRT does. EOF on stdin exits.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.http import Response, TextResponse
from twisted.python.failure import Failure

from engine.cookies import use_bundled_suffix_list
from engine.downloadermiddlewares.pages import PAGE_ID, report_failure
from engine.extraction.items import extract_items, extract_links
from engine.ids import new_id
from engine.outbound import NO_LOCAL_SCHEMES
from engine.scheme import Scheme, parse_scheme
from engine.signals import page_finished
from engine.task_settings import apply_scheme

DEADLINE = 20.0  # seconds a preview crawl may take (the API passes its own)
MAX_RETRY_DELAY_MS = 1000


class PreviewSpider(Spider):
    """The `task` spider's extraction for one page: items (detail pages are named, not
    fetched), the pagination and follow links it would take, and the page's DownloadInfo."""

    name = "preview"

    def __init__(self, scheme: Scheme, url: str, result: dict[str, Any], **kwargs: Any):
        super().__init__(**kwargs)
        self.scheme = scheme
        self.url = url
        self.result = result

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> PreviewSpider:
        scheme: Scheme = kwargs["scheme"]
        # One page: no crawl delay between robots.txt and the page, retries at most a second
        # apart; and a deadline, so a preview answers in time whatever the scheme's timeouts.
        retry = scheme.request.retry
        scheme = scheme.model_copy(update={
            "politeness": scheme.politeness.model_copy(update={"crawl_delay": 0,
                                                               "host_delays": {}}),
            "request": scheme.request.model_copy(update={"retry": retry.model_copy(
                update={"delay_ms": min(retry.delay_ms, MAX_RETRY_DELAY_MS)})})})
        kwargs["scheme"] = scheme
        deadline = float(kwargs.pop("deadline", DEADLINE))
        apply_scheme(crawler.settings, scheme)
        crawler.settings.set("CLOSESPIDER_TIMEOUT", deadline, priority="spider")
        crawler.settings.set("DOWNLOAD_TIMEOUT", min(scheme.request.timeout_s, deadline),
                             priority="spider")
        # A stored run's walls: the outbound guard and no handler for local schemes.
        crawler.settings.set("CRAWLPLANE_PREVIEW", True, priority="spider")
        # (over the scheme's handlers: a rendering scheme keeps its browser)
        handlers = {**crawler.settings.getdict("DOWNLOAD_HANDLERS"), **NO_LOCAL_SCHEMES}
        crawler.settings.set("DOWNLOAD_HANDLERS", handlers, priority="spider")
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.page_finished, signal=page_finished)
        assert isinstance(spider, PreviewSpider)
        return spider

    def page_finished(self, page: dict[str, Any], attempts: list[dict[str, Any]],
                      **kwargs: Any) -> None:
        self.result["page"] = page
        self.result["attempts"] = attempts

    async def start(self) -> AsyncIterator[Request]:
        yield Request(self.url, callback=self.parse, errback=self.failed, dont_filter=True,
                      meta={PAGE_ID: new_id("p")})

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        items: list[dict[str, Any]] = []
        links: dict[str, list[str]] = {"paginate": [], "follow": []}
        if isinstance(response, TextResponse):
            for item, details in extract_items(response.selector, self.scheme.item,
                                               response.url):
                for link in details:  # a detail page is named by its URL, not fetched
                    value = {"url": link.url}
                    if link.index is None:
                        item[link.field.name] = value
                    else:
                        item[link.field.name][link.index] = value
                items.append(item)
            if self.scheme.paginate:
                links["paginate"] = extract_links(response.selector,
                                                  self.scheme.paginate.selector, response.url)
            for rule in self.scheme.follow:
                for url in extract_links(response.selector, rule.selector, response.url):
                    if url not in links["follow"]:
                        links["follow"].append(url)
        else:
            self.result["note"] = "not HTML or XML: nothing to extract"
        self.result["items"] = items[: self.scheme.limits.max_items or None]
        self.result["links"] = links
        return iter(())

    def closed(self, reason: str) -> None:
        self.result["closed"] = reason

    def failed(self, failure: Failure) -> None:
        report_failure(self.crawler, failure.request, failure.value)  # type: ignore[attr-defined]


def answer(result: dict[str, Any]) -> dict[str, Any]:
    """The API's answer from what the crawl gathered."""
    attempts = result.get("attempts") or []
    page = result.get("page") or {}
    download = dict(attempts[-1]) if attempts else None  # none: refused before sending
    error = page.get("error")
    if not page and result.get("closed") == "closespider_timeout":
        error = "the preview's time ran out before the page was had"
    return {
        "items": result.get("items", []),
        "links": result.get("links", {"paginate": [], "follow": []}),
        "download": download,
        "attempts": attempts,
        "state": page.get("state"),
        "error": error,
    }


def main() -> int:
    from scrapy.crawler import CrawlerRunner
    from scrapy.utils.log import configure_logging
    from scrapy.utils.project import get_project_settings
    from scrapy.utils.reactor import install_reactor

    settings = get_project_settings()
    install_reactor(settings["TWISTED_REACTOR"])
    from twisted.internet import reactor, stdio
    from twisted.protocols.basic import LineReceiver

    settings.set("LOG_LEVEL", "WARNING", priority="cmdline")
    configure_logging(settings)
    use_bundled_suffix_list()
    runner = CrawlerRunner(settings)

    class Previews(LineReceiver):
        delimiter = b"\n"
        MAX_LENGTH = 64 * 1024 * 1024

        def lineReceived(self, line: bytes) -> None:  # noqa: N802
            try:
                job = json.loads(line)
                scheme = parse_scheme(job["scheme"])
            except Exception as exc:  # the API validated it: a bug, answered as one
                self.send({"id": None, "error": f"bad preview request: {exc}"})
                return
            result: dict[str, Any] = {}
            d = runner.crawl(PreviewSpider, scheme=scheme, url=job["url"], result=result,
                             deadline=job.get("deadline", DEADLINE))
            d.addCallback(lambda _: self.send({"id": job["id"], "result": answer(result)}))
            d.addErrback(lambda f: self.send({"id": job["id"],
                                              "error": f.getErrorMessage()}))

        def send(self, message: dict[str, Any]) -> None:
            self.sendLine(json.dumps(message, ensure_ascii=False, default=str).encode())

        def connectionLost(self, reason: Any = None) -> None:  # noqa: N802
            reactor.stop()

    stdio.StandardIO(Previews())
    reactor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
