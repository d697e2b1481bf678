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
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import signal
import sys
from pathlib import Path
from typing import Any

from engine.worker import crawl, log_path, prepare


def main() -> int:
    settings = prepare()
    if "twisted.internet.reactor" in sys.modules:  # a module imported it at import time
        raise SystemExit("fork server: a reactor was installed while importing; refusing to "
                         "fork (import twisted.internet.reactor inside functions only)")
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # wakes select through the wakeup fd
    stdin = sys.stdin.fileno()
    pending = b""
    while True:
        with contextlib.suppress(InterruptedError):
            readable, _, _ = select.select([stdin, wake_r], [], [])
        if wake_r in readable:
            os.read(wake_r, 4096)
            reap()
        if stdin in readable:
            chunk = os.read(stdin, 65536)
            if not chunk:
                return 0  # the server is gone: children finish on their own
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if line.strip():
                    job = json.loads(line)
                    pid = fork(settings, job, (wake_r, wake_w))
                    say({"run_id": job["run_id"], "pid": pid})
        reap()


def fork(settings: Any, job: dict[str, str], fds: tuple[int, int]) -> int:
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
        os.dup2(null, 0)
        os.dup2(null, 1)
        log_file = log_path(Path(settings["CRAWLPLANE_DATA_DIR"]), job["run_id"])
        log_file.parent.mkdir(parents=True, exist_ok=True)
        err = os.open(log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.dup2(err, 2)
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


def reap() -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        say({"pid": pid, "code": os.waitstatus_to_exitcode(status)})


def say(message: dict[str, Any]) -> None:
    try:
        os.write(1, json.dumps(message).encode() + b"\n")
    except BrokenPipeError:  # the server is gone; EOF on stdin ends this loop next
        pass


if __name__ == "__main__":
    sys.exit(main())
