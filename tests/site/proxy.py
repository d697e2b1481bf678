# mypy: disable-error-code="no-untyped-call"
"""Test proxies: a forwarding HTTP proxy, one that always answers 403, one that needs auth,
and a port that refuses connections."""

from __future__ import annotations

import base64
import socket
from urllib.parse import urlsplit

from twisted.web import http
from twisted.web.proxy import Proxy, ProxyRequest

PROXY_AUTH_USER = "user"
PROXY_AUTH_PASS = "pass"


def _deny(
    request: http.Request, code: int, message: str, extra: dict[bytes, bytes] | None = None
) -> None:
    request.setResponseCode(code)
    request.setHeader(b"content-type", b"text/html; charset=utf-8")
    for k, v in (extra or {}).items():
        request.setHeader(k, v)
    request.write(
        f"<html><head><title>{code}</title></head><body><h1>{message}</h1></body></html>".encode()
    )
    request.finish()


class ForwardingRequest(ProxyRequest):
    """Forwards absolute-URI http requests to 127.0.0.1 only, marking them with
    ``X-Test-Proxy: ok`` (and ``X-Test-Proxy-Auth`` holding any Proxy-Authorization)."""

    require_auth = False

    def process(self) -> None:
        parts = urlsplit(self.uri.decode("latin-1"))
        if self.method == b"CONNECT" or parts.scheme != "http":
            return _deny(self, 501, "Only plain HTTP proxying is supported")
        if parts.hostname not in ("127.0.0.1", "localhost"):
            return _deny(self, 403, "This test proxy only forwards to 127.0.0.1")
        auth = self.getHeader(b"proxy-authorization")
        if self.require_auth:
            want = b"Basic " + base64.b64encode(f"{PROXY_AUTH_USER}:{PROXY_AUTH_PASS}".encode())
            if auth != want:
                return _deny(
                    self,
                    407,
                    "Proxy authentication required",
                    {b"proxy-authenticate": b'Basic realm="test"'},
                )
        self.requestHeaders.removeHeader(b"proxy-authorization")
        self.requestHeaders.removeHeader(b"proxy-connection")
        self.requestHeaders.setRawHeaders(b"x-test-proxy", [b"ok"])
        if auth is not None:
            self.requestHeaders.setRawHeaders(b"x-test-proxy-auth", [auth])
        super().process()


class AuthForwardingRequest(ForwardingRequest):
    require_auth = True


class ForbiddenRequest(http.Request):
    def process(self) -> None:
        _deny(self, 403, "Forbidden by proxy")


def _factory(request_class: type[http.Request]) -> http.HTTPFactory:
    class Channel(Proxy):
        requestFactory = request_class  # type: ignore[assignment]

    factory = http.HTTPFactory()
    factory.protocol = Channel  # type: ignore[assignment]
    factory.noisy = False
    return factory


def forwarding_factory() -> http.HTTPFactory:
    return _factory(ForwardingRequest)


def auth_forwarding_factory() -> http.HTTPFactory:
    return _factory(AuthForwardingRequest)


def forbidden_factory() -> http.HTTPFactory:
    return _factory(ForbiddenRequest)


def refused_port() -> int:
    """A loopback port that was bound then closed, so connecting to it is refused."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port: int = s.getsockname()[1]
    s.close()
    return port
