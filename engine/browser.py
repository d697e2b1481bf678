"""The rendering download handler: scrapy-playwright's, with the outbound rules on every
request a page makes (engine/rendering.py says when it is installed).

The main document already passed the outbound guard as a Scrapy request; what Chromium does by
itself (a page's scripts, images, XHR/fetch, frames, WebSockets, and the redirect hops it
follows) never reaches Scrapy's middlewares. So, for guarded crawls (stored runs and previews,
like the guard), Chromium's every connection goes through a filtering proxy in this process
(engine/render_proxy.py), gates' browser contexts too (the filter forwards to the gate with its
credentials): a target that breaks the rules (only http(s), no metadata, link-local or, unless
allowed, private hosts) is answered 403 and never connected to. Playwright's route handler
aborts a page's sub-resources earlier still (with their resource type in the log); a page whose
own document the filter answered fails with the filter's reason before its steps run, and the
redirect chain is checked once more afterwards, so refused content never reaches extraction.
"""

from __future__ import annotations

import logging
from typing import Any
from weakref import WeakKeyDictionary

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Request as PlaywrightRequest
from playwright.async_api import TimeoutError as PlaywrightTimeout
from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    NotConfigured,
)
from scrapy.http import Response
from scrapy_playwright.handler import ScrapyPlaywrightDownloadHandler
from scrapy_playwright.headers import use_scrapy_headers

from engine.downloadermiddlewares.guard import OutboundGuardMiddleware, TargetRefused
from engine.render_proxy import VERDICT, FilterProxy, Upstream

logger = logging.getLogger(__name__)
REFUSED_STAT = "crawlplane/render/refused"
# Chromium's network errors as Scrapy's, so that retries, gate rotation and the page's outcome
# treat a rendered page like a plain one (the first match wins; others: DownloadFailedError).
NET_ERRORS: tuple[tuple[str, type[Exception]], ...] = (
    ("net::ERR_NAME_NOT_RESOLVED", CannotResolveHostError),
    ("net::ERR_PROXY_CONNECTION_FAILED", DownloadConnectionRefusedError),
    ("net::ERR_TUNNEL_CONNECTION_FAILED", DownloadConnectionRefusedError),
    ("net::ERR_CONNECTION_REFUSED", DownloadConnectionRefusedError),
    ("net::ERR_TIMED_OUT", DownloadTimeoutError),
)
# One handler (one browser) per crawl, for both http and https.
_HANDLERS: WeakKeyDictionary[Crawler, RenderHandler] = WeakKeyDictionary()


