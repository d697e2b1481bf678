"""Sitemaps (`sitemap_urls`, `sitemap_rules`) with Scrapy's own sitemap utilities.

A sitemap URL may be a sitemap, a sitemap index, either gzipped, or a robots.txt whose
`Sitemap:` lines are followed, as Scrapy's SitemapSpider reads them. The page URLs found that
match a rule (any page when there is no rule) become pages of the crawl with the scheme's
`item` rules, as `follow` pages do; sitemap documents themselves are pages of the trace too.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

from scrapy import Request
from scrapy.http import Response, XmlResponse
from scrapy.utils._compression import _DecompressionMaxSizeExceeded
from scrapy.utils.gz import gunzip, gzip_magic_number
from scrapy.utils.sitemap import Sitemap, sitemap_urls_from_robots
from w3lib.url import canonicalize_url

from engine.downloadermiddlewares.pages import DEPTH, page_meta
from engine.scheme import Scheme

logger = logging.getLogger(__name__)
# A page found in a sitemap: (url, the sitemap's response, depth) -> its request, or None
# when it was seen or is over the page budget (the spider's `_request`).
PageRequest = Callable[[str, Response, int], "Request | None"]
MAX_SITEMAP_DEPTH = 10  # robots.txt -> index -> index ... : a loop stops here


def sitemap_body(response: Response, max_size: int) -> bytes | None:
    """The XML of a sitemap response (gunzipped), None when it is none (SitemapSpider's rule)."""
    if isinstance(response, XmlResponse):
        return response.body
    if gzip_magic_number(response):
        try:
            return gunzip(response.body, max_size=max_size)
        except _DecompressionMaxSizeExceeded:
            return None
    # A .xml.gz sent with Content-Encoding: gzip was decompressed by HttpCompression already.
    if response.url.endswith((".xml", ".xml.gz")):
        return response.body
    return None


def _locations(entries: Any) -> Iterator[str]:
    for entry in entries:
        if loc := entry.get("loc"):
            yield str(loc).strip()


class SitemapReader:
    def __init__(self, scheme: Scheme, page_request: PageRequest, errback: Any,
                 max_size: int) -> None:
        self.urls = list(scheme.sitemap_urls)
        self.rules = [re.compile(rule.pattern) for rule in scheme.sitemap_rules]
        self.page_request = page_request
        self.errback = errback
        self.max_size = max_size
        self.seen: set[str] = set()

    def start(self) -> Iterator[Request]:
        for url in self.urls:
            request = self._sitemap_request(url, None, 0)
            if request is not None:
                yield request

    def _sitemap_request(self, url: str, parent: Response | None, depth: int
                         ) -> Request | None:
        key = canonicalize_url(url)
        if key in self.seen or depth > MAX_SITEMAP_DEPTH:
            return None
        self.seen.add(key)
        return Request(url, callback=self.parse, errback=self.errback,
                       meta=page_meta(parent, depth), dont_filter=True)

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Request]:
        depth = int(response.meta.get(DEPTH, 0))
        if response.url.endswith("/robots.txt"):
            for url in sitemap_urls_from_robots(response.body, base_url=response.url):
                request = self._sitemap_request(url, response, depth + 1)
                if request is not None:
                    yield request
            return
        body = sitemap_body(response, response.meta.get("download_maxsize", self.max_size))
        sitemap = Sitemap(body) if body else None
        if sitemap is None or sitemap.type not in ("sitemapindex", "urlset"):
            logger.warning("not a sitemap, ignored: %s", response.url)
            return
        for loc in _locations(sitemap):
            if sitemap.type == "sitemapindex":
                request = self._sitemap_request(loc, response, depth + 1)
            elif not self.rules or any(rule.search(loc) for rule in self.rules):
                request = self.page_request(loc, response, depth + 1)
            else:
                continue
            if request is not None:
                yield request
