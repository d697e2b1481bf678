"""DownloadInfo (API.md section 4): one record per attempt at a page.

`DownloadInfoMiddleware` sits next to the downloader (after the redirect, retry, cookies and
proxy middlewares have done their part), so it sees every hop and every retry, with the headers
as they were really sent. The records accumulate in `request.meta["cp_attempts"]`, a list that
Scrapy's `Request.replace()` shares between a request and its redirects and retries.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.http.headers import Headers

ATTEMPTS = "cp_attempts"
SCHEDULED_AT = "cp_scheduled_at"
HEADERS_AT = "cp_headers_at"  # when this attempt's response headers came (wall clock)
CRAWL_DELAY = "cp_crawl_delay"  # set by the politeness middleware when it applied a delay


def iso_utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _headers(headers: Headers) -> list[dict[str, Any]]:
    return [
        {"Name": name.decode("latin-1"), "Values": [v.decode("latin-1") for v in values]}
        for name, values in headers.items()
    ]


def _request_headers(request: Request) -> list[dict[str, Any]]:
    """The headers sent, with the Host header the HTTP client adds (no default port)."""
    headers = _headers(request.headers)
    if b"Host" not in request.headers:
        parts = urlsplit(request.url)
        host = parts.netloc.rpartition("@")[2]
        default_port = {"http": ":80", "https": ":443"}.get(parts.scheme, "")
        if default_port and host.endswith(default_port):
            host = host[: -len(default_port)]
        headers.append({"Name": "Host", "Values": [host]})
    return headers


def request_cookies(request: Request) -> list[dict[str, Any]]:
    host = urlsplit(request.url).hostname or ""
    cookies = []
    for header in request.headers.getlist("Cookie"):
        for pair in header.decode("latin-1").split(";"):
            name, _, value = pair.strip().partition("=")
            if name:
                cookies.append(_cookie(name, value, host, "/", False, False, None))
    return cookies


def response_cookies(response: Response) -> list[dict[str, Any]]:
    host = urlsplit(response.url).hostname or ""
    cookies = []
    for header in response.headers.getlist("Set-Cookie"):
        parsed: SimpleCookie = SimpleCookie()
        try:
            parsed.load(header.decode("latin-1"))
        except CookieError:
            continue
        for name, morsel in parsed.items():
            cookies.append(
                _cookie(
                    name,
                    morsel.value,
                    morsel["domain"] or host,
                    morsel["path"] or "/",
                    bool(morsel["httponly"]),
                    bool(morsel["secure"]),
                    morsel["expires"] or None,
                )
            )
    return cookies


def _cookie(
    name: str, value: str, domain: str, path: str, http_only: bool, secure: bool, expires: Any
) -> dict[str, Any]:
    return {
        "Name": name,
        "Value": value,
        "Domain": domain,
        "Path": path,
        "HttpOnly": http_only,
        "Secure": secure,
        "Expires": expires,
    }


def _proxy(request: Request) -> str | None:
    """The proxy used, without credentials."""
    proxy = request.meta.get("proxy")
    if not proxy:
        return None
    parts = urlsplit(proxy)
    return f"{parts.scheme}://{parts.hostname}:{parts.port}" if parts.port else proxy


class DownloadInfoMiddleware:
    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        # Requests that got past every other middleware to the downloader. An exception from an
        # outer middleware's process_request (a robots.txt refusal) reaches process_exception
        # too, but nothing was sent: no attempt to record.
        self.sending: set[Request] = set()
        crawler.signals.connect(self.request_scheduled, signal=signals.request_scheduled)
        crawler.signals.connect(self.headers_received, signal=signals.headers_received)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DownloadInfoMiddleware:
        return cls(crawler)

    def request_scheduled(self, request: Request, spider: Spider) -> None:
        request.meta[SCHEDULED_AT] = time.time()

    def headers_received(self, request: Request, **_: Any) -> None:
        # Scrapy's download_latency runs from the send to the headers: the send time is this
        # less that, not the time the whole body came less it.
        request.meta[HEADERS_AT] = time.time()

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        request.meta.setdefault(ATTEMPTS, [])
        request.meta.setdefault(SCHEDULED_AT, time.time())
        request.meta.pop(HEADERS_AT, None)  # a retry's or redirect's copy of the last attempt's
        self.sending.add(request)

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Response:
        self.sending.discard(request)
        info = self._info(request, request.meta.get("download_latency"))
        status = response.status
        info.update(
            IsSuccess=200 <= status < 300 or status == 304,
            HttpStatusCode=status,
            ReasonPhrase=_reason(status),
            ResponseHeaders=_headers(response.headers),
            ResponseCookies=response_cookies(response),
            ResponseBytes=len(response.body),
        )
        request.meta.setdefault(ATTEMPTS, []).append(info)
        return response

    def process_exception(
        self, request: Request, exception: Exception, spider: Spider | None = None
    ) -> None:
        if request not in self.sending:
            return
        self.sending.discard(request)
        info = self._info(request, None)
        info["Error"] = f"{type(exception).__name__}: {exception}".rstrip(": ")
        request.meta.setdefault(ATTEMPTS, []).append(info)

    def _info(self, request: Request, latency: float | None) -> dict[str, Any]:
        now = time.time()
        # Scrapy measures latency up to the response headers; without it (an error), the
        # attempt lasted until now from when it left the scheduler.
        scheduled = request.meta.get(SCHEDULED_AT, now)
        if latency is not None:
            started = request.meta.get(HEADERS_AT, now) - latency
        else:
            started = scheduled
        return {
            "Method": request.method,
            "Url": request.url,
            "IsSuccess": False,
            "HttpStatusCode": None,
            "ReasonPhrase": None,
            "RequestHeaders": _request_headers(request),
            "ResponseHeaders": [],
            "RequestCookies": request_cookies(request),
            "ResponseCookies": [],
            "RequestDateUtc": iso_utc(started),
            "DownloadTimeSec": round(now - started, 6),
            "ViaProxy": _proxy(request) is not None,
            "Proxy": _proxy(request),
            "WaitTimeSec": round(max(0.0, started - scheduled), 6),
            "CrawlDelaySec": self._crawl_delay(request),
            "ResponseBytes": None,  # the body bytes as received, when a response came
            "Error": None,
        }

    def _crawl_delay(self, request: Request) -> float:
        if CRAWL_DELAY in request.meta:
            return float(request.meta[CRAWL_DELAY])
        engine = self.crawler.engine
        slots = engine.downloader.slots if engine else {}
        slot = slots.get(request.meta.get("download_slot", ""))
        return float(slot.delay) if slot else 0.0


def _reason(status: int) -> str | None:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return None
