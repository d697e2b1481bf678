"""The outbound rules in front of the browser: a filtering forward proxy in the crawl process.

Chromium follows redirects, loads a page's sub-resources and opens its WebSockets by itself;
Playwright's route handler (engine/browser.py) sees the requests a page makes, but not the
redirect hops Chromium follows. So every connection the browser of a guarded crawl makes goes
through here (its proxy, loopback included): plain http requests (absolute URIs) are forwarded,
CONNECT (https, wss) is tunnelled, each only once its target passed the outbound rules
(engine/outbound.py): the name resolved once, in a thread, every address checked, and the
connection made to the checked address, so that another DNS answer (a rebinding) cannot send
it elsewhere. A refused target gets 403, one that fails 502; both say why in `X-Crawlplane-Proxy`
(`refused`, `dns`, `connection`), which the handler turns into the matching Scrapy error.

A scheme's gate stays the browser context's proxy, behind this one: one listening port per
gate, made on first use, forwards there with the gate's Proxy-Authorization instead of
connecting to the target itself (the target is checked all the same, as the guard checks a
Scrapy request that goes through a gate).

Twisted's own parts: its Agent forwards plain requests (one connection to the target per
request), twisted.protocols.portforward splices tunnels (engine/render_relay.py).
"""

# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO
from typing import Any
from urllib.parse import unquote, urlsplit

from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import defer, threads
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP6ClientEndpoint, wrapClientTLS
from twisted.internet.interfaces import IListeningPort
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure
from twisted.web import http
from twisted.web.client import (
    Agent,
    BrowserLikePolicyForHTTPS,
    FileBodyProducer,
    ProxyAgent,
)
from twisted.web.http_headers import Headers
from twisted.web.iweb import IPolicyForHTTPS, IResponse

from engine.outbound import Refused, Resolve, Unresolved, checked_address, resolve
from engine.render_relay import Body, To, TunnelFactory

logger = logging.getLogger(__name__)
VERDICT = b"x-crawlplane-proxy"  # why the proxy answered itself: refused, dns, connection
# Headers of one connection, not of the request or response (RFC 9110, 7.6.1).
HOP_BY_HOP = frozenset({b"connection", b"keep-alive", b"proxy-connection", b"proxy-authorization",
                        b"proxy-authenticate", b"te", b"trailer", b"transfer-encoding",
                        b"upgrade", b"content-length", b"host", VERDICT})
LOOPBACK_TOO = "<-loopback>"  # Chromium would go direct to loopback targets otherwise


@dataclass(frozen=True)
class Upstream:
    """A gate the browser's requests go on to, with its credentials."""

    host: str
    port: int
    authorization: bytes | None = None  # Proxy-Authorization
    tls: bool = False  # an https:// gate: TLS to the gate itself

    @classmethod
    def from_playwright(cls, proxy: dict[str, Any]) -> Upstream:
        """From a browser context's `proxy` option ({server, username, password})."""
        parts = urlsplit(proxy["server"])
        if parts.hostname is None:
            raise ValueError(f"a proxy server without a host: {proxy['server']!r}")
        auth = None
        if proxy.get("username") is not None:
            pair = f"{unquote(proxy['username'])}:{unquote(proxy.get('password') or '')}"
            auth = b"Basic " + base64.b64encode(pair.encode())
        tls = parts.scheme == "https"
        return cls(parts.hostname, parts.port or (443 if tls else 80), auth, tls)


