"""The filtering proxy in front of the browser (engine/render_proxy.py), in-process on the
reactor (pytest-twisted), spoken to over real sockets as Chromium speaks to it, in front of the
real test site and its proxies: plain requests forwarded, CONNECT tunnelled, to the checked
address only; forbidden targets answered 403 without a connection; gates chained behind it
with their credentials (in TLS to an https gate). Chromium through it is
tests/api/test_render.py."""

from __future__ import annotations

import base64
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
import pytest_twisted
from scrapy.core.downloader.contextfactory import _load_context_factory_from_settings
from scrapy.utils.test import get_crawler
from twisted.internet import reactor, threads

from engine.outbound import resolve
from engine.render_proxy import VERDICT, FilterProxy, Upstream
from tests.site import tls
from tests.site.fixture import TestSite

pytestmark = pytest.mark.timeout(60)

FAKE_DNS = {"rebind.test": ["127.0.0.1"], "mixed.test": ["127.0.0.1", "169.254.169.254"]}


def fake_dns(host: str, port: int | None) -> list[str]:
    """Names the machine's DNS does not know: reaching the site through one shows the proxy
    connected to the address it checked, not to a second answer."""
    return FAKE_DNS.get(host) or resolve(host, port)


class Filters:
    def __init__(self, allow_private: bool):
        self.refusals = 0
        self.proxy = FilterProxy(allow_private, self.refused, resolver=fake_dns)

    def refused(self) -> None:
        self.refusals += 1

    def port(self, upstream: Upstream | None = None) -> int:
        port = urlsplit(self.proxy.server(upstream)).port
        assert port is not None
        return port


@pytest_twisted.async_yield_fixture
async def filters() -> AsyncIterator[Callable[[bool], Filters]]:
    made: list[Filters] = []

    def make(allow_private: bool) -> Filters:
        made.append(Filters(allow_private))
        return made[-1]

    yield make
    for f in made:
        await f.proxy.close()


