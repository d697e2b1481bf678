"""The local launcher: crawls in child processes of the server, one run per process, at most
`max_processes` at once (DESIGN.md decision 1; the contract is in launchers/base.py).

With warm workers on (CRAWLPLANE_WARM_WORKERS, default 1), runs are forked by a fork server
(engine/forkserver.py) that has imported Scrapy and the engine once: every run of a burst
starts in milliseconds, in a fresh process of its own. With 0, each run starts a new Python."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from twisted.internet import protocol, task, threads
from twisted.internet.interfaces import IReactorProcess, IReactorTime

from control_api.config import Config
from control_api.launchers.base import Launcher, poll_after, settle, stop_polling
from engine.extensions.jobs import NUDGE
from engine.store import Row, Store, runs
from engine.store.runs import claim

logger = logging.getLogger(__name__)
KILL_AFTER = 10.0  # seconds between SIGTERM (Scrapy's graceful stop) and SIGKILL
RESPAWN_AFTER = 1.0  # seconds before a fork server that exited is started again


__all__ = ["Launcher", "LocalLauncher", "claim", "recover", "settle"]


def recover(store: Store, launcher: str) -> tuple[dict[str, int], list[str]]:
    """Sort the runs a launcher of an earlier server left active: crawls still running to
    adopt (run id -> pid), runs whose process is gone to finish; runs it claimed but never
    started go back to the queue."""
    adopt: dict[str, int] = {}
    gone: list[str] = []
    for run in runs.active_runs(store, launcher):
        pid = int(run["handle"] or 0)
        if pid and pid_alive(pid):
            adopt[run["id"]] = pid
        elif run["status"] == "queued":
            runs.requeue(store, run["id"])
        else:
            gone.append(run["id"])
    return adopt, gone


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Forked:
    """A run's crawl process forked by the fork server (its pid known once it reports it)."""

    stderr = b""  # the child writes its stderr into the run's log

    def __init__(self, run_id: str):
        self.run_id: str | None = run_id
        self.pid = 0
        self.pending_signal: str | None = None  # asked before the pid was known

    def signal(self, name: str) -> None:
        if not self.pid:
            self.pending_signal = name
            return
        with suppress(ProcessLookupError):
            os.kill(self.pid, getattr(signal, f"SIG{name}"))


class ForkServer(protocol.ProcessProtocol):
    """The fork server process (engine/forkserver.py): forks one crawl process per run."""

    def __init__(self, launcher: LocalLauncher):
        self.launcher = launcher
        self.buffer = b""
        self.stderr = b""

    def start(self, run: Row) -> None:
        assert self.transport is not None
        self.transport.write(json.dumps({"task_id": run["task_id"], "run_id": run["id"]})
                             .encode() + b"\n")

    def outReceived(self, data: bytes) -> None:
        *lines, self.buffer = (self.buffer + data).split(b"\n")
        for line in lines:
            if line.strip():
                message = json.loads(line)
                if "run_id" in message:
                    self.launcher.forked(message["run_id"], int(message["pid"]))
                else:
                    self.launcher.child_ended(int(message["pid"]), message["code"])

    def errReceived(self, data: bytes) -> None:
        self.stderr = (self.stderr + data)[-4000:]

    def close(self) -> None:
        if self.transport is not None:
            self.transport.closeStdin()  # it exits; its children finish their runs

    def processEnded(self, reason: Any) -> None:
        self.launcher.fork_server_ended(self)


class Worker(protocol.ProcessProtocol):
    """One crawl process started for one run (no fork server): runs it and exits."""

    def __init__(self, launcher: LocalLauncher):
        self.launcher = launcher
        self.run_id: str | None = None
        self.stderr = b""

    def assign(self, run: Row) -> None:
        self.run_id = run["id"]
        assert self.transport is not None
        self.transport.write(json.dumps({"task_id": run["task_id"], "run_id": run["id"]})
                             .encode() + b"\n")
        self.transport.closeStdin()

    @property
    def pid(self) -> int:
        return int(self.transport.pid) if self.transport and self.transport.pid else 0

    def errReceived(self, data: bytes) -> None:
        self.stderr = (self.stderr + data)[-4000:]

    def signal(self, name: str) -> None:
        if self.transport is not None and self.transport.pid:
            self.transport.signalProcess(name)

    def processEnded(self, reason: Any) -> None:
        code = getattr(reason.value, "exitCode", None)
        self.launcher.ended(self, code)


