"""The local launcher: crawls in child processes of the server, one run per process, at most
`max_processes` at once (DESIGN.md decision 1; the contract is in launchers/base.py).

With warm workers on (CRAWLPLANE_WARM_WORKERS, default 1), runs are forked by a fork server
(engine/forkserver.py) that has imported Scrapy and the engine once: every run of a burst
starts in milliseconds, in a fresh process of its own. With 0, each run starts a new Python.

Small runs (engine/small.py, decided from the stored scheme when claimed) share a crawl process
forked by the fork server instead (engine/shared.py, launchers/shared.py): a burst of one-page
tasks runs side by side rather than queueing for the slots, each shared process one slot. Up to
READY_SHARED of them wait ready while slots are free; a larger run takes an idle one as its only
run when it may (`alone_in_shared`; it takes others again once that run has finished, and
exits with one that was stopped), and otherwise its slot."""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from twisted.internet import task, threads
from twisted.internet.interfaces import IReactorProcess, IReactorTime

from control_api.config import Config
from control_api.launchers.base import Launcher, poll_after, settle, stop_polling
from control_api.launchers.processes import Forked, ForkServer, Worker, pid_alive
from control_api.launchers.shared import SharedProcess, SharedRun, pick
from engine.frontier import worker_for
from engine.frontier.jobs import NUDGE
from engine.small import alone_in_shared, is_small
from engine.store import Row, Store, outage, runs
from engine.store.frontier import release
from engine.store.runs import claim
from engine.store.status import QUEUED, TERMINAL_STATUSES

logger = logging.getLogger(__name__)
KILL_AFTER = 10.0  # seconds between SIGTERM (Scrapy's graceful stop) and SIGKILL
RESPAWN_AFTER = 1.0  # seconds before a fork server that exited is started again
RECOVER_AGAIN = 5.0  # seconds before a dead crawl's run is taken back again, if that failed
READY_SHARED = 2  # idle shared crawl processes kept ready, slots allowing (each takes one)
# Idle shared processes that die (their store refused them, say) are made again after a
# delay that doubles with each such death, up to this many seconds: at once, the launcher
# forked some 35 a second, each leaving a log file, for as long as the cause lasted.
READY_AGAIN_MAX = 30.0


__all__ = ["Launcher", "LocalLauncher", "claim", "recover", "settle"]


def handle_pid(run: Row) -> int:
    """The pid a local run's handle names (its crawl process), 0 when it has none yet."""
    return int(run["handle"] or 0)


def recover(store: Store, launcher: str
            ) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    """Sort the runs a launcher of an earlier server left active: crawls still running to
    adopt (run id -> pid), runs whose process is gone to carry on (run id -> its pid); runs it
    claimed but never started go back to the queue, and so do the runs it paused when its
    server stopped, once their crawl has finished what it had in flight (run id -> the pid
    still finishing: resumed now, a second process would fetch the same pages)."""
    adopt: dict[str, int] = {}
    gone: dict[str, int] = {}
    finishing: dict[str, int] = {}
    for run in runs.active_runs(store, launcher):
        pid = handle_pid(run)
        if pid and pid_alive(pid):
            adopt[run["id"]] = pid
        elif run["status"] == "queued":
            runs.requeue(store, run["id"])
        else:
            gone[run["id"]] = pid
    resumed = 0
    for run in runs.paused_by(store, paused_by(launcher)):
        pid = handle_pid(run)
        if pid and pid_alive(pid):
            finishing[run["id"]] = pid
        elif runs.resume(store, run["id"]):
            resumed += 1
    if resumed:
        logger.info("resumed %d runs paused when the server stopped", resumed)
    return adopt, gone, finishing


def claim_processes(store: Store, launcher: str, limit: int,
                    fits: Callable[[Row], bool] | None = None) -> list[Row]:
    """`claim`, with the crawl processes each run's scheme asks for (`processes`) and whether
    it may share a crawl process (`small`); with `fits`, only the runs there is room for."""
    claimed = claim(store, launcher, limit, fits, scan=2 * limit + 10)
    for run in claimed:
        run["processes"] = int(run["scheme"].get("processes") or 1)
        run["small"] = is_small(run["scheme"], run["kind"])
        run["alone"] = alone_in_shared(run["scheme"], run["kind"])
    return claimed