class RenderHandler(ScrapyPlaywrightDownloadHandler):  # type: ignore[misc]
    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.guard: OutboundGuardMiddleware | None = None
        self.filter: FilterProxy | None = None
        try:  # stored runs (and previews) only, like the guard
            self.guard = OutboundGuardMiddleware.from_crawler(crawler)
        except NotConfigured:
            pass
        else:
            self.abort_request = self.refused
            self.filter = FilterProxy(self.guard.allow_private,
                                      lambda: self.stats.inc_value(REFUSED_STAT),
                                      tls_policy=self._contextFactory)
            # Every connection of the browser through the filter, the pages of a gate's
            # browser context too (`_through_filter`).
            self.config.launch_options = {**self.config.launch_options,
                                          "proxy": self.filter.browser_proxy()}
        self.closed = False
        settings = crawler.settings
        self.max_size = settings.getint("DOWNLOAD_MAXSIZE")
        self.max_redirects = settings.getint("REDIRECT_MAX_TIMES")
        self.redirects = settings.getbool("REDIRECT_ENABLED")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RenderHandler:
        if crawler not in _HANDLERS:
            _HANDLERS[crawler] = cls(crawler)
        return _HANDLERS[crawler]

    async def close(self) -> None:  # once, though Scrapy holds it for two URL schemes
        if not self.closed:
            self.closed = True
            await super().close()
            if self.filter is not None:
                await self.filter.close()

    async def _download_request(self, request: Request,
                                spider: Spider | None = None) -> Response:
        if self.filter is not None:
            self._through_filter(request)
        try:
            response: Response = await super()._download_request(request, spider)
        except PlaywrightTimeout as exc:
            raise DownloadTimeoutError(f"rendering timed out: {exc.message}") from exc
        except TimeoutError as exc:  # the page's steps as a whole (engine/rendering.py)
            raise DownloadTimeoutError("rendering steps took longer than render.timeout_s"
                                       ) from exc
        except PlaywrightError as exc:
            if "net::ERR_" not in exc.message:
                raise
            kind = next((k for code, k in NET_ERRORS if code in exc.message),
                        DownloadFailedError)
            raise kind(exc.message.splitlines()[0]) from exc
        self._check_limits(request, response)
        if self.guard is not None:  # the hops Chromium followed, checked again: content kept out
            for url in [*request.meta.get("redirect_urls", [])[1:], response.url]:
                problem = await self.guard.problem(url)
                if problem is not None:
                    self.stats.inc_value(REFUSED_STAT)
                    raise TargetRefused(f"refused: redirect to {problem}")
        return response

    def _through_filter(self, request: Request) -> None:
        """A gate's browser context gets the filter's port for that gate as its proxy (the
        filter adds the gate's credentials)."""
        kwargs = request.meta.get("playwright_context_kwargs") or {}
        if "proxy" in kwargs:
            assert self.filter is not None
            gate = Upstream.from_playwright(kwargs["proxy"])
            request.meta["playwright_context_kwargs"] = {
                **kwargs, "proxy": self.filter.browser_proxy(gate)}

    async def _get_response_and_download(self, request: Request, page: Any, spider: Spider
                                         ) -> tuple[Any, Any]:
        """After the navigation, before the page's steps: the filter's own answer to the
        page's document (or to where Chromium was redirected) as the Scrapy error it stands
        for, so that the steps do not wait on it."""
        response, download = await super()._get_response_and_download(request, page, spider)
        verdict = None if response is None else await response.header_value(VERDICT.decode())
        if verdict is not None:
            reason = (await response.text()).strip()
            if verdict == "refused":  # counted and logged by the filter
                hop = "redirect to " if response.url != request.url else ""
                raise TargetRefused(f"refused: {hop}{reason}")
            kind = CannotResolveHostError if verdict == "dns" else DownloadConnectionRefusedError
            raise kind(f"the browser's proxy: {reason}")
        return response, download

    def _check_limits(self, request: Request, response: Response) -> None:
        """The task's `max_response_kb` and `max_redirects`, checked once Chromium is done (it
        downloads and follows redirects on its own)."""
        maxsize = request.meta.get("download_maxsize", self.max_size)
        if maxsize and len(response.body) > maxsize:
            raise DownloadFailedError(f"rendered page of {len(response.body)} bytes is over "
                                      f"DOWNLOAD_MAXSIZE ({maxsize} bytes)")
        hops = request.meta.get("redirect_times", 0)
        if hops > self.max_redirects or (hops and not self.redirects):
            raise DownloadFailedError(f"the browser followed {hops} redirects, over "
                                      f"REDIRECT_MAX_TIMES ({self.max_redirects})")

    async def refused(self, request: PlaywrightRequest) -> bool:
        """Whether the browser must not make `request` (the outbound rules)."""
        assert self.guard is not None
        problem = await self.guard.problem(request.url)
        if problem is None:
            return False
        logger.warning("rendering: refused %s request: %s", request.resource_type, problem)
        self.stats.inc_value(REFUSED_STAT)
        return True


async def scrapy_headers(*, browser_type_name: str, playwright_request: PlaywrightRequest,
                         scrapy_request_data: dict[str, Any]) -> dict[str, str]:
    """scrapy-playwright's own rule (Scrapy's headers on the page's navigation, the browser's
    on its sub-resources), without the Proxy-Authorization header that HttpProxyMiddleware
    adds: the browser context authenticates with its proxy itself."""
    headers = await use_scrapy_headers(browser_type_name=browser_type_name,
                                       playwright_request=playwright_request,
                                       scrapy_request_data=scrapy_request_data)
    return {k: v for k, v in headers.items() if k.lower() != "proxy-authorization"}
