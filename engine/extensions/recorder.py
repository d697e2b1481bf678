"""The store recorder: writes a run's pages, DownloadInfo, bodies and items, in batches.

A Scrapy extension, on only when the crawl belongs to a stored run (`CRAWLPLANE_RUN_ID`).
Rows are buffered and written in one transaction per flush, off the reactor thread, every
`CRAWLPLANE_FLUSH_INTERVAL` seconds or `CRAWLPLANE_FLUSH_ROWS` rows; the flush also writes
the run's progress and notices a cancel or a pause requested through the store.

With the durable frontier (engine/frontier/), a page is held until its callback is done and
every item it yielded came through the pipelines (`page_parsed`): the page's final state, its
items and the items it leaves waiting for detail pages go into the same flush, hence the same
transaction. The counters are then increments, as several processes (or several lives of one
run) add to them.
"""

from __future__ import annotations

import logging
import time
import zlib
from pathlib import Path
from typing import Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response, TextResponse
from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
from twisted.internet import task, threads
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from engine.frontier import worker_name
from engine.frontier.jobs import is_job
from engine.outcome import FAILED_REASON, Outcome
from engine.results import render_files
from engine.run_warnings import ExtractionWatch, limit_warning, max_pages_warning, run_warnings
from engine.scheme import Scheme
from engine.signals import page_finished, page_parsed
from engine.store import Row, Store, frontier, runs, sizes
from engine.store.status import ACTIVE_STATUSES, CANCELLED, COMPLETED, ERROR, PAUSED, RUNNING
from engine.store_access import crawl_store

logger = logging.getLogger(__name__)
ITEM_LIMIT = "closespider_itemcount"  # Scrapy's close reason for limits.max_items
STORE_DOWN = "store_unreachable"  # the close reason of a crawl whose store took no write


def run_status(reason: str, cancel_requested: bool,
               outcome: Outcome | None = None) -> tuple[str, str | None]:
    """A run's final status and error from Scrapy's close reason and, for a crawl (an
    `outcome` given; not an interactive job), its pages: none succeeded is an error."""
    if cancel_requested or reason == "cancelled":
        return CANCELLED, None
    if reason.startswith(FAILED_REASON):
        return ERROR, reason[len(FAILED_REASON):]
    if reason == "finished" or reason.startswith("closespider_"):
        all_failed = outcome.all_failed() if outcome is not None else None
        return (ERROR, all_failed) if all_failed else (COMPLETED, None)
    if reason == PAUSED:
        return PAUSED, None
    if reason == "shutdown":
        return ERROR, "the crawl process was shut down before the crawl finished"
    return ERROR, f"the crawl ended with reason {reason!r}"


class _NotWritten(Exception):
    """The store did not take a flush's batch (it is kept for the next one)."""


class _Held:
    """A stored run's page whose callback output is not all through yet."""

    def __init__(self, rows: dict[str, list[Any]]):
        self.rows = rows
        self.expected: int | None = None  # items its callback yielded, once it is done
        self.received = 0


