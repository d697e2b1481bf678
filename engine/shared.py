"""A shared crawl process: several small runs side by side, as separate Crawlers of one
CrawlerProcess on one reactor (what ScrapyRT does), for bursts of one-page tasks.

Forked by the fork server (engine/forkserver.py), which made no reactor: this process installs
its own. It counts as one crawl process towards CRAWLPLANE_MAX_PROCESSES; the launcher gives it
at most CRAWLPLANE_SHARED_RUNS runs at once and CRAWLPLANE_SHARED_RECYCLE in its life
(control_api/launchers/shared.py). Commands, JSON lines on stdin:

    {"run": {"task_id", "run_id"}, "alone": bool}   start that run in a crawler of its own
                                     (alone: the launcher gives no other run meanwhile)
    {"stop": RUN_ID}                 stop that run's crawler gracefully (a cancel, a server stop)
    {"drain": true}                  take no more runs; exit once the last one has ended

EOF (the fork server or the server went away) drains too. Each run's end is reported on stdout
(the launcher's pipe) as `{"from": N, "run_id", "code", "reason"}`, code 0 unless its crawl
raised, reason the spider's close reason (`finished`, `cancelled`, `shutdown`, ...).
SIGTERM stops every run (what a crawl process of its own does; a new server that adopted the
process sends it).

Per run, as in a process of its own: its log file (engine/runlog.py routes records by crawler),
its settings (each Crawler copies the process's settings and applies its scheme on its copy;
what is reactor-wide, the DNS resolver and the thread pool size, comes from the process's
settings only, which no scheme changes). The store is the process's, one SQLAlchemy engine for
all its crawlers (engine/store_access.py share_store: one per crawler compiled every statement
again for each run).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from scrapy.settings import Settings
from twisted.internet.interfaces import IReactorFromThreads

from engine.worker import log_path

logger = logging.getLogger(__name__)
LOG_COUNT = "scrapy.extensions.logcount.LogCount"


def shared_log_path(data_dir: Path, pid: int) -> Path:
    """The shared process's own log: its stderr and the records no run can be told from."""
    return data_dir / "logs" / "shared" / f"{pid}.log"


def serve(settings: Settings, number: int, capacity: int = 1) -> None:
    """Run commands from stdin until drained and idle (in the fork server's child); at most
    `capacity` runs are given to it at once."""
    from scrapy.crawler import CrawlerProcess
    from scrapy.utils.log import _get_formatter
    from scrapy.utils.reactor import install_reactor

    from engine.runlog import RunLogRouter
    from engine.store import Store, store_url
    from engine.store_access import share_store

    install_reactor(settings["TWISTED_REACTOR"])
    settings = settings.copy()
    # Scrapy's log counts (stats), per crawler: its LogCount counts every root record.
    extensions = dict(settings.getdict("EXTENSIONS_BASE"))
    extensions["engine.extensions.logcount.CrawlerLogCount"] = extensions.pop(LOG_COUNT, 0)
    settings.set("EXTENSIONS_BASE", extensions, priority="default")
    fallback = logging.StreamHandler(sys.stderr)  # (stderr is the process's own log)
    fallback.setFormatter(_get_formatter(fallback, settings))
    fallback.setLevel(settings.get("LOG_LEVEL"))
    router = RunLogRouter(settings, fallback)
    share_store(Store(store_url(settings.get("CRAWLPLANE_STORE_URL"),
                                settings.get("CRAWLPLANE_DATA_DIR")), migrate=False))
    settings.set("LOG_INSTALL_ROOT_HANDLER", False, priority="cmdline")  # ours routes
    process = CrawlerProcess(settings)
    process.settings = CopiedAhead(process.settings, capacity)
    logging.root.setLevel(logging.NOTSET)
    logging.root.addHandler(router)
    crawls = SharedCrawls(process, router, Path(settings["CRAWLPLANE_DATA_DIR"]), number)
    from twisted.internet import reactor

    reactor.callWhenRunning(crawls.prepare)
    signal.signal(signal.SIGTERM, lambda *_: from_thread(crawls.stop_all))
    from engine.frontier.jobs import NUDGE

    if NUDGE is not None:  # meant for interactive jobs, which never run here
        signal.signal(NUDGE, signal.SIG_IGN)
    threading.Thread(target=read_commands, args=(crawls,), daemon=True).start()
    process.start(stop_after_crawl=False, install_signal_handlers=False)


def read_commands(crawls: SharedCrawls) -> None:
    for line in sys.stdin:
        if line.strip():
            from_thread(crawls.command, json.loads(line))
    from_thread(crawls.drain)


def from_thread(function: Callable[..., object], *args: Any) -> None:
    """Call on the reactor's thread (from the stdin reader, or a signal handler)."""
    from twisted.internet import reactor

    cast(IReactorFromThreads, reactor).callFromThread(function, *args)