def _exchange(port: int, head: str, then: str = "") -> tuple[bytes, bytes]:
    """Sends `head` to the proxy and reads its answer's head; for a tunnel, then sends `then`
    through it and reads until the far end closes. Blocking: run in a thread."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        s.sendall(head.encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        answer, _, rest = data.partition(b"\r\n\r\n")
        if then and answer.startswith(b"HTTP/1.1 200"):
            s.sendall(then.encode())
        while chunk := s.recv(65536):
            rest += chunk
    return answer, rest


async def exchange(port: int, head: str, then: str = "") -> tuple[bytes, bytes]:
    result: tuple[bytes, bytes] = await threads.deferToThread(_exchange, port, head, then)
    return result


def get(url: str, **headers: str) -> str:
    lines = [f"GET {url} HTTP/1.1", f"Host: {urlsplit(url).netloc}", "Connection: close",
             *(f"{k}: {v}" for k, v in headers.items())]
    return "\r\n".join(lines) + "\r\n\r\n"


def connect(authority: str) -> str:
    return f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n"


def status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def header(answer: bytes, name: bytes) -> bytes | None:
    for line in answer.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip()
    return None


def seen(site: TestSite, marker: str) -> list[dict[str, Any]]:
    return [e for e in site.log("/links/") if marker in e["path"]]


@pytest_twisted.ensureDeferred
async def test_plain_requests_are_forwarded_and_forbidden_targets_refused(
        filters: Callable[[bool], Filters], site: TestSite) -> None:
    f = filters(True)
    port = site.url.rsplit(":", 1)[1]
    answer, body = await exchange(f.port(), get(site.abs("/links/3/?m=plain")))
    assert status(answer) == 200 and b"value-3" in body, answer
    assert header(answer, VERDICT) is None
    assert [e["via_proxy"] for e in seen(site, "m=plain")] == [False]

    for url in (f"http://metadata.google.internal:{port}/links/3/?m=meta",
                f"http://mixed.test:{port}/links/3/?m=mixed",  # every address is checked
                "http://169.254.169.254/latest/meta-data/"):
        answer, body = await exchange(f.port(), get(url))
        assert (status(answer), header(answer, VERDICT)) == (403, b"refused"), (url, answer)
    assert f.refusals == 3
    assert b"169.254.169.254 is a cloud metadata address" in body
    assert seen(site, "m=meta") == [] and seen(site, "m=mixed") == []

    strict = filters(False)  # loopback too, unless private targets are allowed
    answer, body = await exchange(strict.port(), get(site.abs("/links/3/?m=strict")))
    assert status(answer) == 403 and b"loopback" in body, answer
    assert seen(site, "m=strict") == []


@pytest_twisted.ensureDeferred
async def test_connect_tunnels_to_the_checked_address_only(
        filters: Callable[[bool], Filters], site: TestSite) -> None:
    f = filters(True)
    port = site.url.rsplit(":", 1)[1]
    inner = f"GET /links/5/?m=tunnel HTTP/1.1\r\nHost: rebind.test:{port}\r\n" \
            "Connection: close\r\n\r\n"
    answer, rest = await exchange(f.port(), connect(f"rebind.test:{port}"), then=inner)
    assert answer == b"HTTP/1.1 200 Connection established", answer
    assert rest.startswith(b"HTTP/1.1 200") and b"value-5" in rest, rest[:200]
    assert len(seen(site, "m=tunnel")) == 1

    for target in (f"metadata.google.internal:{port}", f"mixed.test:{port}",
                   "[::ffff:169.254.169.254]:443"):
        answer, _ = await exchange(f.port(), connect(target), then=inner)
        assert (status(answer), header(answer, VERDICT)) == (403, b"refused"), (target, answer)
    assert f.refusals == 3


@pytest_twisted.ensureDeferred
async def test_targets_that_fail_are_answered_502_with_the_reason(
        filters: Callable[[bool], Filters], site: TestSite) -> None:
    f = filters(True)
    closed = site.proxies["proxy_refused"].rsplit(":", 1)[1]  # a port nobody listens on
    for request, verdict in ((get("http://does-not-resolve.invalid/"), b"dns"),
                             (get(f"http://127.0.0.1:{closed}/"), b"connection"),
                             (connect(f"127.0.0.1:{closed}"), b"connection"),
                             ("GET /relative HTTP/1.1\r\nConnection: close\r\n\r\n",
                              b"bad-request")):
        answer, _ = await exchange(f.port(), request)
        assert header(answer, VERDICT) == verdict, (request, answer)
        assert status(answer) == (400 if verdict == b"bad-request" else 502)
    assert f.refusals == 0


@pytest_twisted.ensureDeferred
async def test_a_gate_behind_the_filter_gets_its_credentials(
        filters: Callable[[bool], Filters], site: TestSite) -> None:
    f = filters(True)
    gate = urlsplit(site.proxies["proxy_auth"])
    upstream = Upstream.from_playwright({"server": f"http://{gate.hostname}:{gate.port}",
                                         "username": gate.username, "password": gate.password})
    answer, _ = await exchange(f.port(upstream), get(site.abs("/links/3/?m=gate")))
    assert status(answer) == 200, answer
    entries = seen(site, "m=gate")
    auth = b"Basic " + base64.b64encode(b"user:pass")
    assert [(e["via_proxy"], e["headers"]["x-test-proxy-auth"]) for e in entries] == [
        (True, [auth.decode()])], entries
    # Refused before the gate is asked: the test gate would forward to 127.0.0.1 anyway.
    port = site.url.rsplit(":", 1)[1]
    answer, _ = await exchange(f.port(upstream), get(f"http://mixed.test:{port}/?m=gate2"))
    assert status(answer) == 403, answer

    # A CONNECT goes to the gate as a CONNECT, which answers the browser itself: here another
    # filter (the test gates speak plain HTTP only).
    chained = Upstream.from_playwright({"server": f.proxy.server()})
    inner = "GET /links/7/?m=chain HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    answer, rest = await exchange(f.port(chained), connect(f"127.0.0.1:{port}"), then=inner)
    assert answer == b"HTTP/1.1 200 Connection established" and b"value-7" in rest, answer
    assert len(seen(site, "m=chain")) == 1
    assert len(f.proxy.ports) == 3  # direct, the auth gate, the chained one: one port each


def scrapy_tls(verify: bool) -> Any:
    """The crawl's TLS policy, as its download handler makes it (the task's verify_tls)."""
    crawler = get_crawler(settings_dict={"DOWNLOAD_VERIFY_CERTIFICATES": verify})
    return _load_context_factory_from_settings(crawler)


@pytest_twisted.ensureDeferred
async def test_an_https_gate_is_spoken_to_in_tls_as_the_crawl_verifies(
        filters: Callable[[bool], Filters], site: TestSite) -> None:
    """An https:// gate (here a filter behind the test site's self-signed TLS): TLS to the
    gate with the crawl's policy, Scrapy's, which verifies only when the task asks."""
    gate = filters(True)
    listening: Any = reactor.listenSSL(0, gate.proxy.factory(None), tls.server_options(),
                                       interface="127.0.0.1")
    try:
        upstream = Upstream.from_playwright(
            {"server": f"https://127.0.0.1:{listening.getHost().port}"})
        lenient = filters(True)
        lenient.proxy.tls_policy = scrapy_tls(verify=False)
        answer, body = await exchange(lenient.port(upstream), get(site.abs("/links/3/?m=tlsgate")))
        assert status(answer) == 200 and b"value-3" in body, answer
        port = site.url.rsplit(":", 1)[1]
        inner = "GET /links/5/?m=tlstunnel HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        answer, rest = await exchange(lenient.port(upstream), connect(f"127.0.0.1:{port}"),
                                      then=inner)
        assert answer == b"HTTP/1.1 200 Connection established" and b"value-5" in rest, answer

        strict = filters(True)  # verify_tls: true refuses the self-signed gate
        strict.proxy.tls_policy = scrapy_tls(verify=True)
        answer, _ = await exchange(strict.port(upstream), get(site.abs("/links/3/?m=tlsstrict")))
        assert (status(answer), header(answer, VERDICT)) == (502, b"connection"), answer
        assert len(seen(site, "m=tlsgate")) == 1 and seen(site, "m=tlsstrict") == []
    finally:
        await listening.stopListening()
