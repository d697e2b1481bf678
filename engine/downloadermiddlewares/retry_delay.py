"""Scrapy's RetryMiddleware with a pause before each retry (`CRAWLPLANE_RETRY_DELAY`, seconds).

Scrapy re-sends a retried request at once; a task's retry policy asks for `delay_ms` between
attempts. This subclass takes RetryMiddleware's place (550) and holds the retry back for that
long before handing it to the engine. Off with RetryMiddleware (RETRY_ENABLED).
"""

from __future__ import annotations

from scrapy import Request, Spider
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.http import Response
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.task import deferLater


class DelayedRetryMiddleware(RetryMiddleware):
    async def process_response(  # type: ignore[override]
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Request | Response:
        result = super().process_response(request, response)
        if isinstance(result, Request):
            await self._pause()
        return result

    async def process_exception(  # type: ignore[override]
        self, request: Request, exception: Exception, spider: Spider | None = None
    ) -> Request | Response | None:
        result = super().process_exception(request, exception)
        if isinstance(result, Request):
            await self._pause()
        return result

    async def _pause(self) -> None:
        delay = self.crawler.settings.getfloat("CRAWLPLANE_RETRY_DELAY")
        if delay > 0:
            from twisted.internet import reactor  # the crawl's (not at import: fork server)

            await maybe_deferred_to_future(deferLater(reactor, delay))