class StoreRecorder:
    def __init__(self, crawler: Crawler, store: Store, run_id: str, task_id: str):
        self.crawler = crawler
        self.store = store
        self.run_id = run_id
        self.task_id = task_id
        self.keep_bodies = crawler.settings.getbool("CRAWLPLANE_STORE_BODIES")
        self.flush_rows = crawler.settings.getint("CRAWLPLANE_FLUSH_ROWS")
        self.interval = crawler.settings.getfloat("CRAWLPLANE_FLUSH_INTERVAL")
        self.update_pages = is_job(crawler.settings)  # a job's pages exist: update them
        self.data_dir = Path(crawler.settings.get("CRAWLPLANE_DATA_DIR")).expanduser()
        self.buffers: dict[str, list[Any]] = {"page_rows": [], "info_rows": [], "body_rows": [],
                                              "item_rows": [], "pending_rows": [],
                                              "resolved": []}
        self.counts = {"requests": 0, "pages": 0, "failed": 0, "items": 0}
        self.written = dict(self.counts)  # with the frontier: what earlier flushes added
        self.outcome = Outcome()
        self.frontier = crawler.settings.getbool("CRAWLPLANE_FRONTIER")
        # limits.max_items of the run, over all its processes and lives: the store keeps no
        # item past it (Store.write_batch), and each process stops once the run has them all.
        self.max_items = crawler.settings.getint("CLOSESPIDER_ITEMCOUNT") or None
        self.held: dict[str, _Held] = {}
        self.failures_written: dict[str, int] = {}
        self.flushing: Deferred[Any] | None = None
        self.failing_since: float | None = None  # (monotonic) flushes fail since then
        self.give_up_after = crawler.settings.getfloat("CRAWLPLANE_STORE_GIVE_UP")
        self.closing = False  # closing for a cancel or a pause seen in the store
        self.loop = task.LoopingCall(self.flush)
        for handler, signal in (
            (self.spider_opened, signals.spider_opened),
            (self.spider_closed, signals.spider_closed),
            (self.item_scraped, signals.item_scraped),
            (self.page_finished, page_finished),
            (self.page_parsed, page_parsed),
            (self.item_done, signals.item_dropped),
            (self.item_done, signals.item_error),
        ):
            crawler.signals.connect(handler, signal=signal)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StoreRecorder:
        settings = crawler.settings
        run_id = settings.get("CRAWLPLANE_RUN_ID")
        if not run_id:
            raise NotConfigured("not a stored run")
        return cls(crawler, crawl_store(crawler), run_id,
                   settings.get("CRAWLPLANE_TASK_ID"))

    def spider_opened(self, spider: Spider) -> None:
        if not runs.start(self.store, self.run_id):  # cancelled (or deleted) before it began
            from twisted.internet import reactor  # the crawl's (not at import: fork server)

            run = self.store.get_run(self.run_id)
            status = run["status"] if run is not None else None
            if not (self.frontier and status == RUNNING):  # (else: one of its processes)
                reactor.callLater(0, self._close, PAUSED if status == PAUSED else "cancelled")
                return
        if self.frontier:  # an earlier life of this run (or another process) counted these
            run = self.store.get_run(self.run_id) or {}
            self.outcome.succeeded = max(0, run.get("pages", 0) - run.get("failed", 0))
            self.outcome.failures.update(run.get("failures") or {})
            self.failures_written = dict(self.outcome.failures)
        self.loop.start(self.interval, now=False)

    def _close(self, reason: str) -> None:
        engine = self.crawler.engine
        if engine is not None and engine.running:
            deferred_from_coro(engine.close_spider_async(reason=reason))

    def page_finished(self, page: Row, attempts: list[dict[str, Any]],
                      response: Response | None) -> None:
        rows: dict[str, list[Any]] = {
            "page_rows": [{**page, "task_id": self.task_id, "run_id": self.run_id}],
            "info_rows": [{"page_id": page["id"], "attempt": i, "info": info}
                          for i, info in enumerate(attempts)],
            "body_rows": [],
        }
        if self.keep_bodies and isinstance(response, TextResponse):
            rows["body_rows"].append({
                "page_id": page["id"],
                "url": response.url,
                "encoding": response.encoding,
                "etag": _header(response, b"ETag"),
                "last_modified": _header(response, b"Last-Modified"),
                "body": zlib.compress(response.body, 6),
            })
        if self.frontier:  # committed with its items, once its callback is through
            self.held[page["id"]] = _Held(rows)
            return
        self._add(rows)

    def _add(self, rows: dict[str, list[Any]]) -> None:
        """Rows for the next flush, all at once (so one transaction writes them all)."""
        for name, values in rows.items():
            self.buffers[name].extend(values)
        for page in rows.get("page_rows", ()):
            attempts = [r["info"] for r in rows["info_rows"] if r["page_id"] == page["id"]]
            self.counts["pages"] += 1
            self.outcome.add(page)
            self.counts["requests"] += sum(1 for a in attempts if a["IsSuccess"])
            if not (attempts and attempts[-1]["IsSuccess"]):
                self.counts["failed"] += 1
        self.counts["items"] += len(rows.get("item_rows", ()))
        self._maybe_flush()

    def _item_row(self, item: Any) -> Row:
        return {"run_id": self.run_id, "task_id": self.task_id, "data": dict(item)}

    def item_scraped(self, item: Any, spider: Spider, response: Any = None) -> None:
        held = self._held_for(response)
        if held is None:
            self._add({"item_rows": [self._item_row(item)]})
            return
        held.rows.setdefault("item_rows", []).append(self._item_row(item))
        held.received += 1
        self._release(held)

    def item_done(self, item: Any, response: Any = None) -> None:
        """An item dropped by a pipeline (or failing in one): its page need not wait for it."""
        held = self._held_for(response)
        if held is not None:
            held.received += 1
            self._release(held)

    def _held_for(self, response: Any) -> _Held | None:
        if not self.held or response is None:
            return None
        request = getattr(response, "request", None)
        meta = getattr(request, "meta", None) or {}
        return self.held.get(meta.get("cp_page_id", ""))

    def page_parsed(self, page_id: str | None, items: int, pending: list[Row],
                    resolved: list[str], detail_value: Any) -> None:
        held = self.held.get(page_id or "")
        if held is None:  # items made without a page (detail pages refused for the budget)
            self._add({"resolved": resolved})
            return
        held.expected = items
        held.rows["page_rows"][0]["detail_value"] = detail_value
        held.rows["pending_rows"] = [{**row, "run_id": self.run_id} for row in pending]
        held.rows["resolved"] = list(resolved)
        self._release(held)

    def _release(self, held: _Held, force: bool = False) -> None:
        if force or (held.expected is not None and held.received >= held.expected):
            self.held.pop(held.rows["page_rows"][0]["id"], None)
            self._add(held.rows)

    def _maybe_flush(self) -> None:
        if sum(len(rows) for rows in self.buffers.values()) >= self.flush_rows:
            self.flush()

    def _take(self) -> dict[str, Any]:
        batch: dict[str, Any] = dict(self.buffers)
        self.buffers = {name: [] for name in self.buffers}
        spider = self.crawler.spider
        queued = max(0, getattr(spider, "pages_requested", 0) - self.counts["pages"])
        batch["progress"] = {**self.counts, "queued": queued, "heartbeat_at": time.time(),
                             "failures": dict(self.outcome.failures),
                             "warnings": self._warnings()}
        batch["run_id"] = self.run_id
        batch["update_pages"] = self.update_pages
        if self.frontier:  # increments: other processes and earlier lives count too
            progress = batch["progress"]
            progress.pop("queued")
            batch["added"] = {name: self.counts[name] - self.written[name]
                              for name in self.counts}
            self.written = dict(self.counts)
            failures = progress.pop("failures")
            batch["added_failures"] = {k: n - self.failures_written.get(k, 0)
                                       for k, n in failures.items()
                                       if n != self.failures_written.get(k, 0)}
            self.failures_written = failures
            for name in self.counts:
                progress.pop(name)
            batch["max_items"] = self.max_items
            scheme = getattr(self.crawler.spider, "scheme", None)
            if self.max_items and isinstance(scheme, Scheme):
                batch["items_warning"] = limit_warning(scheme, "max_items")
        return batch

    def _warnings(self, close_reason: str | None = None) -> list[str]:
        spider = self.crawler.spider
        scheme = getattr(spider, "scheme", None)
        if self.update_pages or not isinstance(scheme, Scheme):  # a job: nothing to extract
            return []
        return run_warnings(
            scheme, getattr(spider, "watch", None) or ExtractionWatch(),
            max_pages_reached=bool(getattr(spider, "max_pages_reached", False)),
            close_reason=close_reason,
            pending_details=len(getattr(spider, "details", ())) if close_reason else 0)

    def flush(self) -> Deferred[Any]:
        """Write what is buffered in a thread; one flush at a time, the next tick takes the rest."""
        if self.flushing is not None:
            return self.flushing
        batch = self._take()
        self.flushing = threads.deferToThread(self._write, batch)
        self.flushing.addCallbacks(self._written, self._not_written, errbackArgs=(batch,))
        self.flushing.addBoth(self._flushed)
        return self.flushing

    def _write(self, batch: dict[str, Any]) -> str | None:
        try:
            if self.frontier:  # (another process of the run may have ended it meanwhile)
                before = self.store.get_run(self.run_id)
                if before is not None:
                    self._budget_warning(batch["progress"], before)
            self.store.write_batch(**batch)  # (one transaction: all of the batch, or none)
        except Exception as exc:
            raise _NotWritten() from exc
        run = self.store.get_run(self.run_id)
        if run is None or run["cancel_requested"]:
            return "cancelled"
        if run["status"] == PAUSED:
            return PAUSED
        if self.frontier and self.max_items and run["items"] >= self.max_items:
            return ITEM_LIMIT  # (perhaps reached by another process of the run)
        return None

    def _written(self, stop: str | None) -> str | None:
        self.failing_since = None
        return stop

    def _not_written(self, failure: Failure, batch: dict[str, Any]) -> str | None:
        """A flush that failed: what the store did not take goes with the next one (a store
        that is down a while loses nothing); one that stays down ends the crawl after
        CRAWLPLANE_STORE_GIVE_UP seconds (its run is retried by its launcher, or ended as
        stale by the server's sweep)."""
        error = failure.value
        logger.error("store flush failed: %s", getattr(error, "__cause__", None) or error,
                     extra={"crawler": self.crawler})
        if not failure.check(_NotWritten):  # written, but the run could not be read after
            return None
        for name in self.buffers:
            self.buffers[name] = batch[name] + self.buffers[name]
        if self.frontier:  # the counts it would have added, to add next time
            for name, n in batch["added"].items():
                self.written[name] -= n
            for key, n in batch["added_failures"].items():
                self.failures_written[key] = self.failures_written.get(key, 0) - n
        now = time.monotonic()
        self.failing_since = self.failing_since or now
        if now - self.failing_since > self.give_up_after:
            return STORE_DOWN
        return None

    def _flushed(self, stop: str | None) -> None:
        self.flushing = None
        if stop and not self.closing:  # (once: later flushes see the same)
            self.closing = True
            logger.info("%s; closing the crawl", {
                "cancelled": "cancel requested through the store",
                PAUSED: "paused through the store",
                STORE_DOWN: f"the store took no write for {self.give_up_after:.0f} s",
            }.get(stop, f"the run's limits.max_items ({self.max_items}) reached through the "
                        "store"), extra={"crawler": self.crawler})  # (its run's log)
            self._close(stop)
        elif self.loop.running:  # rows that came in meanwhile need not wait for the next tick
            self._maybe_flush()

    async def spider_closed(self, spider: Spider, reason: str) -> None:
        # A coroutine with named arguments: the signal dispatcher passes only the arguments a
        # handler names (an @inlineCallbacks wrapper got `signal` and `sender` too, and failed).
        if self.loop.running:
            self.loop.stop()
        if self.flushing is not None:
            await maybe_deferred_to_future(self.flushing)
        for held in list(self.held.values()):  # what came of pages the crawl left
            self._release(held, force=True)
        batch = self._take()
        batch["progress"]["warnings"] = self._warnings(reason)
        run = self.store.get_run(self.run_id)
        final: tuple[str, str | None] | None = None
        # A run cancelled or deleted by the API meanwhile keeps its data and its status.
        if run is not None and run["status"] in ACTIVE_STATUSES:
            final = run_status(reason, run["cancel_requested"],
                               None if self.update_pages else self.outcome)
            if self.frontier:  # decided in _end, on what every process of the run counted
                final = (reason, None) if final[0] not in (CANCELLED, PAUSED) else final
            # Nothing waits any more: pages left when a limit closed the crawl are dropped.
            batch["progress"]["queued"] = 0
            if final[0] == PAUSED:  # a SIGTERM'd crawl (or paused meanwhile): it carries on
                final = None
        # The store is closed when the engine has stopped (engine/store_access.py).
        await maybe_deferred_to_future(threads.deferToThread(self._end, batch, final, run))

    def _end(self, batch: dict[str, Any], final: tuple[str, str | None] | None,
             run: Row | None) -> None:
        """The crawl's last writes, as few as may be (on SQLite each write transaction waits
        for the store's one lock): `run` is the run as read when the spider closed."""
        if run is None:  # deleted meanwhile: nothing to write it to
            return
        if self.frontier:
            self._budget_warning(batch["progress"], run)
            # What it claimed and did not finish, once the rest is written (same transaction).
            batch["release_worker"] = worker_name(self.crawler.settings)
        self.store.write_batch(**batch)
        if final is not None and self.frontier and final[0] not in (CANCELLED, PAUSED):
            if frontier.open_pages(self.store, self.run_id) and (final[0] == "finished" or (
                    final[0] == "shutdown"
                    and self.crawler.settings.getint("CRAWLPLANE_RUN_PROCESSES", 1) > 1)):
                # Other processes of the run still work on its frontier: the last ends it (one
                # of several stopped on its own, e.g. its Scrapyd job cancelled, leaves them its
                # pages; with none left, its launcher ends the run).
                return
            run = self.store.get_run(self.run_id) or {}
            outcome = Outcome()
            outcome.succeeded = max(0, run.get("pages", 0) - run.get("failed", 0))
            outcome.failures.update(run.get("failures") or {})
            outcome.examples = self.outcome.examples
            outcome.failed_other = self.outcome.failed_other
            final = run_status(final[0], False, outcome)
        # The results files before the final status: a task shown ended has its files (and
        # their sizes), whoever watches the run (this server, another, or none).
        rendered = self._render()
        # The sizes with the final status, one write (the store's one lock on SQLite); alone
        # when the run goes on, or the API ended it meanwhile (finish only ends an active run).
        finished = final is not None and runs.finish(self.store, self.run_id, *final,
                                                     sizes=rendered)
        if rendered and not finished:
            sizes.record(self.store, self.run_id, rendered)

    def _budget_warning(self, progress: dict[str, Any], run: Row) -> None:
        """The page budget is the run's, counted in the store: every process of the run says it
        was reached, even if another one met it (each write replaces the run's warnings; the
        item limit's warning is the store's, Store.write_batch)."""
        scheme = getattr(self.crawler.spider, "scheme", None)
        if not isinstance(scheme, Scheme):
            return
        warning = max_pages_warning(scheme)
        warnings = list(progress.get("warnings") or [])
        if (run.get("planned") or 0) >= scheme.limits.max_pages and warning not in warnings:
            progress["warnings"] = [*warnings, warning]

    def _render(self) -> dict[str, int] | None:
        """The results files, rendered before the final status; their sizes."""
        # The spider's scheme is the task's (read when it started; a task's scheme does not
        # change under a run): no need to read the task again.
        scheme = getattr(self.crawler.spider, "scheme", None)
        if self.update_pages or not isinstance(scheme, Scheme):
            return None  # a job (no items)
        try:
            return render_files(self.store, self.data_dir, self.run_id, scheme)
        except Exception:  # the server renders again when it sees the run end
            logger.exception("rendering the results of run %s failed", self.run_id,
                             extra={"crawler": self.crawler})
            return None


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None