def paused_by(launcher: str) -> str:
    """How a run paused by a stopping server is marked, to be resumed when it starts."""
    return f"server:{launcher}"


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
        self.running: dict[str, Worker | Forked | SharedRun] = {}
        # A run's other processes ("processes": N), on the same frontier.
        self.helpers: dict[str, list[Worker | Forked]] = {}
        self.relaunch: dict[str, Row] = {}  # claimed runs whose previous process still exits
        self.adopted: dict[str, int] = {}  # run id -> pid of a crawl left by an earlier server
        # run id -> pid: paused by the stopping server, resumed once that crawl has exited
        self.finishing: dict[str, int] = {}
        self.fork_server: ForkServer | None = None
        self.shared: dict[int, SharedProcess] = {}  # by the number the launcher gave it
        self._shared_by_pid: dict[int, SharedProcess] = {}
        self._shared_count = 0
        self._idle_deaths = 0  # idle shared processes that died since one last ran a run
        self._ready_after = 0.0  # no new idle shared process before this (reactor seconds)
        self._claiming = False
        self._kick_again = False  # asked to kick while claiming: claim again once done
        self._placing: list[tuple[str, str]] = []  # (run id, handle) to write, in one go
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
        # Runs are paused: their crawls finish what is in flight and exit; the frontier stays
        # in the store, and this server resumes them when it starts again.
        for run_id, worker in list(self.running.items()):
            if runs.pause(self.store, run_id, by=paused_by(self.name)):
                for one in [worker, *self.helpers.get(run_id, [])]:
                    one.signal("TERM")
        for run_id, pid in list(self.adopted.items()):
            if runs.pause(self.store, run_id, by=paused_by(self.name)):
                with suppress(OSError):
                    os.kill(pid, signal.SIGTERM)
        if self.fork_server is not None:  # (after: it passes the shared processes' stops on)
            self.fork_server.close()

    def _recover(self, found: tuple[dict[str, int], dict[str, int], dict[str, int]]) -> None:
        adopt, gone, finishing = found
        self.adopted.update(adopt)
        self.finishing.update(finishing)
        for run_id in gone:  # (pid 0: every page its processes held goes back)
            self._died(run_id, 0, "the server stopped while this run was active and its "
                                    "crawl process is gone")
        if adopt:
            logger.info("adopted %d crawls left running by an earlier server", len(adopt))
        if adopt or finishing:
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
                self._died(run_id, pid, "the crawl process exited without finishing its run")
        for run_id, pid in list(self.finishing.items()):
            if not pid_alive(pid):
                del self.finishing[run_id]
                resumed = threads.deferToThread(runs.resume, self.store, run_id)
                resumed.addCallback(lambda _: self.kick())

    # -- launching ----------------------------------------------------------------------

    @property
    def free(self) -> int:
        """Crawl process slots free: a shared process takes one, whatever its runs."""
        helpers = sum(len(workers) for workers in self.helpers.values())
        own = sum(1 for crawl in self.running.values() if not isinstance(crawl, SharedRun))
        # (an adopted shared process's runs have one pid)
        return (self.config.max_processes - own - len(set(self.adopted.values())) - helpers
                - len(self.shared))

    @property
    def sharing(self) -> bool:
        return self.config.shared_runs > 0 and self.fork_server is not None

    def kick(self) -> None:
        if self._claiming:  # runs queued meanwhile are claimed next, not at the next poll
            self._kick_again = True
            return
        if self._stopping:
            return
        fits, limit = None, self.free
        if self.sharing:
            fits, limit = self._planner()
        if limit <= 0:
            return
        self._claiming = True
        d = threads.deferToThread(claim_processes, self.store, self.name, limit, fits)
        d.addCallback(self._launch_all)
        d.addErrback(lambda f: outage.log_failure(logger, "claiming runs failed", f))
        d.addBoth(self._claimed)

    def _planner(self) -> tuple[Callable[[Row], bool], int]:
        """Which queued runs there is room for, asked in queue order (in the claim's thread,
        on a copy of the room now): a small run goes to a shared process (`pick`), which may
        take a free slot; any other run takes an idle shared process when it may run alone in
        one, else a free slot, else an idle one's slot. `_launch_all` places them the same
        way."""
        slots = self.free
        per_process = min(self.config.shared_runs, max(1, self.config.shared_recycle))
        rooms = [p.room for p in self.shared.values()]
        used = [len(p.runs) for p in self.shared.values()]

        def fits(run: Row) -> bool:
            nonlocal slots
            if is_small(run["scheme"], run["kind"]):
                where = pick(rooms, used, slots)
                if where < 0:
                    return False
                if where == len(rooms):
                    slots -= 1
                    rooms.append(per_process)
                    used.append(0)
                rooms[where] -= 1
                used[where] += 1
                return True
            idle = next((i for i in range(len(rooms)) if not used[i] and rooms[i] > 0), -1)
            if idle >= 0 and alone_in_shared(run["scheme"], run["kind"]):
                rooms[idle] = 0
                used[idle] = 1
                return True
            if slots > 0:
                slots -= 1
                return True
            if idle >= 0:  # its slot, reclaimed (`_reclaim_idle`)
                rooms[idle] = 0
                return True
            return False

        return fits, max(0, slots) * per_process + sum(rooms)

    def _claimed(self, _: object) -> None:
        self._claiming = False
        if self._kick_again:
            self._kick_again = False
            self.kick()
        else:
            self._keep_ready()

    def _keep_ready(self) -> None:
        """Shared processes waiting for small runs (up to READY_SHARED) while slots are free and
        nothing queued needs them (a claim just found none): a burst's runs start at once
        instead of waiting for a process to be forked and its reactor made."""
        if not self.sharing or self._stopping or self._claiming:
            return
        if self.reactor.seconds() < self._ready_after:
            return
        for _ in range(min(READY_SHARED - len(self._idle_shared()), self.free)):
            self._new_shared()

    def _idle_shared(self) -> list[int]:
        """The shared processes that wait for runs (a drained one has none to wait for)."""
        return [number for number, p in self.shared.items() if not p.runs and not p.draining]

    def _reclaim_idle(self) -> None:
        """A run that needs a slot of its own when none is free takes an idle shared process's:
        told to drain, it exits at once (it has nothing to finish) and no longer counts.
        Shared processes stay up while idle (their next runs start at once) for this reason."""
        for number in self._idle_shared()[:1]:
            self.shared.pop(number).drain()

    def _launch_all(self, claimed: list[Row]) -> None:
        room = self.free + len(self._idle_shared()) - len(claimed)  # (for helpers)
        for run in claimed:
            if run.get("small") and self.sharing and run["id"] not in self.running:
                self._share(run)
                continue
            if run["id"] in self.running:
                # Resumed while its paused process still finishes what was in flight: two
                # processes alone on one frontier would fetch the same pages. It starts when
                # that one has exited (`ended`).
                self.relaunch[run["id"]] = run
                continue
            idle = self._idle_shared()
            if run.get("alone") and self.sharing and idle:
                self._share_alone(self.shared[idle[0]], run)
                continue
            if self.free <= 0:
                self._reclaim_idle()
            self.running[run["id"]] = self._launch(run)
            # More processes on the run's frontier, as its scheme asks, as far as slots allow.
            more = min(run["processes"], self.config.max_run_processes) - 1
            for _ in range(max(0, min(more, room))):
                if self.free <= 0:
                    self._reclaim_idle()
                if self.free <= 0:  # (a small run of this claim took the idle one)
                    break
                self.helpers.setdefault(run["id"], []).append(self._launch(run, helper=True))
                room -= 1

    def _share(self, run: Row) -> None:
        """A small run into a shared process with room, or a new one in a free slot."""
        assert self.fork_server is not None
        processes = list(self.shared.values())
        where = pick([p.room for p in processes], [len(p.runs) for p in processes], self.free)
        if where < 0:  # the room it was claimed for is gone: back to the queue
            threads.deferToThread(runs.requeue, self.store, run["id"])
            return
        process = processes[where] if where < len(processes) else self._new_shared()
        self.running[run["id"]] = process.assign(run)
        if process.pid:
            self._place(run["id"], process.pid)

    def _share_alone(self, process: SharedProcess, run: Row) -> None:
        """A run into an idle shared process as its only one: the process takes no other until
        it ends, then waits for the next (`shared_run_ended`)."""
        self.running[run["id"]] = process.assign(run, alone=True)
        if process.pid:
            self._place(run["id"], process.pid)

    def _new_shared(self) -> SharedProcess:
        assert self.fork_server is not None
        self._shared_count += 1
        process = SharedProcess(self.fork_server, self._shared_count, self.config.shared_runs,
                                self.config.shared_recycle)
        self.shared[process.number] = process
        return process

    def _launch(self, run: Row, helper: bool = False) -> Worker | Forked:
        """One crawl process on the run: forked by the fork server when there is one (placed
        when its pid is known, `forked`), else a new Python. The run's handle is its first
        process's pid."""
        if self.fork_server is not None:
            crawl = Forked(run["id"], helper)
            self.fork_server.start(run)
            return crawl
        worker: Worker = self._spawn(Worker(self), "engine.worker")
        worker.assign(run)
        if not helper:
            threads.deferToThread(runs.place, self.store, run["id"], str(worker.pid))
        return worker

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
        # The fork server answers in the order it was asked: the run's first unplaced process.
        crawls = [self.running.get(run_id), *self.helpers.get(run_id, [])]
        crawl = next((c for c in crawls if isinstance(c, Forked) and not c.pid), None)
        if crawl is None:
            return
        crawl.pid = pid
        self._by_pid[pid] = crawl
        if not crawl.helper:
            self._place(run_id, pid)
        if crawl.pending_signal:
            crawl.signal(crawl.pending_signal)

    def child_ended(self, pid: int, code: int) -> None:
        process = self._shared_by_pid.pop(pid, None)
        if process is not None:  # every run it still had died with it
            self.shared.pop(process.number, None)
            if not process.runs and not process.draining and not self._stopping:
                self._died_idle()
            for run_id in list(process.runs):
                self.ended(process.runs.pop(run_id), code)
            if not self._stopping:
                self.kick()
            return
        crawl = self._by_pid.pop(pid, None)
        if crawl is not None:
            self.ended(crawl, code)

    def shared_forked(self, number: int, pid: int) -> None:
        process = self.shared.get(number)
        if process is None:
            return
        process.pid = pid
        self._shared_by_pid[pid] = process
        for run_id in process.runs:  # the runs given to it before its pid was known
            self._place(run_id, pid)

    def _place(self, run_id: str, pid: int) -> None:
        """Record the run's handle (its process's pid); those of one reactor turn (a burst
        placed at once) in one transaction."""
        if not self._placing:
            time_: IReactorTime = self.reactor
            time_.callLater(0, self._place_now)
        self._placing.append((run_id, str(pid)))

    def _place_now(self) -> None:
        placed, self._placing = self._placing, []
        d = threads.deferToThread(runs.place_all, self.store, placed)
        d.addErrback(lambda f: outage.log_failure(logger, "placing runs failed", f))

    def _died_idle(self) -> None:
        """An idle shared process died, not told to: the next ones wait, longer each time."""
        self._idle_deaths += 1
        delay = min(READY_AGAIN_MAX, RESPAWN_AFTER * 2 ** (self._idle_deaths - 1))
        self._ready_after = self.reactor.seconds() + delay
        logger.error("an idle shared crawl process exited (%d in a row); the next in %.0f s "
                     "(its log: logs/shared/)", self._idle_deaths, delay)
        self.reactor.callLater(delay, self.kick)

    def shared_run_ended(self, number: int, run_id: str, code: int,
                         reason: str | None = None) -> None:
        if reason == "finished":  # shared processes work again
            self._idle_deaths, self._ready_after = 0, 0.0
        process = self.shared.get(number)
        if process is not None and process.alone == run_id and reason != "finished":
            # A run that had the process to itself and was stopped (cancelled, paused, out of
            # store, ...): the process goes with it, as a process of the run's own would.
            process.drain()
        crawl = process.ended(run_id) if process is not None else None
        if crawl is not None:
            self.ended(crawl, code)

    def fork_server_ended(self, server: ForkServer) -> None:
        if self.fork_server is not server:
            return
        self.fork_server = None
        for process in self.shared.values():  # they go on, draining: watched by pid
            for run_id, shared_run in process.runs.items():
                del self.running[run_id]
                if process.pid:
                    self.adopted[run_id] = process.pid
                else:  # asked for, never forked
                    shared_run.stderr = server.stderr
                    self.running[run_id] = shared_run
                    self.ended(shared_run, None)
        if any(p.pid and p.runs for p in self.shared.values()):
            self._watch_pids()
        self.shared.clear()
        self._shared_by_pid.clear()
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

    def ended(self, worker: Worker | Forked | SharedRun, code: int | None) -> None:
        if worker.run_id is None:
            return
        if self._others_go_on(worker):
            return
        if self.running.get(worker.run_id) is not worker:
            return
        waiting = self.relaunch.pop(worker.run_id, None)
        if waiting is not None:  # its run was resumed meanwhile: carry on in a new process
            self.running[worker.run_id] = self._launch(waiting)
            return
        self.running.pop(worker.run_id, None)
        detail = worker.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        self._died(worker.run_id, worker.ended_pid,
                   f"the crawl process exited with code {code} without finishing its run"
                   + (f": {detail[0]}" if detail[0] else ""))
        if not self._stopping:
            self.kick()

    def _others_go_on(self, worker: Worker | Forked | SharedRun) -> bool:
        """One of a run's processes ended while others work on: what it held goes back to the
        frontier for them (the last one to end decides about the run)."""
        run_id = worker.run_id
        assert run_id is not None
        helpers = self.helpers.get(run_id, [])
        if worker in helpers:
            helpers.remove(worker)
        elif self.running.get(run_id) is worker and helpers:
            self.running[run_id] = helpers.pop(0)
        else:
            return False
        if not helpers:
            self.helpers.pop(run_id, None)
        threads.deferToThread(release, self.store, run_id,
                              worker_for(socket.gethostname(), worker.ended_pid))
        if not self._stopping:
            self.kick()
        return True

    def _died(self, run_id: str, pid: int, error: str) -> None:
        """A run's crawl process is gone: a run it left active carries on in a new process
        (its frontier is in the store), or ends as an error when it keeps dying."""
        worker = worker_for(socket.gethostname(), pid) if pid else None
        d = threads.deferToThread(runs.crashed, self.store, run_id, worker,
                                  self.config.max_run_tries, error)
        d.addCallback(self._after_death, run_id)
        d.addErrback(self._recovery_failed, run_id, pid, error)

    def _recovery_failed(self, failure: Any, run_id: str, pid: int, error: str) -> None:
        """The store could not take a dead crawl's run back (it is down): again later, else
        the run would stay `running` with no process until the stale-run sweep ends it."""
        logger.error("recovering run %s failed (again in %.0f s): %s", run_id, RECOVER_AGAIN,
                     failure.value)
        if not self._stopping:
            time_: IReactorTime = self.reactor
            time_.callLater(RECOVER_AGAIN, self._died, run_id, pid, error)

    def _after_death(self, status: str | None, run_id: str) -> None:
        if status == QUEUED:
            logger.info("run %s is queued again: its crawl process died", run_id)
            if not self._stopping:
                self.kick()
        elif status is None or status in TERMINAL_STATUSES:  # ended, or deleted meanwhile
            self.on_finished(run_id)  # (a paused run has not ended)

    def cancel(self, run: Row) -> None:
        if run["launcher"] is None:  # never started: no process will report its end
            self.on_finished(run["id"])
            return
        worker = self.running.get(run["id"])
        pid = self.adopted.get(run["id"])
        for helper in self.helpers.get(run["id"], []):
            helper.signal("TERM")
        if worker is not None:
            worker.signal("TERM")
            time_: IReactorTime = self.reactor
            time_.callLater(KILL_AFTER, self._kill, run["id"], worker)
        elif pid and list(self.adopted.values()).count(pid) == 1:
            os.kill(pid, signal.SIGTERM)
        # (an adopted shared process's other runs go on: this one stops at its next flush,
        # its crawl seeing `cancel_requested` in the store)

    def nudge(self, run: Row) -> None:
        """A queued run starts; a running crawl process of this server takes its new work at
        once (engine/frontier/jobs.py polls on NUDGE), others poll the store anyway."""
        if run["status"] == "queued":
            self.kick()
            return
        handle = str(run.get("handle") or "")
        if (NUDGE is not None and run["status"] == "running"
                and run.get("launcher") == self.name and handle.isdigit()):
            with suppress(OSError):  # gone meanwhile: its successor polls anyway
                os.kill(int(handle), NUDGE)

    def _kill(self, run_id: str, worker: Worker | Forked | SharedRun) -> None:
        if self.running.get(run_id) is not worker:
            return
        if isinstance(worker, SharedRun) and not worker.alone:
            # Its crawler did not stop in time (a page in flight), and a SIGKILL would end its
            # neighbours: the run ends here now, as a killed process's would; the crawler
            # closes when that page comes or times out (its end is no longer awaited).
            worker.process.ended(run_id)
            worker.process.drain()  # (no new runs beside the crawler that would not stop)
            self.ended(worker, None)
            return
        worker.signal("KILL")
