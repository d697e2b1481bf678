"""Crawl delays Scrapy lacks: ranged ("1-5"), robots.txt Crawl-delay ("robots"), and per host.

A fixed delay for every host is Scrapy's own `DOWNLOAD_DELAY`, and this middleware stays off.
Otherwise `CRAWLPLANE_CRAWL_DELAY` (every host) and `CRAWLPLANE_HOST_DELAYS` ({host: spec},
the interactive API's CrawlDelays) give a spec per host: seconds, a range, or "robots".

The delay is still enforced by Scrapy's download slot: each request draws its own delay into
`meta["cp_crawl_delay"]` (which DownloadInfo records), and the host's slot is a `DelaySlot`
that waits, before sending a request, that request's own delay since the previous one left.
The robots.txt Crawl-delay comes from the parser RobotsTxtMiddleware announces with the
`robots_parsed` signal, before the first request to that host gets here.

A stored run with several crawl processes (`CRAWLPLANE_RUN_PROCESSES` > 1) shares each host's
last send time through the store (engine/store/hosts.py): its slots are `SharedDelaySlot`s,
which claim a request's send time there when it could go, so the delay holds across the
processes. There a fixed delay is this middleware's too (Scrapy's slot knows only its process).
"""

from __future__ import annotations

import logging
import random
from time import monotonic
from typing import Any, Literal

from scrapy import Request, Spider, signals
from scrapy.core.downloader import Slot
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.utils.httpobj import urlparse_cached

from engine.downloadermiddlewares.downloadinfo import CRAWL_DELAY
from engine.store import hosts
from engine.store_access import crawl_store

logger = logging.getLogger(__name__)

DelaySpec = tuple[float, float] | Literal["robots"]
# Shared slots: a request's claimed send time (monotonic here, and as the store keeps it).
SEND_AT = "cp_send_at"
ASAP = 1e-9  # no wait, but truthy: Scrapy then sends one request per look, not a burst
LATE = 0.02  # seconds a request may go after its claimed time without telling the store


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


class SharedClock:
    """A run's host send times in the store, for its shared slots."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.run_id: str = crawler.settings.get("CRAWLPLANE_RUN_ID")

    def claim(self, key: str, delay: float) -> tuple[float, float]:
        return hosts.claim_send(crawl_store(self.crawler), self.run_id, key, delay)

    def restamp(self, key: str, claimed: float) -> bool:
        return hosts.restamp(crawl_store(self.crawler), self.run_id, key, claimed)


class SharedDelaySlot(DelaySlot):
    """A DelaySlot whose requests take their send times from the store, shared by the crawl
    processes of a run. The store calls are made in the reactor, like the frontier's claims:
    one short statement per request, and only for runs both delayed and shared."""

    __slots__ = ("clock", "key")

    def __init__(self, concurrency: int, delay: float, key: str, clock: SharedClock):
        super().__init__(concurrency, delay, 0.0)
        self.key = key
        self.clock = clock

    def download_delay(self) -> float:
        # Scrapy waits `delay - now + lastseen`: answering `send_at - lastseen` makes it wait
        # until send_at. A time is claimed only when the request could go (a transfer slot is
        # free), and one missed by more than LATE is given up: the next request's wait is
        # counted from the claimed time, so a later send would shorten that gap.
        if not self.queue:
            return 0.0
        meta = self.queue[0][0].meta
        if self.free_transfer_slots() <= 0:
            meta.pop(SEND_AT, None)  # it cannot go at its time: claim again when it can
            return ASAP
        try:
            if SEND_AT not in meta:
                self._claim(meta)
            elif monotonic() - meta[SEND_AT][0] > LATE and \
                    not self.clock.restamp(self.key, meta[SEND_AT][1]):
                self._claim(meta)  # late, and another request has a time after it
        except Exception:
            logger.warning("the store did not give %s a send time; this request waits its "
                           "delay in this process only", self.key, exc_info=True)
            meta.pop(SEND_AT, None)
            return super().download_delay()
        send_at = float(meta[SEND_AT][0])
        return ASAP if send_at <= monotonic() else send_at - self.lastseen

    def _claim(self, meta: dict[str, Any]) -> None:
        wait, claimed = self.clock.claim(self.key, float(meta.get(CRAWL_DELAY, self.delay)))
        meta[SEND_AT] = (monotonic() + wait, claimed)


class CrawlDelayMiddleware:
    def __init__(self, crawler: Crawler, default: DelaySpec | None,
                 by_host: dict[str, DelaySpec], shared: bool = False):
        self.crawler = crawler
        # Several crawl processes on this run: the delays go through the store.
        self.clock = SharedClock(crawler) if shared else None
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
        by_host = settings.getdict("CRAWLPLANE_HOST_DELAYS")
        fixed = settings.getfloat("DOWNLOAD_DELAY")
        shared = bool(settings.get("CRAWLPLANE_RUN_ID")) and \
            settings.getint("CRAWLPLANE_RUN_PROCESSES", 1) > 1
        if shared and default in (None, "") and fixed > 0:
            default = str(fixed)  # Scrapy's slot would hold it in this process only
        if default in (None, "") and not by_host:
            raise NotConfigured  # (silent: no ranged, robots or per-host crawl delay)
        return cls(
            crawler,
            parse_delay(default) if default not in (None, "") else None,
            {host.lower(): parse_delay(spec) for host, spec in by_host.items()},
            shared,
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
        request.meta.pop(SEND_AT, None)  # a retry or redirect claims a time of its own
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
        delay = float(request.meta[CRAWL_DELAY])
        downloader.slots[key] = (DelaySlot(concurrency, delay, 0.0) if self.clock is None
                                 else SharedDelaySlot(concurrency, delay, key, self.clock))
