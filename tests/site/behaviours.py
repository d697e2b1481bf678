# mypy: disable-error-code="no-untyped-call"
"""Behaviour endpoints: redirects, statuses, slow, flaky, cookies, headers, big, etag,
links, images and binaries."""

from __future__ import annotations

import struct
import zlib
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from html import escape
from typing import Any

from twisted.internet import reactor as _reactor
from twisted.python.failure import Failure
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from .htmlutil import Leaf, arg, int_arg, not_found, redirect, segments, send_html

reactor: Any = _reactor  # zope interfaces confuse mypy without its plugin


def make_png(width: int = 4, height: int = 4, rgb: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A valid RGB PNG filled with one colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


PNG = make_png()
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    + bytes(range(256))
)


class Binary(Resource):
    isLeaf = True

    def __init__(self, data: bytes, content_type: bytes) -> None:
        super().__init__()
        self.data, self.content_type = data, content_type

    def render_GET(self, request: Request) -> bytes:
        request.setHeader(b"content-type", self.content_type)
        return self.data


class Images(Leaf):
    """/img/<id>.png: a PNG whose colour depends on the id."""

    def render_GET(self, request: Request) -> bytes:
        segs = segments(request)
        if len(segs) != 1 or not segs[0].endswith(".png") or not segs[0][:-4].isdigit():
            return not_found(request)
        i = int(segs[0][:-4])
        request.setHeader(b"content-type", b"image/png")
        return make_png(rgb=(i * 37 % 256, i * 91 % 256, i * 53 % 256))


class Redirects(Leaf):
    """/redirect/<n>/ -> ... -> /redirect/1/ -> /redirect/done/."""

    def render_GET(self, request: Request) -> bytes:
        segs = segments(request)
        if segs == ["done"] or segs == ["0"]:
            return send_html(
                request, "Redirect done", '<h1>Redirect done</h1><p class="value">done</p>'
            )
        if len(segs) == 1 and segs[0].isdigit():
            n = int(segs[0])
            return redirect(request, "/redirect/done/" if n <= 1 else f"/redirect/{n - 1}/")
        return not_found(request)


class RedirectLoop(Leaf):
    def render_GET(self, request: Request) -> bytes:
        return redirect(request, "/redirect-loop/")


class Status(Leaf):
    def render_GET(self, request: Request) -> bytes:
        segs = segments(request)
        if len(segs) != 1 or not segs[0].isdigit() or not 200 <= int(segs[0]) <= 599:
            return not_found(request)
        code = int(segs[0])
        if code in (204, 304):
            request.setResponseCode(code)
            return b""
        return send_html(
            request, f"Status {code}", f'<h1>Status {code}</h1><p class="status">{code}</p>', code
        )


class Slow(Leaf):
    """/slow/?delay=<seconds>: answers after the delay without blocking the reactor;
    with body=1, sends the headers and the page's first bytes at once and the rest after it."""

    def render_GET(self, request: Request) -> Any:
        try:
            delay = float(arg(request, "delay") or 1)
        except ValueError:
            delay = 1.0
        page = send_html(request, "Slow", f'<h1>Slow</h1><p class="value">{delay}</p>')
        if arg(request, "body"):
            request.write(page[:16])
            page = page[16:]

        def answer() -> None:
            request.write(page)
            request.finish()

        call = reactor.callLater(delay, answer)

        def gone(_: Failure) -> None:  # client went away: don't answer
            if call.active():
                call.cancel()

        request.notifyFinish().addErrback(gone)
        return NOT_DONE_YET


