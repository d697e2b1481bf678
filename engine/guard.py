"""Outbound safety inside a crawl: the same rules as at the API (engine/outbound.py) for every
request of a stored run, so a link or a redirect cannot lead a tenant's crawl to a cloud
metadata service or, unless private targets are allowed, into the private network.

Only stored runs are guarded (they come from the API); a developer's own
`scrapy crawl task -a scheme=...` reaches whatever it is pointed at. Names are resolved with
the crawl's own resolver (Scrapy's cached one), so the check and the download agree.
"""

from __future__ import annotations

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.error import DNSLookupError

from engine.outbound import METADATA_HOSTS, address_kind, is_literal


class TargetRefused(IgnoreRequest):
    """A request to an address crawls may not reach."""


class OutboundGuardMiddleware:
    def __init__(self, crawler: Crawler, allow_private: bool):
        self.crawler = crawler
        self.allow_private = allow_private
        self.verdicts: dict[str, str | None] = {}  # host -> why it is refused, or None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> OutboundGuardMiddleware:
        if not crawler.settings.get("CRAWLPLANE_RUN_ID"):
            raise NotConfigured("not a stored run")
        return cls(crawler, crawler.settings.getbool("CRAWLPLANE_ALLOW_PRIVATE_TARGETS"))

    async def process_request(self, request: Request, spider: Spider | None = None) -> None:
        host = (urlparse_cached(request).hostname or "").lower().rstrip(".")
        if host not in self.verdicts:
            self.verdicts[host] = await self._check(host)
        problem = self.verdicts[host]
        if problem is not None:
            raise TargetRefused(f"refused: {problem}")

    async def _check(self, host: str) -> str | None:
        if not host:
            return None
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