class FilterProxy:
    """The listening ports (one direct, one per gate) and the checked addresses of a crawl."""

    def __init__(self, allow_private: bool, on_refused: Callable[[], None],
                 resolver: Resolve = resolve, tls_policy: IPolicyForHTTPS | None = None):
        self.allow_private = allow_private
        self.on_refused = on_refused
        self.resolver = resolver
        # For https gates: the crawl's own (Scrapy's, which follows the task's verify_tls).
        self.tls_policy = tls_policy or BrowserLikePolicyForHTTPS()
        self.ports: dict[Upstream | None, IListeningPort] = {}
        self.verdicts: dict[str, str | Refused] = {}  # host -> its checked address, or why not

    def server(self, upstream: Upstream | None = None) -> str:
        """The proxy URL for the browser that goes to `upstream` (directly when None)."""
        if upstream not in self.ports:
            from twisted.internet import reactor

            self.ports[upstream] = reactor.listenTCP(0, self.factory(upstream),
                                                     interface="127.0.0.1")
        address: Any = self.ports[upstream].getHost()
        return f"http://127.0.0.1:{address.port}"

    def factory(self, upstream: Upstream | None) -> Any:
        """The proxy's protocol factory (`server` listens with it)."""
        return _Factory(self, upstream)

    def browser_proxy(self, upstream: Upstream | None = None) -> dict[str, str]:
        """A Playwright `proxy` option (launch or context) that sends everything here."""
        return {"server": self.server(upstream), "bypass": LOOPBACK_TOO}

    async def close(self) -> None:
        ports, self.ports = list(self.ports.values()), {}
        # Awaited on the asyncio loop in a crawl, on the reactor in a test: Scrapy's bridge.
        await maybe_deferred_to_future(
            defer.gatherResults([defer.maybeDeferred(p.stopListening) for p in ports]))
        logger.info("rendering: the browser's filtering proxy closed (%d ports)", len(ports))

    def vet(self, host: str, port: int) -> defer.Deferred[str]:
        """The address to connect to for host:port; fails with Refused or Unresolved."""
        name = host.lower().rstrip(".")
        known = self.verdicts.get(name)
        if isinstance(known, Refused):
            return defer.fail(known)
        if known is not None:
            return defer.succeed(known)
        d: defer.Deferred[str] = threads.deferToThread(checked_address, name, port,
                                                       self.allow_private, self.resolver)

        def remember(result: str | Failure) -> str | Failure:
            if isinstance(result, str):
                self.verdicts[name] = result
            elif isinstance(result.value, Refused):
                self.verdicts[name] = result.value
            return result  # an unresolved name is asked again next time

        d.addBoth(remember)
        return d


class _Factory(http.HTTPFactory):
    def __init__(self, proxy: FilterProxy, upstream: Upstream | None):
        super().__init__()
        # plain HTTP/1.1 (Chromium speaks nothing else to a proxy), not the HTTP/2 wrapper
        self.protocol = _Channel  # type: ignore[method-assign,assignment]
        self.filter = proxy
        self.upstream = upstream
        self.noisy = False

    def log(self, request: Any) -> None:
        """No access log: the crawl records its own pages."""


