"""Rendered pages (the scheme's `render`, API.md section 3): headless Chromium through
scrapy-playwright, on the machine's own browser.

A rendered request is an ordinary Scrapy request with `meta["playwright"] = True` and one page
method that runs the scheme's steps; `RenderMiddleware` marks every page request of a rendering
crawl so, in one place, whoever builds the request (the spider, a store-backed frontier). So
robots.txt, delays, gates, headers, cookies, the outbound guard and DownloadInfo see a rendered
request like any other; only the download handler differs (engine/browser.py).

Nothing here imports Playwright at module level: a crawl without rendering never loads it
(`render_settings` installs the handler only when the scheme renders).
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import unquote, urlsplit

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.settings import Settings

from engine.extraction.selectors import parse_selector
from engine.scheme import Scheme
from engine.scheme_web import Render

RENDER = "cp_render"  # meta: False keeps a request of a rendering crawl out of the browser
HANDLER = "engine.browser.RenderHandler"
# Flags Chromium needs on a closed network (no sandbox as root, no calls home).
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def render_settings(settings: Settings, scheme: Scheme) -> dict[str, Any]:
    """The Scrapy settings of a scheme that renders; empty (Scrapy's own handlers, nothing
    loaded) when it does not."""
    render = scheme.render
    if render is None or not render.enabled:
        return {}
    handlers = dict(settings.getdict("DOWNLOAD_HANDLERS"))
    handlers.update({"http": HANDLER, "https": HANDLER})
    return {
        "CRAWLPLANE_RENDER": render.model_dump(mode="json"),
        "DOWNLOAD_HANDLERS": handlers,
        "PLAYWRIGHT_BROWSER_TYPE": "chromium",
        "PLAYWRIGHT_LAUNCH_OPTIONS": {
            "executable_path": settings.get("CRAWLPLANE_CHROMIUM"),
            "args": [*CHROMIUM_ARGS, *settings.getlist("CRAWLPLANE_CHROMIUM_ARGS")],
            "timeout": 60_000,
        },
        # One browser, one context per proxy; at most `concurrency` pages open in each.
        "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT": scheme.politeness.concurrency,
        "PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT": render.timeout_s * 1000,
        "PLAYWRIGHT_PROCESS_REQUEST_HEADERS": "engine.browser.scrapy_headers",
    }


def playwright_selector(text: str) -> str:
    """`CSS: div.quote` -> `css=div.quote`, `XPATH: //a` -> `xpath=//a`."""
    query = parse_selector(text)
    return f"{query.kind}={query.expression}"


def render_meta(render: Render, proxy: str | None = None, verify_tls: bool = True
                ) -> dict[str, Any]:
    """The meta keys that make a request rendered with `render`'s steps, through `proxy`
    (a proxy URL, credentials included) when given."""
    from scrapy_playwright.page import PageMethod  # only when rendering

    meta: dict[str, Any] = {
        "playwright": True,
        "playwright_page_methods": [PageMethod(run_steps, render)],
        "playwright_page_goto_kwargs": {"wait_until": "load", "timeout": render.timeout_s * 1000},
    }
    context: dict[str, Any] = {} if verify_tls else {"ignore_https_errors": True}
    if proxy:
        # scrapy-playwright ignores meta["proxy"]: a browser context per proxy instead.
        parts = urlsplit(proxy)
        server = f"{parts.scheme}://{parts.hostname}:{parts.port}"
        # "<-loopback>": Chromium would go direct to loopback targets, Scrapy does not.
        settings: dict[str, str] = {"server": server, "bypass": "<-loopback>"}
        if parts.username is not None:
            settings["username"] = unquote(parts.username)
            settings["password"] = unquote(parts.password or "")
        meta["playwright_context"] = f"proxy {server}"
        context["proxy"] = settings
    if context:  # used when the context is made, by its first page
        meta["playwright_context_kwargs"] = context
    return meta


async def run_steps(page: Any, render: Render) -> None:
    """After the page loaded: wait for `wait_for`, run the actions in order, wait `wait_ms`;
    all of it within `timeout_s` (a page that does not get there fails with the reason)."""
    await asyncio.wait_for(_steps(page, render), timeout=render.timeout_s)


async def _steps(page: Any, render: Render) -> None:
    timeout = render.timeout_s * 1000
    # In the DOM is enough: extraction reads the DOM, whatever is on screen.
    wait = {"timeout": timeout, "state": "attached"}
    if render.wait_for:
        await page.wait_for_selector(playwright_selector(render.wait_for), **wait)
    for action in render.actions:
        if action.click is not None:
            await page.click(playwright_selector(action.click), timeout=timeout)
        elif action.scroll is not None:
            await _scroll(page, action.repeat or 1, 500 if action.wait_ms is None
                          else action.wait_ms)
        elif action.wait_for is not None:
            await page.wait_for_selector(playwright_selector(action.wait_for), **wait)
        elif action.wait_ms:
            await page.wait_for_timeout(action.wait_ms)
    if render.wait_ms:
        await page.wait_for_timeout(render.wait_ms)


HEIGHT = "document.documentElement.scrollHeight"


async def _scroll(page: Any, repeat: int, wait_ms: int) -> None:
    """Scroll to the bottom `repeat` times, each time waiting up to `wait_ms` for the page to
    grow; stops early once it no longer does."""
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    for _ in range(repeat):
        height = await page.evaluate(HEIGHT)
        await page.evaluate(f"window.scrollTo(0, {HEIGHT})")
        try:
            await page.wait_for_function(f"h => {HEIGHT} > h", arg=height,
                                         timeout=max(wait_ms, 1))
        except PlaywrightTimeout:
            return


class RenderMiddleware:
    """Marks every page request of a rendering crawl for the browser (not robots.txt, nor a
    request with `meta["cp_render"] = False`). After the gates (710): a request's proxy
    becomes its browser context's."""

    def __init__(self, render: Render, verify_tls: bool):
        self.render = render
        self.verify_tls = verify_tls

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RenderMiddleware:
        render = crawler.settings.getdict("CRAWLPLANE_RENDER")
        if not render:
            raise NotConfigured  # (silent: the scheme does not render)
        return cls(Render.model_validate(render, strict=False),
                   crawler.settings.getbool("DOWNLOAD_VERIFY_CERTIFICATES", True))

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        if request.meta.get(RENDER, True) is False or request.meta.get("dont_obey_robotstxt"):
            return  # robots.txt is fetched by Scrapy's own handler
        for key in ("playwright_context", "playwright_context_kwargs"):  # an earlier gate's
            request.meta.pop(key, None)
        request.meta.update(render_meta(self.render, request.meta.get("proxy"),
                                        self.verify_tls))