class Flaky(Leaf):
    """/flaky/<key>/?fail=<n>: the first n requests for the key answer 500."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: dict[str, int] = {}

    def render_GET(self, request: Request) -> bytes:
        segs = segments(request)
        if len(segs) != 1:
            return not_found(request)
        key = segs[0]
        seen = self.counts.get(key, 0) + 1
        self.counts[key] = seen
        if seen <= int_arg(request, "fail", 1):
            return send_html(request, "Flaky failure", f"<h1>Failure {seen}</h1>", 500)
        return send_html(
            request,
            "Flaky success",
            f'<h1>Success</h1><p class="value">{escape(key)}</p><p class="attempt">{seen}</p>',
        )


class Cookies(Leaf):
    """/cookies/ echoes cookies; /cookies/set/?a=1&b=2 sets them (the first one HttpOnly)."""

    def render_GET(self, request: Request) -> bytes:
        segs = segments(request)
        if segs == ["set"]:
            items = []
            for i, (name, values) in enumerate((request.args or {}).items()):
                n, v = name.decode(), values[0].decode()
                request.addCookie(n, v, path="/", httpOnly=(i == 0))
                items.append(f'<li class="set-cookie" data-name="{escape(n)}">{escape(v)}</li>')
            return send_html(
                request, "Cookies set", "<h1>Cookies set</h1><ul>" + "".join(items) + "</ul>"
            )
        if segs:
            return not_found(request)
        cookies = sorted(request.received_cookies.items())
        items = [
            f'<li class="cookie" data-name="{escape(k.decode())}">{escape(v.decode())}</li>'
            for k, v in cookies
        ]
        return send_html(request, "Cookies", "<h1>Cookies</h1><ul>" + "".join(items) + "</ul>")


class Headers(Leaf):
    def render_GET(self, request: Request) -> bytes:
        items = [
            f'<li class="header" data-name="{escape(k.decode().lower())}">{escape(v.decode())}</li>'
            for k, vs in sorted(request.requestHeaders.getAllRawHeaders())
            for v in vs
        ]
        return send_html(request, "Headers", "<h1>Headers</h1><ul>" + "\n".join(items) + "</ul>")


class Big(Leaf):
    def render_GET(self, request: Request) -> bytes:
        kb = max(0, int_arg(request, "kb", 100))
        line = "<p>" + "x" * 1017 + "</p>\n"  # 1024 bytes
        return send_html(request, f"Big page {kb} KB", f"<h1>Big</h1>\n{line * kb}")


LAST_MODIFIED = datetime(2024, 1, 1, tzinfo=UTC)


class ETag(Leaf):
    """/etag/<id>/: ETag "<id>-v1", Last-Modified 2024-01-01; 304 on a conditional hit."""

    def render_GET(self, request: Request) -> bytes:
        segs = segments(request)
        if len(segs) != 1:
            return not_found(request)
        etag = f'"{segs[0]}-v1"'
        request.setHeader(b"etag", etag.encode())
        request.setHeader(b"last-modified", format_datetime(LAST_MODIFIED, usegmt=True).encode())
        inm = request.getHeader(b"if-none-match")
        ims = request.getHeader(b"if-modified-since")
        hit = False
        if inm is not None:
            tags = [t.strip().removeprefix("W/") for t in inm.decode().split(",")]
            hit = "*" in tags or etag in tags
        elif ims is not None:
            try:
                hit = parsedate_to_datetime(ims.decode()) >= LAST_MODIFIED
            except (TypeError, ValueError):
                hit = False
        if hit:
            request.setResponseCode(304)
            return b""
        return send_html(
            request, f"ETag {segs[0]}", f'<h1>ETag {escape(segs[0])}</h1><p class="value">v1</p>'
        )


class Links(Leaf):
    """/links/?n=k lists k leaves /links/<i>/ (after `delay` seconds, when given)."""

    def render_GET(self, request: Request) -> Any:
        segs = segments(request)
        if not segs:
            n = max(0, int_arg(request, "n", 10))
            items = "\n".join(
                f'<li><a class="leaf" href="/links/{i}/">Leaf {i}</a></li>' for i in range(n)
            )
            body = send_html(request, f"Links ({n})", f"<h1>Links</h1>\n<ul>\n{items}\n</ul>")
            delay = float(arg(request, "delay") or 0)
            if delay <= 0:
                return body

            def answer() -> None:
                request.write(body)
                request.finish()

            reactor.callLater(delay, answer)
            return NOT_DONE_YET
        if len(segs) == 1 and segs[0].isdigit():
            i = int(segs[0])
            return send_html(
                request, f"Leaf {i}", f'<h1>Leaf {i}</h1><p class="value">value-{i}</p>'
            )
        return not_found(request)


# Where a tenant's crawl must never go (cloud metadata, link-local), for the outbound guard.
FORBIDDEN_TARGETS = (
    "http://169.254.169.254/latest/meta-data/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://[fe80::1]/",
)


# Links a crawl must never follow: the machine's own files and other non-HTTP schemes (each
# URL distinct, so the crawl's de-duplication keeps one download task per link).
FORBIDDEN_SCHEMES = (
    "file:///etc/passwd",
    "FILE:///etc/passwd?upper",
    "file://localhost/etc/passwd",
    "file:///proc/self/environ",
    "data:text/plain,secret",
    "ftp://127.0.0.1/x",
    "s3://bucket/key",
)


class Outbound(Leaf):
    """/outbound/ links to forbidden targets, to /outbound/redirect/ (a 302 to the metadata
    address) and to one ordinary page. /outbound/schemes/ links to non-HTTP URLs (and to
    /outbound/schemes/redirect/, a 302 to file:///etc/passwd), has a detail link and a next
    page on file: URLs, and ordinary links too."""

    def render_GET(self, request: Request) -> bytes:
        segs = segments(request)
        if segs == ["redirect"]:
            return redirect(request, FORBIDDEN_TARGETS[0])
        if segs == ["schemes"]:
            return self.schemes(request)
        if segs == ["schemes", "redirect"]:
            return redirect(request, "file:///etc/passwd")
        if segs:
            return not_found(request)
        links = [*FORBIDDEN_TARGETS, "/outbound/redirect/", "/links/1/"]
        items = "\n".join(f'<li><a href="{escape(u)}">{escape(u)}</a></li>' for u in links)
        return send_html(request, "Outbound", f"<h1>Outbound</h1>\n<ul>\n{items}\n</ul>")

    def schemes(self, request: Request) -> bytes:
        links = [*FORBIDDEN_SCHEMES, "http:///etc/passwd", "/outbound/schemes/redirect/",
                 "/links/2/"]
        items = "\n".join(f'<li><a href="{escape(u)}">{escape(u)}</a></li>' for u in links)
        details = "\n".join(f'<a class="detail" href="{u}">detail</a>'
                            for u in ("file:///etc/passwd", "/links/3/"))
        return send_html(request, "Schemes", f"<h1>Schemes</h1>\n<ul>\n{items}\n</ul>\n"
                         f'{details}\n<a class="next" href="file:///etc/passwd?page=2">next</a>')