def stop(crawler: Any) -> None:
    """Stop one crawler as Scrapy's SIGTERM would: no new requests, those in flight finish
    (or time out), the spider closes with reason `shutdown`."""
    from scrapy.utils.defer import deferred_from_coro

    deferred_from_coro(crawler.stop_async())


class CopiedAhead(Settings):
    """The process's settings, whose deep copies are made ahead, while it is idle.

    Scrapy's Crawler takes a deep copy of its process's settings as it is created: about
    1.6 ms of CPU, 17% of a shared process's time in a burst of one-page runs, spent while
    the burst's runs wait. Made between bursts instead, `capacity` of them."""

    def __init__(self, base: Settings, capacity: int):
        super().__init__(base)  # (its values and priorities, for the CrawlerProcess)
        self.base = base
        self.capacity = capacity
        self.ready: list[Settings] = []

    def copy(self) -> Any:  # (a copy of the base: a plain Settings, not one of these)
        return self.ready.pop() if self.ready else self.base.copy()

    def prepare_one(self) -> bool:
        """One more copy made, if fewer than `capacity` are ready; whether one was."""
        if len(self.ready) >= self.capacity:
            return False
        self.ready.append(self.base.copy())
        return True


class SharedCrawls:
    """The runs of this process, one Crawler each."""

    def __init__(self, process: Any, router: Any, data_dir: Path, number: int):
        self.process = process
        self.router = router
        self.data_dir = data_dir
        self.number = number
        self.crawlers: dict[str, Any] = {}  # run id -> its crawler
        self.alone: str | None = None  # a run given as the only one, while it runs
        self.draining = False

    def command(self, message: dict[str, Any]) -> None:
        if "run" in message:
            if message.get("alone"):
                self.alone = message["run"]["run_id"]
            self.start(message["run"])
        elif "stop" in message:
            crawler = self.crawlers.get(message["stop"])
            if crawler is not None:
                stop(crawler)
        elif message.get("drain"):
            self.drain()

    def start(self, job: dict[str, str]) -> None:
        run_id = job["run_id"]
        try:
            crawler = self.process.create_crawler("task")
        except Exception:
            logger.exception("run %s could not start", run_id)
            self.report(run_id, 1)
            return
        self.crawlers[run_id] = crawler
        self.router.add(crawler, log_path(self.data_dir, run_id))
        # Its start-up (settings, components, reading its scheme) runs now, synchronously:
        # the lines that name no crawler meanwhile are its own.
        with self.router.starting(crawler):
            d = self.process.crawl(crawler, task_id=job["task_id"], run_id=run_id)
        self.set_alone()
        d.addCallbacks(lambda _: 0, lambda failure: self.failed(crawler, failure))
        d.addCallback(self.ended, run_id, crawler)

    def failed(self, crawler: Any, failure: Any) -> int:
        """A crawl that raised: the traceback in its run's log, as a crashed process's is."""
        logger.error("the crawl failed: %s", failure.getTraceback(), extra={"crawler": crawler})
        return 1

    def ended(self, code: int, run_id: str, crawler: Any) -> None:
        self.crawlers.pop(run_id, None)
        if self.alone == run_id:
            self.alone = None
        self.router.remove(crawler)
        self.set_alone()
        reason = crawler.stats.get_value("finish_reason") if crawler.stats else None
        self.report(run_id, code, reason)
        self.maybe_exit()
        if not self.crawlers:
            self.prepare()

    def prepare(self) -> None:
        """Copies of the settings for the next runs, one per reactor turn while idle."""
        from twisted.internet import reactor

        if not self.crawlers and not self.draining and self.process.settings.prepare_one():
            reactor.callLater(0, self.prepare)

    def report(self, run_id: str, code: int, reason: str | None = None) -> None:
        line = json.dumps({"from": self.number, "run_id": run_id, "code": code,
                           "reason": reason}).encode()
        with contextlib.suppress(OSError):  # the server is gone; a new one adopts by pid
            os.write(1, line + b"\n")

    def drain(self) -> None:
        self.draining = True
        self.set_alone()
        self.maybe_exit()

    def set_alone(self) -> None:
        """Records that name no crawler go to a run given alone, or to the last run of a
        draining process."""
        alone = self.crawlers.get(self.alone) if self.alone else None
        if alone is None and self.draining and len(self.crawlers) == 1:
            alone = next(iter(self.crawlers.values()))
        self.router.alone = alone

    def stop_all(self) -> None:
        for crawler in list(self.crawlers.values()):
            stop(crawler)
        self.drain()

    def maybe_exit(self) -> None:
        from twisted.internet import reactor

        if self.draining and not self.crawlers and reactor.running:
            reactor.stop()