class LocalLauncher:
    """Runs crawls in child processes of the server, at most `max_processes` at once."""

    def __init__(self, store: Store, config: Config, reactor: Any,
                 on_finished: Callable[[str], object], poll_interval: float = 1.0):
        # Per host, so servers on several machines sharing one store keep to their own runs.
        self.name = f"local:{socket.gethostname()}"
        self.store = store
        self.config = config
        self.reactor = reactor
        self.on_finished = on_finished
        self.running: dict[str, Worker | Forked] = {}
        self.adopted: dict[str, int] = {}  # run id -> pid of a crawl left by an earlier server
        self.fork_server: ForkServer | None = None
        self._claiming = False
        self._stopping = False
        self._watch: task.LoopingCall | None = None
        self._by_pid: dict[int, Forked] = {}
        self._loop = task.LoopingCall(self.kick)
        self._loop.clock = reactor
        self.poll_interval = poll_interval

    # -- life cycle ---------------------------------------------------------------------

    def start(self) -> None:
        self._start_fork_server()
        recovery = threads.deferToThread(recover, self.store, self.name)
        recovery.addCallback(self._recover)
        poll_after(recovery, self._loop, self.poll_interval)

    def stop(self) -> None:
        self._stopping = True
        stop_polling(self._loop)
        if self.fork_server is not None:
            self.fork_server.close()
        # Crawls go on without the server; a restarted server adopts them by pid.

    def _recover(self, found: tuple[dict[str, int], list[str]]) -> None:
        adopt, gone = found
        self.adopted.update(adopt)
        for run_id in gone:
            self._finished(run_id, "the server stopped while this run was active and its "
                                   "crawl process is gone")
        if adopt:
            logger.info("adopted %d crawls left running by an earlier server", len(adopt))
            self._watch_pids()

    def _watch_pids(self) -> None:
        if self._watch is None:
            self._watch = task.LoopingCall(self._watch_adopted)
            self._watch.clock = self.reactor
            self._watch.start(1.0, now=False)

    def _watch_adopted(self) -> None:
        for run_id, pid in list(self.adopted.items()):
            if not pid_alive(pid):
                del self.adopted[run_id]
                self._finished(run_id, "the crawl process exited without finishing its run")

    # -- launching ----------------------------------------------------------------------

    @property
    def free(self) -> int:
        return self.config.max_processes - len(self.running) - len(self.adopted)

    def kick(self) -> None:
        if self._claiming or self._stopping or self.free <= 0:
            return
        self._claiming = True
        d = threads.deferToThread(claim, self.store, self.name, self.free)
        d.addCallback(self._launch_all)
        d.addErrback(lambda f: logger.error("claiming runs failed: %s", f.getTraceback()))
        d.addBoth(self._claimed)

    def _claimed(self, _: object) -> None:
        self._claiming = False

    def _launch_all(self, claimed: list[Row]) -> None:
        for run in claimed:
            if self.fork_server is not None:
                self.running[run["id"]] = Forked(run["id"])
                self.fork_server.start(run)  # placed when its pid is known (`forked`)
                continue
            worker = self._spawn(Worker(self), "engine.worker")
            worker.assign(run)
            self.running[run["id"]] = worker
            threads.deferToThread(runs.place, self.store, run["id"], str(worker.pid))

    def _spawn(self, proto: Any, module: str) -> Any:
        env = {**os.environ, **self.config.crawl_env()}
        process: IReactorProcess = self.reactor
        process.spawnProcess(proto, sys.executable, [sys.executable, "-m", module],
                             env=env, childFDs={0: "w", 1: "r", 2: "r"})
        return proto

    # -- the fork server ------------------------------------------------------------------

    def _start_fork_server(self) -> None:
        if self.config.warm_workers > 0 and not self._stopping and self.fork_server is None:
            self.fork_server = self._spawn(ForkServer(self), "engine.forkserver")

    def forked(self, run_id: str, pid: int) -> None:
        crawl = self.running.get(run_id)
        if not isinstance(crawl, Forked):
            return
        crawl.pid = pid
        self._by_pid[pid] = crawl
        threads.deferToThread(runs.place, self.store, run_id, str(pid))
        if crawl.pending_signal:
            crawl.signal(crawl.pending_signal)

    def child_ended(self, pid: int, code: int) -> None:
        crawl = self._by_pid.pop(pid, None)
        if crawl is not None:
            self.ended(crawl, code)

    def fork_server_ended(self, server: ForkServer) -> None:
        if self.fork_server is not server:
            return
        self.fork_server = None
        for run_id, crawl in list(self.running.items()):
            if not isinstance(crawl, Forked):
                continue
            if crawl.pid:  # it goes on without its parent: watched by pid from now on
                del self.running[run_id]
                self._by_pid.pop(crawl.pid, None)
                self.adopted[run_id] = crawl.pid
                self._watch_pids()
            else:  # asked for, never forked
                crawl.stderr = server.stderr
                self.ended(crawl, None)
        if not self._stopping:
            logger.error("the fork server exited: %s", server.stderr.decode("utf-8", "replace")
                         .strip().splitlines()[-1:])
            self.reactor.callLater(RESPAWN_AFTER, self._start_fork_server)

    def ended(self, worker: Worker | Forked, code: int | None) -> None:
        if worker.run_id is None or self.running.get(worker.run_id) is not worker:
            return
        self.running.pop(worker.run_id, None)
        detail = worker.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        self._finished(worker.run_id,
                       f"the crawl process exited with code {code} without finishing its run"
                       + (f": {detail[0]}" if detail[0] else ""))
        if not self._stopping:
            self.kick()

    def _finished(self, run_id: str, error: str) -> None:
        d = threads.deferToThread(settle, self.store, run_id, error)
        d.addCallback(lambda _: self.on_finished(run_id))
        d.addErrback(lambda f: logger.error("finishing run %s failed: %s", run_id,
                                            f.getTraceback()))

    def cancel(self, run: Row) -> None:
        if run["launcher"] is None:  # never started: no process will report its end
            self.on_finished(run["id"])
            return
        worker = self.running.get(run["id"])
        pid = self.adopted.get(run["id"])
        if worker is not None:
            worker.signal("TERM")
            time_: IReactorTime = self.reactor
            time_.callLater(KILL_AFTER, self._kill, run["id"], worker)
        elif pid:
            os.kill(pid, signal.SIGTERM)

    def nudge(self, run: Row) -> None:
        """A queued run starts; a running crawl process of this server takes its new work at
        once (engine/extensions/jobs.py polls on NUDGE), others poll the store anyway."""
        if run["status"] == "queued":
            self.kick()
            return
        handle = str(run.get("handle") or "")
        if (NUDGE is not None and run["status"] == "running"
                and run.get("launcher") == self.name and handle.isdigit()):
            with suppress(OSError):  # gone meanwhile: its successor polls anyway
                os.kill(int(handle), NUDGE)

    def _kill(self, run_id: str, worker: Worker | Forked) -> None:
        if self.running.get(run_id) is worker:
            worker.signal("KILL")
