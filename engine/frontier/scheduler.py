"""`StoreScheduler`: Scrapy's scheduler seam (as scrapy-redis uses it) backed by the store.

The `task` spider sets `SCHEDULER` to this class for a stored run and for an interactive job's
run (not for `-a scheme=` developer runs). New requests the spider makes become page rows
(engine/store/frontier.py: unique by key per run, within limits.max_pages) in batches of
`CRAWLPLANE_FRONTIER_BATCH`; the crawl takes Created pages from the store a batch at a time into
a bounded window, claimed (InProgress) by this process, and rebuilds their requests from the
rows (`TaskSpider.request_from_row`): nothing is pickled. Retries and redirects of a claimed page
stay in memory; so do requests that are not pages (no key). When the crawl closes, pages it
claimed and did not finish go back to Created for whichever process carries on (the recorder
releases them after its last write).

An interactive job's frontier is filled by the API; what is particular to it (who polls, the
conditional requests, the keep-alive) is its policy, `JobFeed` (engine/frontier/jobs.py).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from typing import Any

from scrapy import Request, Spider
from scrapy.core.scheduler import BaseScheduler
from scrapy.crawler import Crawler
from scrapy.utils.reactor import CallLaterOnce
from twisted.internet.defer import Deferred

from engine.downloadermiddlewares.pages import PAGE_ID
from engine.frontier import CLAIMED, DETAIL, KEY, page_row, worker_name
from engine.frontier.jobs import JobFeed, is_job
from engine.store import Row, Store, frontier
from engine.store_access import crawl_store

logger = logging.getLogger(__name__)
POLL_AFTER = 0.25  # seconds between store polls that found nothing to claim


class StoreScheduler(BaseScheduler):
    def __init__(self, crawler: Crawler, store: Store):
        settings = crawler.settings
        self.crawler = crawler
        self.store = store
        self.run_id: str = settings.get("CRAWLPLANE_RUN_ID")
        self.task_id: str = settings.get("CRAWLPLANE_TASK_ID")
        self.batch = settings.getint("CRAWLPLANE_FRONTIER_BATCH")
        self.processes = settings.getint("CRAWLPLANE_RUN_PROCESSES", 1)
        self.worker = worker_name(settings)
        self.new: list[Row] = []  # pages the spider made, not in the store yet
        self.window: deque[Row] = deque()  # claimed pages not handed to the engine yet
        self.memory: deque[Request] = deque()  # retries, redirects, requests without a key
        self.next_poll = 0.0  # no claim before (monotonic seconds) when the last found nothing
        self.next_check = 0.0  # likewise for has_pending_requests
        self.store_waits = True
        self.spider: Any = None
        self.max_pages: int | None = None
        # An interactive job: it polls for its pages itself and hands them to the engine.
        self.job = JobFeed(crawler, self) if is_job(settings) else None
        self.wake = CallLaterOnce(self._wake)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StoreScheduler:
        return cls(crawler, crawl_store(crawler))

    def open(self, spider: Spider) -> None:
        self.spider = spider
        self.max_pages = getattr(getattr(spider, "scheme", None), "limits", None) and \
            spider.scheme.limits.max_pages  # type: ignore[attr-defined]
        if self.processes <= 1:  # alone on the run: what an earlier process held is ours
            released = frontier.release(self.store, self.run_id)
            if released:
                logger.info("%d pages in flight when an earlier crawl process stopped are "
                            "fetched again", released, extra={"crawler": self.crawler})
        if self.job is not None:
            self.job.open()
            return
        restore = getattr(spider, "restore_details", None)
        follows = getattr(spider, "follows_details", lambda: True)()
        if restore is not None and follows:  # (no detail pages: nothing waits for one)
            restore(frontier.waiting_items(self.store, self.run_id),
                    frontier.detail_values(self.store, self.run_id))

    def close(self, reason: str) -> Deferred[None] | None:
        self.wake.cancel()
        if self.job is not None:  # once a claim under way is done
            return self.job.close().addCallback(lambda _: self._hand_back())
        # Pages claimed and not finished go back to Created once the recorder has committed
        # the finished ones (StoreRecorder._end): released here, before that, a page done but
        # not yet written could be claimed and fetched again by another process of the run.
        self.window.clear()
        self._add()
        return None

    def _hand_back(self) -> None:
        """A job's claimed pages that never reached the downloader: back to Created. A job's
        finished page is written only while InProgress (jobpages.write), so what the process
        still held when it exited the launcher hands back by worker, and the server what an
        ended run left (engine/store/jobs.py, run_finished)."""
        waiting = {r.meta[PAGE_ID] for r in self.memory if r.meta.get(CLAIMED)}
        self.memory.clear()
        if waiting:
            frontier.release(self.store, self.run_id, self.worker, sorted(waiting))

    def has_pending_requests(self) -> bool:
        if self.memory or self.window or self.new:
            return True
        if self.job is not None:  # its feed polls the store (and keeps the spider open)
            return False
        now = time.monotonic()
        if now >= self.next_check:
            self.next_check = now + POLL_AFTER
            try:
                self.store_waits = frontier.waiting(self.store, self.run_id, self.worker)
            except Exception:  # the store is down: the crawl waits for it (the recorder
                self.store_waits = True  # ends it if it stays down)
        return self.store_waits

    def enqueue_request(self, request: Request) -> bool:
        if KEY not in request.meta or request.meta.get(CLAIMED):
            self.memory.append(request)
            return True
        self.new.append(page_row(request))
        if len(self.new) >= self.batch:
            try:
                self._add()
            except Exception:  # the store is down: they go with the next add
                logger.error("the store did not take new pages", exc_info=True,
                             extra={"crawler": self.crawler})
        return True

    def next_request(self) -> Request | None:
        if self.memory:
            return self.memory.popleft()
        if not self.window and self.job is None:
            self._refill()
        if not self.window:
            if self.processes > 1:
                self.wake.schedule(POLL_AFTER)
            return None
        return self._request(self.window.popleft())

    def _request(self, row: Row) -> Request:
        request: Request = self.spider.request_from_row(row)
        request.meta[CLAIMED] = True
        return request

    def _wake(self) -> None:
        """An idle crawl is asked for requests every 5 s only (Scrapy's engine heartbeat):
        other processes of the run add pages meanwhile, so look for them sooner, and hand one
        to the engine (`crawl`, public), which then asks for the rest. Once the others are done
        and nothing is left, the engine checks whether it is idle now (what the heartbeat
        would do up to 5 s later), and so closes the spider as the run's work ends."""
        engine = self.crawler.engine
        if engine is None or not engine.running or self.memory or self.window:
            return
        self._refill()
        if self.window:
            engine.crawl(self._request(self.window.popleft()))
        elif self.has_pending_requests():
            self.wake.schedule(POLL_AFTER)
        elif engine._slot is not None:  # (no public way: `crawl` wakes it with a request)
            engine._slot.nextcall.schedule()

    def __len__(self) -> int:
        return len(self.memory) + len(self.window) + len(self.new)

    # -- the store --------------------------------------------------------------------------

    def claim(self, limit: int) -> list[Row]:
        """Up to `limit` Created pages of the run (of the job, for a job), now this process's.
        Safe in a thread (a job's feed claims off the reactor thread)."""
        return frontier.claim(self.store, self.run_id, self.worker, limit,
                              self.task_id if self.job is not None else None)

    def _add(self, claim: int = 0) -> list[Row]:
        """The pages the spider made, into the store; with `claim`, the next batch of up to
        that many claimed in the same transaction (on SQLite, one wait for the store's lock)."""
        if not self.new:
            return []
        rows, self.new = self.new, []
        try:
            refused, claimed = frontier.add(self.store, self.run_id, self.task_id, rows,
                                            self.max_pages, self.worker if claim else None,
                                            claim)
        except Exception:  # (the store is down: they go with the next add)
            self.new = rows + self.new
            raise
        self.next_poll = self.next_check = 0.0  # new pages: look again at once
        if refused:
            self.spider.max_pages_reached = True
            details = [row for row in refused if row.get(DETAIL)]
            if details:  # their items go without the detail fields
                self.spider.details_refused(details)
        return claimed

    def _claim_size(self) -> int:
        """How many pages to claim now. Alone on the run: a batch. With other processes: a
        host's worth (the scheme's concurrency) and only when every request this process holds
        is being transferred: one waiting on a crawl delay or in a full downloader slot could
        be fetched by another process meanwhile, and a short run would be one process's."""
        if self.processes <= 1:
            return self.batch
        downloader = self.crawler.engine.downloader
        transferring = sum(len(slot.transferring) for slot in downloader.slots.values())
        if len(downloader.active) > transferring:
            return 0
        return min(self.batch, self.crawler.settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN"))

    def _refill(self) -> None:
        now = time.monotonic()
        size = self._claim_size()
        try:
            if self.new:
                rows = self._add(claim=size)
            elif now >= self.next_poll and size:
                rows = self.claim(size)
            else:
                return
        except Exception as exc:  # the store is down: nothing is lost, try again later
            logger.error("the store did not take new pages or give claimed ones: %s", exc,
                         extra={"crawler": self.crawler})
            self.next_poll = now + POLL_AFTER
            return
        if rows:
            self.window.extend(rows)
        elif size:  # the store had none: look again later
            self.next_poll = now + POLL_AFTER
