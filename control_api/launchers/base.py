"""The contract every launcher keeps, and what they share.

Launchers run queued runs somewhere else than the API's reactor (DESIGN.md decision 1). The
store is the queue: a launcher claims queued runs atomically, so runs queued while the server
was down start when it is back, and two servers never start the same run.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from twisted.internet import task

from engine.store import Row, Store, runs
from engine.store.status import ERROR

logger = logging.getLogger(__name__)


class Launcher(Protocol):
    """Starts queued runs and stops them when asked."""

    name: str

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def kick(self) -> None:
        """New work was queued: look for it now rather than at the next poll."""
    def cancel(self, run: Row) -> None: ...
    def nudge(self, run: Row) -> None:
        """`run` has new work (an interactive job's download tasks): start it when it is
        queued, or tell its crawl process to take the work now if this launcher can."""


def poll_after(recovery: Any, loop: task.LoopingCall, interval: float) -> None:
    """Start a launcher's poll loop once `recovery` (a Deferred: sorting out the runs an
    earlier server left) is done, whether it worked or not."""
    recovery.addErrback(lambda f: logger.error("recovery failed: %s", f.getTraceback()))
    recovery.addBoth(lambda _: loop.start(interval, now=True))


def stop_polling(loop: task.LoopingCall) -> None:
    if loop.running:
        loop.stop()


def settle(store: Store, run_id: str, error: str) -> None:
    """A run's process is gone: a run it left active ends as an error with the reason."""
    runs.finish(store, run_id, ERROR, error)
