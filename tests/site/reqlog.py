# mypy: disable-error-code="no-untyped-call"
"""The request log: every request to the site (except /__log__) is recorded."""

from __future__ import annotations

import json
import time
from typing import Any, cast

from twisted.web import http
from twisted.web.resource import Resource
from twisted.web.server import Request, Site

PROXY_MARK = b"x-test-proxy"


class LoggingSite(Site):
    def __init__(self, resource: Resource) -> None:
        super().__init__(resource, requestFactory=LoggingRequest)
        self.request_log: list[dict[str, Any]] = []
        self.noisy = False

    def log(self, request: http.Request) -> None:  # no access log
        pass


class LoggingRequest(Request):
    def process(self) -> None:
        site: Any = cast(Any, self.channel).site
        path = self.uri.decode("utf-8", "replace")
        if not (path == "/__log__" or path.startswith(("/__log__/", "/__log__?"))):
            headers: dict[str, list[str]] = {}
            for name, values in self.requestHeaders.getAllRawHeaders():
                headers.setdefault(name.decode().lower(), []).extend(
                    v.decode("latin-1") for v in values
                )
            site.request_log.append(
                {
                    "method": self.method.decode(),
                    "path": path,
                    "headers": headers,
                    "time": time.time(),
                    "via_proxy": self.getHeader(PROXY_MARK) == b"ok",
                }
            )
        super().process()


class LogResource(Resource):
    """GET /__log__[?path_prefix=...] lists entries; POST /__log__/clear clears them."""

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()

    def _log(self, request: Request) -> list[dict[str, Any]]:
        log: list[dict[str, Any]] = cast(Any, request.channel).site.request_log
        return log

    def render_GET(self, request: Request) -> bytes:
        prefix = (request.args or {}).get(b"path_prefix", [b""])[0].decode()
        entries = [e for e in self._log(request) if e["path"].startswith(prefix)]
        request.setHeader(b"content-type", b"application/json")
        return json.dumps(entries).encode()

    def render_POST(self, request: Request) -> bytes:
        request.setHeader(b"content-type", b"application/json")
        if [s for s in request.postpath or [] if s] == [b"clear"]:
            self._log(request).clear()
            return b'{"cleared": true}'
        request.setResponseCode(404)
        return b'{"error": "not found"}'
