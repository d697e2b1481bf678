"""Job mode: what is particular to an interactive job's crawl (API.md section 4, DESIGN.md
decisions 5 and 7), as a policy of the `StoreScheduler`.

A job's download tasks are created by the API: they are its frontier, claimed by the
scheduler's own query (engine/store/frontier.py, scoped to the job), handed back the same way
on close and after a crash. What differs from a stored run is kept here:

- Nothing on the engine's side asks for work (the spider makes no requests): `JobFeed` polls
  every `CRAWLPLANE_JOB_POLL_INTERVAL` seconds (every `CRAWLPLANE_JOB_QUIET_POLL_INTERVAL` once
  nothing came for a few seconds), off the reactor thread, and hands what it claimed to the
  engine (`engine.crawl`: only a request wakes an idle engine, the seam scrapy-redis feeds
  through). It claims only while the scheduler holds less than a batch (the bounded window).
- A server on the same machine nudges the process with SIGUSR1 (`NUDGE`) when it creates
  work, so that it polls at once instead of at the next tick.
- A page with a cached body is requested with If-None-Match / If-Modified-Since.
- The spider stays open (`DontCloseSpider`) until nothing arrived for
  `CRAWLPLANE_JOB_IDLE_TIMEOUT` seconds, or after a few quiet seconds when other runs wait for
  a process; the API launches a new run when work arrives after that.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from typing import TYPE_CHECKING, Any

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Response
from scrapy.settings import BaseSettings, Settings
from twisted.internet import task, threads
from twisted.internet.defer import Deferred, succeed
from twisted.python.failure import Failure

from engine.downloadermiddlewares.pages import DEPTH, PAGE_ID, PARENT_ID, report_failure
from engine.frontier import CLAIMED
from engine.signals import page_finished
from engine.store import Row, jobpages

if TYPE_CHECKING:
    from engine.frontier.scheduler import StoreScheduler

logger = logging.getLogger(__name__)
JOB = "job"
QUIET_AFTER = 5.0  # seconds without new work before polling slows down
NUDGE = getattr(signal, "SIGUSR1", None)  # "new work": poll now (POSIX only)


def is_job(settings: BaseSettings) -> bool:
    return bool(settings.get("CRAWLPLANE_TASK_KIND") == JOB)


def configure_job(settings: Settings) -> None:
    """A job keeps every page's body (its page cache) and writes each page as it finishes."""
    settings.set("CRAWLPLANE_STORE_BODIES", True, priority="spider")
    settings.set("CRAWLPLANE_FLUSH_ROWS", 1, priority="spider")
    # No time limit of its own: the idle timeout ends the process, the next call starts one.
    settings.set("CLOSESPIDER_TIMEOUT", 0, priority="spider")


def downloaded(response: Response) -> None:
    """Nothing to extract: the page's outcome and body are recorded by the store recorder."""


class JobFeed:
    def __init__(self, crawler: Crawler, scheduler: StoreScheduler):
        self.crawler = crawler
        self.scheduler = scheduler
        settings = crawler.settings
        self.idle_timeout = settings.getfloat("CRAWLPLANE_JOB_IDLE_TIMEOUT")
        self.interval = settings.getfloat("CRAWLPLANE_JOB_POLL_INTERVAL")
        self.quiet_interval = settings.getfloat("CRAWLPLANE_JOB_QUIET_POLL_INTERVAL")
        self.last_work = self.last_poll = time.monotonic()
        self.polling: Deferred[Any] | None = None
        self.again = False  # nudged while a poll was running: poll again after it
        self.loop = task.LoopingCall(self.poll)
        crawler.signals.connect(self.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(self.page_finished, signal=page_finished)
        if NUDGE is not None and threading.current_thread() is threading.main_thread():
            signal.signal(NUDGE, self._nudged)

    def _nudged(self, signum: int, frame: Any) -> None:
        from twisted.internet import reactor

        reactor.callFromThread(self.poll, True)  # type: ignore[attr-defined]

    def open(self) -> None:
        """Pages that ended runs of the job left in flight go back first (this run's own are
        the scheduler's); then the polling starts."""
        scheduler = self.scheduler
        released = jobpages.release_orphans(scheduler.store, scheduler.task_id)
        if released:
            logger.info("%d pages left in progress by an earlier run are queued again", released)
        self.loop.start(self.interval, now=True)

    def close(self) -> Deferred[Any]:
        """Stops polling; fires once a claim under way is done (its pages are handed back)."""
        if self.loop.running:
            self.loop.stop()
        return self.polling or succeed(None)

    # -- polling --------------------------------------------------------------------------

    def poll(self, nudged: bool = False) -> None:
        now = time.monotonic()
        if not self.loop.running:  # not started yet, or closing
            return
        if self.polling is not None:
            self.again = self.again or nudged
            return
        quiet = now - self.last_work > QUIET_AFTER
        if not nudged and quiet and now - self.last_poll < self.quiet_interval:
            return
        room = self.scheduler.batch - len(self.scheduler)
        if room <= 0:  # a batch waits in the scheduler already: the window is full
            return
        self.last_poll = now
        self.polling = threads.deferToThread(self.scheduler.claim, room)
        self.polling.addCallback(self._schedule)
        self.polling.addErrback(lambda f: logger.error("polling the job's pages failed: %s",
                                                       f.value))
        self.polling.addBoth(self._polled)

    def _polled(self, _: object) -> None:
        self.polling = None
        if self.again:
            self.again = False
            self.poll(True)

    def _schedule(self, rows: list[Row]) -> None:
        engine = self.crawler.engine
        if not rows or engine is None:
            return
        self.last_work = time.monotonic()
        for row in rows:
            engine.crawl(self.request(row))
        logger.debug("scheduled %d download tasks", len(rows))

    def request(self, row: Row) -> Request:
        """A claimed download task's request: conditional when its body is cached."""
        headers = {}
        if row["etag"]:
            headers["If-None-Match"] = row["etag"]
        if row["last_modified"]:
            headers["If-Modified-Since"] = row["last_modified"]
        meta = {PAGE_ID: row["id"], PARENT_ID: row["parent_id"], DEPTH: row["depth"],
                "cp_created_at": row["created_at"], CLAIMED: True}
        return Request(row["url"], headers=headers, meta=meta, callback=downloaded,
                       errback=self.failed, dont_filter=True)

    def failed(self, failure: Failure) -> None:
        report_failure(self.crawler, failure.request, failure.value)  # type: ignore[attr-defined]

    # -- keep-alive -----------------------------------------------------------------------

    def page_finished(self, page: Row, **kwargs: Any) -> None:
        self.last_work = time.monotonic()

    def spider_idle(self, spider: Spider) -> None:
        idle = time.monotonic() - self.last_work
        if idle < min(QUIET_AFTER, self.idle_timeout):
            raise DontCloseSpider
        # A quiet job gives its process up early to runs waiting for one.
        if idle < self.idle_timeout and not jobpages.runs_waiting(self.scheduler.store):
            raise DontCloseSpider
