"""The schedule clock: fires due schedules (control_api/web/schedules.py creates them).

Each firing queues a new run of the schedule's task on the configured launcher. A firing while
the task's run is still queued or running queues nothing (no overlapping runs), and says so in
`last_error`. A schedule whose time passed while no server ran fires **once** at the next
start (at the first tick), then continues from the next time after now; it never backfills
every missed time. Two servers sharing a store never fire the same time twice: the firing
takes the schedule with a conditional update of `next_at`.

Time comes from an injected clock (`IReactorTime.seconds()`); tests use
`twisted.internet.task.Clock`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from croniter import croniter
from twisted.internet import task, threads
from twisted.internet.interfaces import IReactorTime

from control_api.launchers.base import Launcher
from engine.store import Row, Store, outage
from engine.store import schedules as schedule_store
from engine.store import tasks as task_store
from engine.store.status import ACTIVE_STATUSES

logger = logging.getLogger(__name__)


def next_fire(cron: str, timezone: str, after: float) -> float:
    """The first firing strictly after `after` (epoch seconds)."""
    start = datetime.fromtimestamp(after, ZoneInfo(timezone))
    return float(croniter(cron, start).get_next(float))


def fire(store: Store, row: Row, now: float) -> str | None:
    """Fire one due schedule: queue a run of its task unless one is active. The run id."""
    following = next_fire(row["cron"], row["timezone"], now)
    # (not taken: another server fired it, or it was deleted)
    if not schedule_store.take(store, row, following, now):
        return None
    run_id: str | None = None
    error: str | None = None
    exists, latest = task_store.latest_run_id(store, row["task_id"])
    if not exists:
        error = f"task {row['task_id']} was deleted"
    else:
        run = store.get_run(latest) if latest else None
        if run is not None and run["status"] in ACTIVE_STATUSES:
            error = f"skipped: run {run['id']} was still {run['status']}"
        else:
            run_id = store.queue_run(row["task_id"])["id"]
    schedule_store.fired(store, row["id"], run_id, error)
    return run_id


def fire_due(store: Store, now: float) -> list[str]:
    """Fire every schedule whose time has come (once each, however many times were missed)."""
    queued = []
    for row in schedule_store.due(store, now):
        try:
            run_id = fire(store, row, now)
        except Exception:  # one broken schedule must not stop the others
            logger.exception("firing schedule %s failed", row["id"])
            continue
        if run_id is not None:
            queued.append(run_id)
    return queued


# -- the clock -------------------------------------------------------------------------------

class Scheduler:
    """Checks for due schedules every `interval` seconds of `clock`, fires them, kicks the
    launcher. `blocking` runs the store work (the reactor's thread pool by default)."""

    def __init__(self, store: Store, launcher: Launcher, clock: IReactorTime,
                 interval: float = 1.0,
                 blocking: Callable[..., Any] = threads.deferToThread):
        self.store = store
        self.launcher = launcher
        self.clock = clock
        self.blocking = blocking
        self.interval = interval
        self._busy = False
        self._loop = task.LoopingCall(self.tick)
        self._loop.clock = clock

    def start(self) -> None:
        self._loop.start(self.interval, now=True)

    def stop(self) -> None:
        if self._loop.running:
            self._loop.stop()

    def tick(self) -> None:
        if self._busy:
            return
        self._busy = True
        d = self.blocking(fire_due, self.store, self.clock.seconds())
        d.addCallback(self._fired)
        d.addErrback(lambda f: outage.log_failure(logger, "schedules", f))
        d.addBoth(self._done)

    def _fired(self, run_ids: list[str]) -> None:
        if run_ids:
            logger.info("schedules queued %d run(s)", len(run_ids))
            self.launcher.kick()

    def _done(self, _: object) -> None:
        self._busy = False
