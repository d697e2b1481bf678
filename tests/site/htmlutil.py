# mypy: disable-error-code="no-untyped-call"
"""Small helpers shared by the site's resources."""

from __future__ import annotations

from html import escape
from typing import Any

from twisted.web.resource import Resource
from twisted.web.server import Request


def page(title: str, body: str) -> bytes:
    """A complete UTF-8 HTML document."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    ).encode()


def send_html(request: Request, title: str, body: str, code: int = 200) -> bytes:
    request.setResponseCode(code)
    request.setHeader(b"content-type", b"text/html; charset=utf-8")
    return page(title, body)


def redirect(request: Request, location: str, code: int = 302) -> bytes:
    request.setResponseCode(code)
    request.setHeader(b"location", location.encode())
    request.setHeader(b"content-type", b"text/html; charset=utf-8")
    return page("Redirect", f'<p>Redirecting to <a href="{escape(location)}">here</a></p>')


def not_found(request: Request) -> bytes:
    return send_html(request, "Not Found", "<h1>404 Not Found</h1>", 404)


def segments(request: Request) -> list[str]:
    """Remaining path segments of a leaf resource, without empty ones."""
    return [s.decode("utf-8", "replace") for s in request.postpath or [] if s]


def arg(request: Request, name: str, default: str | None = None) -> str | None:
    values = (request.args or {}).get(name.encode())
    return values[0].decode("utf-8", "replace") if values else default


def int_arg(request: Request, name: str, default: int) -> int:
    try:
        return int(arg(request, name) or default)
    except ValueError:
        return default


class Leaf(Resource):
    """A resource that handles every path below it itself."""

    isLeaf = True

    def render_GET(self, request: Request) -> Any:  # pragma: no cover - overridden
        return not_found(request)