class FilterRequest(http.Request):
    """One request of the browser to the proxy: checked, then forwarded or tunnelled."""

    def process(self) -> None:
        factory: _Factory = self.channel.factory
        try:
            host, port = _target(self.method, self.uri)
        except ValueError as exc:
            return self.answer(400, b"bad-request", str(exc))
        d = factory.filter.vet(host, port)
        d.addCallback(self._forward, factory, port)
        d.addErrback(self._failed, factory.filter, host, port)

    def _forward(self, address: str, factory: _Factory, port: int) -> None:
        if self._disconnected:
            return
        from twisted.internet import reactor

        upstream = factory.upstream
        host, port = (upstream.host, upstream.port) if upstream else (address, port)
        endpoint_type = TCP6ClientEndpoint if ":" in host else TCP4ClientEndpoint
        endpoint: Any = endpoint_type(reactor, host, port, timeout=30)
        if upstream is not None and upstream.tls:
            creator = factory.filter.tls_policy.creatorForNetloc(host.encode("idna"), port)
            endpoint = wrapClientTLS(creator, endpoint)
        if self.method == b"CONNECT":
            preamble = b""
            if upstream is not None:  # the gate answers the browser's CONNECT itself
                preamble = b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n" % (self.uri, self.uri)
                if upstream.authorization:
                    preamble += b"Proxy-Authorization: " + upstream.authorization + b"\r\n"
                preamble += b"\r\n"
            endpoint.connect(TunnelFactory(self, preamble, upstream is None)).addErrback(
                self._unreachable)
            return
        headers = Headers({k: v for k, v in self.requestHeaders.getAllRawHeaders()
                           if k.lower() not in HOP_BY_HOP})
        agent: Any
        if upstream is None:
            agent = Agent.usingEndpointFactory(reactor, To(endpoint))
        else:  # a proxy takes the absolute URI, and the gate's credentials
            agent = ProxyAgent(endpoint, reactor)
            if upstream.authorization:
                headers.setRawHeaders(b"proxy-authorization", [upstream.authorization])
        content: Any = self.content
        content.seek(0, 0)
        body = content.read()
        d = agent.request(self.method, self.uri, headers,
                          FileBodyProducer(BytesIO(body)) if body else None)
        d.addCallbacks(self._relay, self._unreachable)
        d.addErrback(self._broken)

    def _unreachable(self, failure: Failure) -> None:
        self.answer(502, b"connection", failure.getErrorMessage())

    def _broken(self, failure: Failure) -> None:
        logger.error("rendering proxy: relaying %s failed: %s", self.uri.decode(errors="replace"),
                     failure.getTraceback())
        if not self._disconnected:
            browser: Any = self.channel.transport
            browser.abortConnection()

    def _relay(self, response: IResponse) -> None:
        """The target's answer, as it comes, to the browser."""
        if self._disconnected:
            response.deliverBody(Protocol())  # and dropped
            return
        self.setResponseCode(response.code, response.phrase)
        for name, values in response.headers.getAllRawHeaders():
            if name.lower() not in HOP_BY_HOP or name.lower() == b"content-length":
                self.responseHeaders.setRawHeaders(name, values)
        response.deliverBody(Body(self))

    def _failed(self, failure: Failure, proxy: FilterProxy, host: str, port: int) -> None:
        if failure.check(Refused):
            logger.warning("rendering: refused %s %s:%s: %s", self.method.decode(), host, port,
                           failure.value)
            proxy.on_refused()
            self.answer(403, b"refused", str(failure.value))
        elif failure.check(Unresolved):
            self.answer(502, b"dns", str(failure.value))
        else:
            logger.error("rendering proxy: %s %s:%s failed: %s", self.method.decode(), host,
                         port, failure.getTraceback())
            self.answer(502, b"connection", failure.getErrorMessage())

    def answer(self, code: int, verdict: bytes, message: str) -> None:
        """The proxy's own answer, saying why."""
        if self._disconnected or self.finished:
            return
        self.setResponseCode(code)
        self.setHeader(b"content-type", b"text/plain; charset=utf-8")
        self.setHeader(VERDICT, verdict)
        if self.method == b"CONNECT":  # no tunnel: nothing more on this connection
            self.setHeader(b"connection", b"close")
            self.channel.persistent = False
        self.write(message.encode() + b"\n")
        self.finish()

def _target(method: bytes, uri: bytes) -> tuple[str, int]:
    """The host and port a proxy request is for; ValueError if it names none."""
    text = uri.decode("ascii", "replace")
    if method == b"CONNECT":
        parts = urlsplit("//" + text)
        if parts.hostname is None or parts.port is None:
            raise ValueError(f"CONNECT needs host:port, not {text!r}")
        return parts.hostname, parts.port
    parts = urlsplit(text)
    if parts.scheme != "http" or parts.hostname is None:
        raise ValueError(f"a proxy request needs an absolute http URI, not {text!r}")
    return parts.hostname, parts.port or 80


class _Channel(http.HTTPChannel):
    requestFactory = FilterRequest
