"""Request gates: the task's proxies, then (optionally) the direct connection.

`CRAWLPLANE_GATES` lists the proxies (`{"url": ..., "connections_limit": n}`), in order;
`CRAWLPLANE_GATES_DIRECT` adds the direct connection as the last gate (used only once every
proxy failed for the request); `CRAWLPLANE_GATES_ROTATE_ON` lists the response statuses that
count as a gate failure, like a connection error or a proxy's 407 does. Off without proxies.

`GateMiddleware` sits between RetryMiddleware (550) and HttpProxyMiddleware (750): it sets
`meta["proxy"]` for HttpProxyMiddleware to apply, sees a gate's failure before retries and
redirects do (a failure moves the request to the next gate, it is not retried on the same
one), and lets retries and redirects of a working gate keep that gate. Each attempt goes
through the downloader again, so DownloadInfoMiddleware records it.

When every gate failed, the request comes back once more marked exhausted and this
middleware raises `GatesExhausted` from process_request: only an exception raised there goes
through every middleware's process_exception, so PageOutcomeMiddleware ends the page
AllRequestGatesExhausted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request, Spider
from scrapy.core.downloader.handlers.http11 import TunnelError
from scrapy.crawler import Crawler
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    NotConfigured,
)
from scrapy.http import Response
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectError, ConnectionDone, ConnectionLost

from engine.downloadermiddlewares.pages import GatesExhausted

GATE = "cp_gate"  # index of the gate the request goes through
TRIED = "cp_gates_failed"  # indexes of the gates that failed for this request
HELD = "cp_gate_held"  # the request holds one of its gate's connections
EXHAUSTED = "cp_gates_exhausted"  # every gate failed: why the last one did

# Failures of the way to the site rather than of the site: they move a request on. A whole
# download timing out (DownloadTimeoutError) is not one of them: it is usually the page.
GATE_ERRORS: tuple[type[BaseException], ...] = (
    DownloadConnectionRefusedError,
    CannotResolveHostError,
    DownloadFailedError,
    ConnectError,
    ConnectionDone,
    ConnectionLost,
    TunnelError,
)


@dataclass
class Gate:
    proxy: str | None  # None: the direct connection
    limit: int  # most requests in flight through the gate; 0: no limit
    in_flight: int = 0

    @property
    def free(self) -> bool:
        return not self.limit or self.in_flight < self.limit

    @property
    def name(self) -> str:
        if self.proxy is None:
            return "direct"
        parts = urlsplit(self.proxy)
        return f"{parts.scheme}://{parts.hostname}:{parts.port}"  # without credentials


class GateMiddleware:
    def __init__(self, gates: list[Gate], rotate_on: set[int]):
        self.gates = gates
        self.rotate_on = rotate_on
        self.waiters: list[Deferred[None]] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> GateMiddleware:
        settings = crawler.settings
        gates = [Gate(str(g["url"]), int(g.get("connections_limit", 0)))
                 for g in settings.getlist("CRAWLPLANE_GATES")]
        if not gates:
            raise NotConfigured  # (silent: no proxy gates)
        if settings.getbool("CRAWLPLANE_GATES_DIRECT"):
            gates.append(Gate(None, 0))
        return cls(gates, {int(s) for s in settings.getlist("CRAWLPLANE_GATES_ROTATE_ON")})

    async def process_request(self, request: Request, spider: Spider | None = None) -> None:
        meta = request.meta
        if EXHAUSTED in meta:
            raise GatesExhausted(f"all {len(self.gates)} request gates failed, the last with "
                                 f"{meta[EXHAUSTED]}")
        if meta.get(HELD):  # already through here (a request re-sent without a new attempt)
            return
        while (index := self._pick(meta)) is None:
            waiter: Deferred[None] = Deferred()
            self.waiters.append(waiter)
            await maybe_deferred_to_future(waiter)
        self.gates[index].in_flight += 1
        meta[GATE], meta[HELD] = index, True
        meta["proxy"] = self.gates[index].proxy  # HttpProxyMiddleware (750) applies it

    def _pick(self, meta: dict[str, Any]) -> int | None:
        """The request's gate if free: its current one, else the first untried free proxy,
        else (all proxies tried) the direct connection. None: wait for a connection."""
        if GATE in meta:
            current: int = meta[GATE]
            return current if self.gates[current].free else None
        tried = meta.get(TRIED, [])
        untried = [i for i in range(len(self.gates)) if i not in tried]
        proxies = [i for i in untried if self.gates[i].proxy is not None]
        return next((i for i in proxies or untried if self.gates[i].free), None)

    def process_response(self, request: Request, response: Response,
                         spider: Spider | None = None) -> Request | Response:
        if not self._release(request):
            return response
        # 407 (Proxy Authentication Required) is always the proxy's failure, not the page's.
        proxied = self.gates[request.meta[GATE]].proxy is not None
        if response.status in self.rotate_on or (response.status == 407 and proxied):
            return self._next_gate(request, f"HTTP {response.status}")
        return response

    def process_exception(self, request: Request, exception: Exception,
                          spider: Spider | None = None) -> Request | None:
        if self._release(request) and isinstance(exception, GATE_ERRORS):
            return self._next_gate(request, type(exception).__name__)
        return None

    def _release(self, request: Request) -> bool:
        if not request.meta.pop(HELD, False):
            return False
        self.gates[request.meta[GATE]].in_flight -= 1
        waiters, self.waiters = self.waiters, []
        for waiter in waiters:  # each one looks again for a free gate
            waiter.callback(None)
        return True

    def _next_gate(self, request: Request, why: str) -> Request:
        """A new attempt at the request through its next gate, or marked exhausted."""
        retry = request.replace(dont_filter=True)
        meta = retry.meta
        meta[TRIED] = [*meta.get(TRIED, []), meta.pop(GATE)]
        if len(meta[TRIED]) >= len(self.gates):
            meta[EXHAUSTED] = f"{why} through {self.gates[meta[TRIED][-1]].name}"
            meta["proxy"] = None
        return retry
