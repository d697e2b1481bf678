"""The web console at `/` and the API reference at `/docs`, served by the server itself.

Pages are server-rendered templates (Jinja2) holding no data: the data comes from the API,
fetched by one small script of our own (static/console.js) with the API key the person typed
on the login page (kept in sessionStorage, sent as `X-API-KEY`). So the pages and their
assets need no key, the data calls need one, and tenant rules are the API's own. No CDN, no
Node build: `/docs` serves Swagger UI's files from the `swagger-ui-py` package.

Every page is sent with a Content-Security-Policy that allows no inline script.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from klein import Klein
from twisted.web.iweb import IRequest

from control_api.web import openapi
from control_api.web.context import ApiContext
from control_api.web.errors import NotFound
from control_api.web.problems import map_problems

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
       "form-action 'self'")
# Swagger UI sets style attributes from its script: inline styles allowed there, no script.
DOCS_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
STATIC_CACHE = b"public, max-age=3600"
SWAGGER_FILES = ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js",
                 "favicon-32x32.png")
PAGES = {"tasks", "login", "task", "new", "schedules", "jobs"}
CONTENT_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
                 ".png": "image/png", ".svg": "image/svg+xml", ".map": "application/json"}


def static_dir() -> Path:
    return Path(str(resources.files(__package__))) / "static"


def swagger_dir() -> Path:
    import swagger_ui

    return Path(swagger_ui.__file__).parent / "static"


class ConsoleApp:
    app = Klein()

    def __init__(self, ctx: ApiContext, warm_preview: Callable[[], object] | None = None):
        self.ctx = ctx
        # Called when the editor page is served: a preview is likely soon, and the preview
        # process's start (Scrapy's import, seconds on a busy machine) is paid meanwhile.
        self.warm_preview = warm_preview
        self.templates = Environment(loader=PackageLoader(__package__, "templates"),
                                     autoescape=select_autoescape(["html"]))

    def page(self, request: IRequest, name: str, csp: str = CSP, **context: Any) -> bytes:
        request.setHeader(b"Content-Type", b"text/html; charset=utf-8")
        request.setHeader(b"Content-Security-Policy", csp.encode())
        request.setHeader(b"X-Content-Type-Options", b"nosniff")
        request.setHeader(b"Referrer-Policy", b"no-referrer")
        request.setHeader(b"Cache-Control", b"no-cache")
        return self.templates.get_template(f"{name}.html").render(page=name, **context).encode()

    @app.route("/", methods=["GET"])
    def tasks(self, request: IRequest) -> bytes:
        return self.page(request, "tasks", title="Tasks")

    @app.route("/console/login", methods=["GET"])
    def login(self, request: IRequest) -> bytes:
        return self.page(request, "login", title="Log in")

    @app.route("/console/new", methods=["GET"])
    def new(self, request: IRequest) -> bytes:
        if self.warm_preview is not None:
            self.warm_preview()
        return self.page(request, "new", title="New task")

    @app.route("/console/tasks/<task_id>", methods=["GET"])
    def task(self, request: IRequest, task_id: str) -> bytes:
        return self.page(request, "task", title=f"Task {task_id}", task_id=task_id)

    @app.route("/console/schedules", methods=["GET"])
    def schedules(self, request: IRequest) -> bytes:
        return self.page(request, "schedules", title="Schedules")

    @app.route("/console/jobs", methods=["GET"])
    def jobs(self, request: IRequest) -> bytes:
        return self.page(request, "jobs", title="Jobs (/api/v2)")

    @app.route("/console/static/<name>", methods=["GET"])
    def static(self, request: IRequest, name: str) -> bytes:
        return self._file(request, static_dir(), name, set(_listing(static_dir())))

    @app.route("/docs", methods=["GET"])
    def docs(self, request: IRequest) -> bytes:
        return self.page(request, "docs", csp=DOCS_CSP, title="API reference")

    @app.route("/docs/plain", methods=["GET"])
    def docs_plain(self, request: IRequest) -> bytes:
        """The same document as a table, without any script."""
        request.setHeader(b"Content-Type", b"text/html; charset=utf-8")
        request.setHeader(b"Content-Security-Policy", CSP.replace(
            "style-src 'self'", "style-src 'unsafe-inline'").encode())
        return openapi.docs_html(openapi.spec(self.ctx.base_url(request))).encode()

    @app.route("/docs/static/<name>", methods=["GET"])
    def docs_static(self, request: IRequest, name: str) -> bytes:
        return self._file(request, swagger_dir(), name, set(SWAGGER_FILES))

    @staticmethod
    def _file(request: IRequest, folder: Path, name: str, allowed: set[str]) -> bytes:
        if name not in allowed:  # a fixed list: no path ever leaves the folder
            raise NotFound(f"no such file: {name}")
        suffix = Path(name).suffix
        ctype = CONTENT_TYPES.get(suffix) or mimetypes.guess_type(name)[0]
        request.setHeader(b"Content-Type", (ctype or "application/octet-stream").encode())
        request.setHeader(b"Cache-Control", STATIC_CACHE)
        request.setHeader(b"X-Content-Type-Options", b"nosniff")
        return (folder / name).read_bytes()


def _listing(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.is_file()]


map_problems(ConsoleApp.app)
