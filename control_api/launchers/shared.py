"""Shared crawl processes of the local launcher (engine/shared.py): small runs side by side in
one process forked by the fork server, at most `capacity` at once and `recycle` in its life;
one slot of CRAWLPLANE_MAX_PROCESSES each.

A run in a shared process is stopped by a command over the process's stdin (relayed by the
fork server), never by a signal to the pid, which would stop its neighbours too."""

from __future__ import annotations

import os
import signal
from contextlib import suppress
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from control_api.launchers.processes import ForkServer


def pick(rooms: list[int], used: list[int], slots: int) -> int:
    """Where a small run goes, given each shared process's room and runs, and the free slots:
    the index of one, len(rooms) for a new one, -1 for nowhere. Runs are spread over the
    slots (each process starts its crawlers one after the other, on one core): a new process
    while a slot is free and each has a run already, else the one with the fewest runs."""
    open_ = [i for i, room in enumerate(rooms) if room > 0]
    best = min(open_, key=lambda i: used[i]) if open_ else -1
    if slots > 0 and (best < 0 or used[best] > 0):
        return len(rooms)
    return best


class SharedProcess:
    def __init__(self, server: ForkServer, number: int, capacity: int, recycle: int):
        self.server = server
        self.number = number
        self.capacity = capacity
        self.recycle = max(1, recycle)
        self.pid = 0  # known once the fork server reports it
        self.runs: dict[str, SharedRun] = {}
        self.taken = 0  # runs given to it in its life
        self.draining = False
        self.alone: str | None = None  # a run that took it as its own: no other meanwhile
        server.tell({"shared": number, "runs": capacity})

    @property
    def room(self) -> int:
        if self.draining or self.alone:
            return 0
        return max(0, min(self.capacity - len(self.runs), self.recycle - self.taken))

    def assign(self, run: dict[str, Any], alone: bool = False) -> SharedRun:
        """Give it a run; `alone`, as its only one until it ends (an idle process's)."""
        handle = SharedRun(self, run["id"])
        self.runs[run["id"]] = handle
        self.taken += 1
        if alone:
            self.alone = run["id"]
        self.command({"run": {"task_id": run["task_id"], "run_id": run["id"]},
                      "alone": alone})
        if self.taken >= self.recycle:  # replaced by a fresh process once these are done
            self.drain()
        return handle

    def ended(self, run_id: str) -> SharedRun | None:
        """A run of it ended: its handle, if it had it (it takes others again)."""
        if self.alone == run_id:
            self.alone = None
        return self.runs.pop(run_id, None)

    def command(self, message: dict[str, Any]) -> None:
        self.server.tell({"to": self.number, "message": message})

    def drain(self) -> None:
        if not self.draining:
            self.draining = True
            self.command({"drain": True})


class SharedRun:
    """A run's handle in a shared process, as `Forked` is for a process of its own."""

    stderr = b""  # the run's own errors are in its log
    helper = False

    def __init__(self, process: SharedProcess, run_id: str):
        self.process = process
        self.run_id: str | None = run_id

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def ended_pid(self) -> int:
        return self.process.pid

    @property
    def alone(self) -> bool:
        """Whether it has its process to itself (took it alone, or the last run of one that
        takes no more)."""
        process = self.process
        return process.alone == self.run_id or (
            process.draining and set(process.runs) == {self.run_id})

    def signal(self, name: str) -> None:
        # TERM (cancel, server stop): that run's crawler stops as Scrapy's SIGTERM would.
        # KILL only to a run alone in its process: it would end its neighbours' too (the
        # launcher lets such a run go instead: LocalLauncher._kill).
        if name == "TERM" and self.run_id is not None:
            self.process.command({"stop": self.run_id})
        elif name == "KILL" and self.alone and self.process.pid:
            with suppress(OSError):  # (exited meanwhile: its end is reported by pid)
                os.kill(self.process.pid, signal.SIGKILL)
