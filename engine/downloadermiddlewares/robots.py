"""Scrapy's RobotsTxtMiddleware, with every request that waits for robots.txt getting its rules.

Scrapy 2.19 has the requests that arrive while a host's robots.txt is being fetched await the
shared Deferred through `Deferred.asFuture()`, which consumes the result: the first waiter gets
the parser, every later one gets None, which means "no robots.txt", so they are let through.
With several start URLs on one host, disallowed pages were downloaded. Each waiter here gets
its own Deferred, fed from the shared one without consuming it.
"""

from __future__ import annotations

from scrapy import Request
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware as _ScrapyRobotsTxt
from scrapy.robotstxt import RobotParser
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred


class RobotsTxtMiddleware(_ScrapyRobotsTxt):
    async def robot_parser(self, request: Request) -> RobotParser | None:
        pending = self._parsers.get(urlparse_cached(request).netloc)
        if not isinstance(pending, Deferred):
            return await super().robot_parser(request)
        waiter: Deferred[RobotParser | None] = Deferred()

        def relay(parser: RobotParser | None) -> RobotParser | None:
            waiter.callback(parser)
            return parser  # keep the result for the next waiter

        pending.addCallback(relay)
        return await maybe_deferred_to_future(waiter)
