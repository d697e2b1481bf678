"""The stale-run sweep: no run stays `running` once its crawl has stopped writing to the store.

Every crawl process writes a heartbeat with each flush (about every second). Launchers notice
their own processes ending; this catches what nobody watches: a run started straight through
Scrapyd's schedule.json whose job was killed, or a crawl process that hangs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from twisted.internet import task, threads

from engine.store import Store, outage, runs

logger = logging.getLogger(__name__)


class Reaper:
    def __init__(self, store: Store, stale_after: float, reactor: Any,
                 on_finished: Callable[[str], object]):
        self.store = store
        self.stale_after = stale_after
        self.on_finished = on_finished
        self.loop = task.LoopingCall(self.sweep)
        self.loop.clock = reactor

    def start(self) -> None:
        self.loop.start(min(10.0, self.stale_after / 2), now=False)

    def stop(self) -> None:
        if self.loop.running:
            self.loop.stop()

    def sweep(self) -> Any:
        d = threads.deferToThread(runs.expire, self.store, self.stale_after, time.time())
        d.addCallback(self._reaped)
        d.addErrback(lambda f: outage.log_failure(logger, "stale-run sweep failed", f))
        return d

    def _reaped(self, run_ids: list[str]) -> None:
        for run_id in run_ids:
            logger.warning("run %s stopped reporting; marked error", run_id)
            self.on_finished(run_id)
