"""The site's root: each request goes, with its whole path, to the Klein app owning its prefix.

It is also the one gate every request passes, so the URL checks that hold for every endpoint
live here: the path and query must be UTF-8 (Klein would answer a plain-text 400 for the
path, and a handler would fail on a query value), must hold no NUL (PostgreSQL text cannot;
SQLite would just match nothing), and the path no empty segment. All answer problem+json,
as the apps do.
"""

from __future__ import annotations

from twisted.web.iweb import IRequest
from twisted.web.resource import IResource, Resource

from control_api.web.errors import ApiError, BadRequest, NotFound
from control_api.web.http import send_json


class PrefixRouter(Resource):
    def __init__(self, default: IResource, routes: dict[tuple[bytes, ...], IResource]):
        super().__init__()
        self.default = default
        self.routes = routes

    def getChildWithDefault(self, path: bytes, request: IRequest) -> IResource:  # noqa: N802
        request.postpath.insert(0, request.prepath.pop())  # the app sees the whole path
        error = url_error(request)
        if error is not None:
            return Problem(error)
        for prefix, resource in self.routes.items():
            if tuple(request.postpath[: len(prefix)]) == prefix:
                return resource
        return self.default


def url_error(request: IRequest) -> ApiError | None:
    """What is wrong with the request's (percent-decoded) path and query, or its Host (Klein
    decodes it too), if anything."""
    if not _utf8(request.getRequestHostname()):
        return BadRequest("the Host header is not valid UTF-8")
    if b"" in request.postpath[:-1]:
        # `//` names nothing: Klein would drop a leading empty segment (`//v1/tasks` served
        # as `/v1/tasks`) and werkzeug would redirect an inner one with no Location.
        return NotFound(f"no such resource: {request.path.decode('ascii', 'replace')}")
    for segment in request.postpath:
        if not _utf8(segment):
            return BadRequest("the path is not valid UTF-8 once percent-decoded")
        if b"\0" in segment:
            # No id, name or route holds a NUL: it names nothing.
            return NotFound(f"no such resource: {request.path.decode('ascii', 'replace')}")
    for name, values in request.args.items():
        for text in (name, *values):
            if not _utf8(text):
                return BadRequest("the query string is not valid UTF-8 once percent-decoded")
            if b"\0" in text:
                return BadRequest("the query string holds a NUL character (%00)")
    return None


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class Problem(Resource):
    """A leaf answering one problem+json, whatever the method."""

    isLeaf = True

    def __init__(self, error: ApiError):
        super().__init__()
        self.error = error

    def render(self, request: IRequest) -> bytes:
        return send_json(request, self.error.problem(), self.error.status,
                         "application/problem+json")
