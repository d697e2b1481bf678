"""Crawl delays Scrapy lacks: ranged ("1-5"), robots.txt Crawl-delay ("robots"), and per host.

A fixed delay for every host is Scrapy's own `DOWNLOAD_DELAY`, and this middleware stays off.
Otherwise `CRAWLPLANE_CRAWL_DELAY` (every host) and `CRAWLPLANE_HOST_DELAYS` ({host: spec},
the interactive API's CrawlDelays) give a spec per host: seconds, a range, or "robots".

The delay is still enforced by Scrapy's download slot: each request draws its own delay into
`meta["cp_crawl_delay"]` (which DownloadInfo records), and the host's slot is a `DelaySlot`
that waits, before sending a request, that request's own delay since the previous one left.
The robots.txt Crawl-delay comes from the parser RobotsTxtMiddleware announces with the
`robots_parsed` signal, before the first request to that host gets here.
"""

from __future__ import annotations

import logging
import random
from typing import Any, Literal

from scrapy import Request, Spider, signals
from scrapy.core.downloader import Slot
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.utils.httpobj import urlparse_cached

from engine.downloadermiddlewares.downloadinfo import CRAWL_DELAY

logger = logging.getLogger(__name__)

DelaySpec = tuple[float, float] | Literal["robots"]


def parse_delay(value: Any) -> DelaySpec:
    """Seconds ("0.5", 2), a range ("1-5", uniform) or "robots"."""
    text = str(value).strip().lower()
    if text == "robots":
        return "robots"
    low, sep, high = text.partition("-")
    pair = (float(low), float(high) if sep else float(low))
    if pair[0] < 0 or pair[0] > pair[1]:
        raise ValueError(f"bad crawl delay {value!r}")
    return pair


class DelaySlot(Slot):
    """A download slot that waits, before sending its next request, that request's delay."""

    __slots__ = ()

    def download_delay(self) -> float:
        # Scrapy asks just before sending queue[0], and again after each send for the new head.
        # With nothing queued there is nothing to wait for: the next request to arrive asks
        # again (a nominal delay here would hold it back by that instead of its own).
        if self.queue:
            return float(self.queue[0][0].meta.get(CRAWL_DELAY, self.delay))
        return 0.0


class CrawlDelayMiddleware:
    def __init__(self, crawler: Crawler, default: DelaySpec | None,
                 by_host: dict[str, DelaySpec]):
        self.crawler = crawler
        self.default = default
        self.by_host = by_host
        self.fallback = crawler.settings.getfloat("DOWNLOAD_DELAY")
        self.robots: dict[str, float] = {}  # netloc -> Crawl-delay from robots.txt
        self.user_agent: str = (crawler.settings.get("ROBOTSTXT_USER_AGENT")
                                or crawler.settings.get("USER_AGENT"))
        crawler.signals.connect(self.robots_parsed, signal=signals.robots_parsed)
        specs = [default, *by_host.values()]
        if "robots" in specs and not crawler.settings.getbool("ROBOTSTXT_OBEY"):
            logger.warning("crawl delay 'robots' needs ROBOTSTXT_OBEY (robots.txt is not read); "
                           "using DOWNLOAD_DELAY (%s s) instead", self.fallback)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlDelayMiddleware:
        settings = crawler.settings
        default = settings.get("CRAWLPLANE_CRAWL_DELAY")
        hosts = settings.getdict("CRAWLPLANE_HOST_DELAYS")
        if default in (None, "") and not hosts:
            raise NotConfigured("no ranged, robots or per-host crawl delay")
        return cls(
            crawler,
            parse_delay(default) if default not in (None, "") else None,
            {host.lower(): parse_delay(spec) for host, spec in hosts.items()},
        )

    def robots_parsed(self, robotparser: Any, request: Request) -> None:
        delay = getattr(robotparser, "crawl_delay", lambda ua: None)(self.user_agent)
        if delay is not None:
            self.robots[urlparse_cached(request).netloc] = float(delay)

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        parts = urlparse_cached(request)
        spec = self.by_host.get(parts.netloc.lower(),
                                self.by_host.get(parts.hostname or "", self.default))
        if spec is None:  # a plain DOWNLOAD_DELAY host: Scrapy's own slot does it
            return
        if spec == "robots":
            delay = self.robots.get(parts.netloc, self.fallback)
        else:
            delay = random.uniform(*spec)  # noqa: S311 - politeness, not security
        request.meta[CRAWL_DELAY] = round(delay, 3)
        self._use_delay_slot(request)

    def _use_delay_slot(self, request: Request) -> None:
        engine = self.crawler.engine
        if engine is None:
            return
        downloader = engine.downloader
        key = downloader.get_slot_key(request)
        slot = downloader.slots.get(key)
        if isinstance(slot, DelaySlot) or (slot is not None and (slot.active or slot.queue)):
            return  # ours already (or, never expected, a busy plain slot: leave it alone)
        # The same concurrency Scrapy would give the slot (Downloader._get_slot).
        own = downloader.per_slot_settings.get(key, {})
        concurrency = own.get("concurrency",
                              downloader.ip_concurrency or downloader.domain_concurrency)
        downloader.slots[key] = DelaySlot(concurrency, float(request.meta[CRAWL_DELAY]), 0.0)
