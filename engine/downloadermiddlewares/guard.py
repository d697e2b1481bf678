"""Outbound safety inside a crawl: the same rules as at the API (engine/outbound.py) for every
request of a stored run, so a link or a redirect cannot lead a tenant's crawl to the machine's
files (only http and https URLs with a host are requested), to a cloud metadata service or,
unless private targets are allowed, into the private network.

Every request passes through here (start URLs, links, detail pages, redirect hops, robots.txt);
a redirect to another scheme, which Scrapy's RedirectMiddleware quietly does not follow, is
refused here too, so that its page records why it has no content.

Only stored runs and previews are guarded (they come from the API); a developer's own
`scrapy crawl task -a scheme=...` reaches whatever it is pointed at, with Scrapy's download
handlers (README.md). Names are resolved with the crawl's own resolver (Scrapy's cached one),
so the check and the download agree.
"""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Response
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.error import DNSLookupError
from w3lib.url import safe_url_string

from engine.outbound import METADATA_HOSTS, address_kind, is_literal, scheme_problem

REDIRECTS = frozenset({301, 302, 303, 307, 308})


class TargetRefused(IgnoreRequest):
    """A request to a URL or an address crawls may not reach."""


class OutboundGuardMiddleware:
    def __init__(self, crawler: Crawler, allow_private: bool):
        self.crawler = crawler
        self.allow_private = allow_private
        self.verdicts: dict[str, str | None] = {}  # host -> why it is refused, or None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> OutboundGuardMiddleware:
        if not (crawler.settings.get("CRAWLPLANE_RUN_ID")
                or crawler.settings.getbool("CRAWLPLANE_PREVIEW")):
            raise NotConfigured("not a stored run or a preview")
        return cls(crawler, crawler.settings.getbool("CRAWLPLANE_ALLOW_PRIVATE_TARGETS"))

    async def process_request(self, request: Request, spider: Spider | None = None) -> None:
        problem = await self.problem(request.url)
        if problem is not None:
            raise TargetRefused(f"refused: {problem}")

    async def problem(self, url: str) -> str | None:
        """Why `url` may not be requested, or None (also asked by the rendering handler for a
        page's sub-resources, engine/browser.py)."""
        problem = scheme_problem(url)
        if problem is not None:
            return problem
        host = (urlsplit(url).hostname or "").lower().rstrip(".")
        if host not in self.verdicts:
            self.verdicts[host] = await self._check(host)
        return self.verdicts[host]

    def process_response(self, request: Request, response: Response,
                         spider: Spider | None = None) -> Response:
        location = response.headers.get(b"Location")
        if (response.status in REDIRECTS and location is not None
                and not request.meta.get("dont_redirect")):
            # Resolved as RedirectMiddleware does; an http(s) target comes back through
            # process_request as a new request.
            target = urljoin(request.url, safe_url_string(location))
            problem = scheme_problem(target)
            if problem is not None:
                raise TargetRefused(f"refused: redirect to {problem}")
        return response

    async def _check(self, host: str) -> str | None:
        if host in METADATA_HOSTS:
            return f"{host} is a cloud metadata host"
        if is_literal(host):
            kind = address_kind(host, self.allow_private)
            return f"{host} is {kind}" if kind else None
        from twisted.internet import reactor  # Scrapy's, installed by now

        try:
            address = await maybe_deferred_to_future(reactor.resolve(host))
        except DNSLookupError:
            return None  # the download fails with the same, clearer, DNS error
        kind = address_kind(address, self.allow_private)
        return f"{host} resolves to {address}, {kind}" if kind else None
