"""The site's root: each request goes, with its whole path, to the Klein app owning its prefix."""

from __future__ import annotations

from twisted.web.iweb import IRequest
from twisted.web.resource import IResource, Resource


class PrefixRouter(Resource):
    def __init__(self, default: IResource, routes: dict[tuple[bytes, ...], IResource]):
        super().__init__()
        self.default = default
        self.routes = routes

    def getChildWithDefault(self, path: bytes, request: IRequest) -> IResource:  # noqa: N802
        request.postpath.insert(0, request.prepath.pop())  # the app sees the whole path
        for prefix, resource in self.routes.items():
            if tuple(request.postpath[: len(prefix)]) == prefix:
                return resource
        return self.default
