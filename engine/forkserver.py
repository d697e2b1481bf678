"""The fork server: imports Scrapy and the engine once, then forks a fresh crawl process for
each run, so that no run pays for Python's and Scrapy's start-up (about 1.4 s) and a burst of
runs starts at once (DESIGN.md decision 1).

It never holds what must not be shared across a fork: no reactor exists in it (the child
installs its own), no store is opened (the child opens its own), no threads run. Each child is
one run in one process, as with a warm worker: its own log file (stderr goes there too), its own
signals (SIGTERM stops it gracefully, the launcher's cancel), its pid the run's handle.

Protocol, JSON lines: stdin `{"task_id", "run_id"}` forks a run; stdout answers
`{"run_id", "pid"}` once forked, and `{"pid", "code"}` when a child has exited (code negative:
killed by that signal). EOF on stdin (the server went away) ends the fork server; its children
go on and finish their runs (a new server adopts them by pid).

Shared crawl processes (engine/shared.py: several small runs side by side): stdin
`{"shared": N, "runs": R}` forks one, numbered N by the launcher, which gives it at most R runs
at once, with a pipe for its stdin; stdout answers `{"shared": N, "pid"}`.
`{"to": N, "message": {...}}` passes a command on to shared process N (it may be asked before
its pid is known). A shared process reports each run's end itself on
this process's stdout (`{"from": N, "run_id", "code", "reason"}`; lines are written whole,
so they do not interleave with ours).
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import select
import signal
import sys
from pathlib import Path
from typing import Any

from engine.shared import serve, shared_log_path
from engine.worker import crawl, log_path, prepare


def main() -> int:
    settings = prepare()
    # What every child inherits (Scrapy, the engine, their modules) out of the collector's
    # sight: a child's full collections do not walk it again, nor write to its pages (which
    # stay shared with this process). Python's advice for a process that forks without exec.
    gc.freeze()
    if "twisted.internet.reactor" in sys.modules:  # a module imported it at import time
        raise SystemExit("fork server: a reactor was installed while importing; refusing to "
                         "fork (import twisted.internet.reactor inside functions only)")
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # wakes select through the wakeup fd
    stdin = sys.stdin.fileno()
    pending = b""
    shared = Pipes()
    while True:
        with contextlib.suppress(InterruptedError):
            readable, _, _ = select.select([stdin, wake_r], [], [])
        if wake_r in readable:
            os.read(wake_r, 4096)
            reap(shared)
        if stdin in readable:
            chunk = os.read(stdin, 65536)
            if not chunk:
                return 0  # the server is gone: children finish on their own
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if line.strip():
                    handle(settings, json.loads(line), (wake_r, wake_w), shared)
        reap(shared)


class Pipes:
    """The write ends of the shared crawl processes' stdin, by their number and pid."""

    def __init__(self) -> None:
        self.fds: dict[int, int] = {}
        self.numbers: dict[int, int] = {}  # pid -> number

    def add(self, number: int, pid: int, fd: int) -> None:
        self.fds[number] = fd
        self.numbers[pid] = number

    def send(self, number: int, message: dict[str, Any]) -> None:
        fd = self.fds.get(number)
        if fd is None:
            return
        try:
            os.write(fd, json.dumps(message).encode() + b"\n")
        except OSError:  # it exited meanwhile: its end is reported by pid
            pass

    def ended(self, pid: int) -> None:
        number = self.numbers.pop(pid, None)
        fd = self.fds.pop(number, None) if number is not None else None
        if fd is not None:
            os.close(fd)


def handle(settings: Any, job: dict[str, Any], fds: tuple[int, int], shared: Pipes) -> None:
    if "to" in job:
        shared.send(int(job["to"]), job["message"])
    elif "shared" in job:
        read, write = os.pipe()
        pid = fork(settings, job, (*fds, write, *shared.fds.values()), stdin=read)
        os.close(read)
        shared.add(int(job["shared"]), pid, write)
        say({"shared": job["shared"], "pid": pid})
    else:
        pid = fork(settings, job, (*fds, *shared.fds.values()))
        say({"run_id": job["run_id"], "pid": pid})


def fork(settings: Any, job: dict[str, Any], fds: tuple[int, ...], stdin: int = -1) -> int:
    """A child for `job`: one run, or a shared crawl process (reading commands on `stdin`).
    `fds` are this process's own descriptors, which the child closes (a shared process's
    stdin pipe held open by another child would never see its EOF)."""
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:  # the child: the fork server's signal plumbing off, stdio its own
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd in fds:
            os.close(fd)
        null = os.open(os.devnull, os.O_RDWR)
        data_dir = Path(settings["CRAWLPLANE_DATA_DIR"])
        if stdin >= 0:  # a shared crawl process: stdout stays ours, for its reports
            os.dup2(stdin, 0)
            os.close(stdin)
            log_file = shared_log_path(data_dir, os.getpid())
        else:
            os.dup2(null, 0)
            os.dup2(null, 1)
            log_file = log_path(data_dir, job["run_id"])
        log_file.parent.mkdir(parents=True, exist_ok=True)
        err = os.open(log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.dup2(err, 2)
        if stdin >= 0:
            serve(settings, int(job["shared"]), int(job.get("runs", 1)))
        else:
            crawl(settings, job)
        code = 0
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        logging.shutdown()
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        os._exit(code)


def reap(shared: Pipes) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        shared.ended(pid)
        say({"pid": pid, "code": os.waitstatus_to_exitcode(status)})


def say(message: dict[str, Any]) -> None:
    try:
        os.write(1, json.dumps(message).encode() + b"\n")
    except BrokenPipeError:  # the server is gone; EOF on stdin ends this loop next
        pass


if __name__ == "__main__":
    sys.exit(main())
