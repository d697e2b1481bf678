"""Runs queued runs on Scrapyd nodes (DESIGN.md decision 1, the launcher for several machines).

The store stays the queue: a run is claimed (`launcher.claim`) only when some node has a free
slot, then scheduled on the least-loaded node that answers (running + pending jobs, from
`daemonstatus.json`), as `schedule.json?spider=task&task_id=..&run_id=..&jobid=<run id>`. The
run's `handle` is "<node url> <job id>" of that first job.

A run whose scheme asks for `"processes": N` (capped at CRAWLPLANE_MAX_RUN_PROCESSES) gets up
to N-1 more jobs on its frontier, `<run id>.2` .., as far as free slots allow (those left over
once each claimed run has its first job), each on the least-loaded node then: two nodes and
`processes` 2 give one job per node (scrapyd_jobs.py names them). The handle keeps naming the
first job only (its column is too short for N node URLs): the launcher keeps a run's jobs in
memory (`jobs`) and finds them again in the nodes' listings, as every job of a run carries the
run's id; so a restarted server knows them as soon as it has listed the nodes. Each job claims
its pages under a worker name the launcher gives it (setting CRAWLPLANE_WORKER), so that the
launcher can give back what a gone job held.

Every poll reads each node's `listjobs.json` (while some run is active):

- a job that finished (or that the node no longer knows, two polls in a row) while other jobs
  of its run go on: the pages it held go back to the frontier (its crawl does that itself when
  it ends well; a killed one did not), and the others carry on;
- the run's last job that finished settles its run: the crawl wrote its own final status (the
  last process to end decides it); a run it left active ends as an error;
- a node that does not answer for `dead_after` seconds is dead: a run with jobs left on nodes
  that answer drops the dead node's jobs, their pages back to the frontier; a run with none
  left that never started (still `queued`) goes back to the queue for another node, and so
  does a started one, unless its crawl still writes heartbeats to the store (only the API lost
  the node): the pages its crawl held go back to the frontier and another node carries the run
  on (engine/frontier/), up to `CRAWLPLANE_MAX_RUN_TRIES` times;
- cancel is the store's flag (the crawl's recorder stops on it) plus `cancel.json` for each
  job of the run, which also drops a job still pending on its node; jobs still pending when
  their run left the active statuses otherwise (it ended, was paused or queued again) are
  dropped the same way;
- a run resumed while a job of its paused crawl still finishes what was in flight goes back to
  the queue until no answering node lists a job of it pending or running: two crawls alone on
  one frontier would fetch the same pages.

Crawl processes find the store through `setting=CRAWLPLANE_STORE_URL=...` sent with each job
(`Config.scrapyd_store_url`, default the server's own store URL).
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from contextlib import suppress
from typing import Any

import treq
from twisted.internet import defer, task, threads

from control_api.config import Config
from control_api.launchers.base import poll_after, settle, stop_polling
from control_api.launchers.scrapyd_jobs import job_id, job_worker, listing, run_of
from control_api.launchers.scrapyd_nodes import Node, NodeError, parse_nodes
from engine.store import Row, Store, outage, runs
from engine.store.frontier import release
from engine.store.runs import claim, requeue
from engine.store.status import QUEUED, TERMINAL_STATUSES

logger = logging.getLogger(__name__)
TIMEOUT = 5.0  # seconds for one call to a node

Job = tuple[str, str]  # (node url, job id)
Listings = dict[str, dict[str, str] | None]  # node url -> its jobs, None: it does not answer


class ScrapydLauncher:
    def __init__(self, store: Store, config: Config, reactor: Any,
                 on_finished: Callable[[str], object], poll_interval: float = 1.0):
        self.name = f"scrapyd:{socket.gethostname()}"[:100]
        self.store = store
        self.config = config
        self.reactor = reactor
        self.on_finished = on_finished
        self.nodes = parse_nodes(config.scrapyd_nodes)
        if not self.nodes:
            raise ValueError("the Scrapyd launcher needs CRAWLPLANE_SCRAPYD_NODES")
        self.project = config.scrapyd_project
        self.slots = config.scrapyd_slots
        self.dead_after = config.scrapyd_dead_after
        self.down_since: dict[str, float] = {}  # node url -> first failed call in a row
        self.jobs: dict[str, set[Job]] = {}  # run id -> its jobs this server knows of
        self.gone: dict[str, set[Job]] = {}  # run id -> its jobs that ended, pages given back
        self.missing: dict[Job, int] = {}  # polls in a row a job was not listed by its node
        self.cancelling: dict[str, str] = {}  # run id -> handle: cancelled, jobs not ended yet
        self.held_back: set[str] = set()  # resumed runs whose earlier job still runs (logged)
        self._busy = False
        self._again = False
        self._stopping = False
        self._loop = task.LoopingCall(self.kick)
        self._loop.clock = reactor
        self.poll_interval = poll_interval

    # -- life cycle ---------------------------------------------------------------------

    def start(self) -> None:
        poll_after(threads.deferToThread(runs.requeue_unplaced, self.store, self.name),
                   self._loop, self.poll_interval)

    def stop(self) -> None:
        # Jobs go on on their nodes; a restarted server finds them through the store.
        self._stopping = True
        stop_polling(self._loop)

    def kick(self) -> None:
        if self._stopping:
            return
        if self._busy:
            self._again = True
            return
        self._busy = True
        d = defer.ensureDeferred(self._tick())
        d.addErrback(lambda f: outage.log_failure(logger, "Scrapyd launcher", f))
        d.addBoth(self._ticked)

    def _ticked(self, _: object) -> None:
        self._busy = False
        if self._again:
            self._again = False
            self.kick()

    async def _tick(self) -> None:
        await self._poll()
        await self._place()

    # -- talking to nodes -----------------------------------------------------------------

    async def call(self, node: Node, endpoint: str, params: list[tuple[str, str]] | None = None,
                   post: bool = False) -> dict[str, Any]:
        url = node.url + endpoint
        try:
            if post:
                response = await treq.post(url, data=params or [], auth=node.auth,
                                           timeout=TIMEOUT)
            else:
                response = await treq.get(url, params=params or [], auth=node.auth,
                                          timeout=TIMEOUT)
            body = await treq.json_content(response)
        except Exception as exc:  # refused, timed out, not JSON: all mean "not usable now"
            self._down(node)
            raise NodeError(f"{node.url}: {type(exc).__name__}: {exc}") from None
        if response.code != 200 or not isinstance(body, dict) or body.get("status") != "ok":
            message = body.get("message") if isinstance(body, dict) else body
            raise NodeError(f"{node.url}{endpoint}: HTTP {response.code}: {message}")
        self.down_since.pop(node.url, None)
        return body

    def _down(self, node: Node) -> None:
        if node.url not in self.down_since:
            logger.warning("Scrapyd node %s does not answer", node.url)
        self.down_since.setdefault(node.url, self.reactor.seconds())

    def _dead(self, node_url: str) -> bool:
        since = self.down_since.get(node_url)
        return since is not None and self.reactor.seconds() - since >= self.dead_after

    async def _jobs(self, node: Node) -> dict[str, str] | None:
        """Job id -> pending | running | finished on a node, or None when it does not answer."""
        try:
            body = await self.call(node, "listjobs.json", [("project", self.project)])
        except NodeError as exc:
            if node.url not in self.down_since:  # answered, but not as expected
                logger.warning("%s", exc)
                return {}
            return None
        return listing(body)

    async def _listings(self, nodes: list[Node]) -> Listings:
        answers = await defer.gatherResults(
            [defer.ensureDeferred(self._jobs(node)) for node in nodes])
        return dict(zip([n.url for n in nodes], answers, strict=True))

    # -- noticing the end of jobs and runs ----------------------------------------------------

    async def _poll(self) -> None:
        active: list[Row] = await threads.deferToThread(runs.active_runs, self.store, self.name)
        watched: dict[str, tuple[str, Row | None]] = {
            run["id"]: (run["handle"], run) for run in active if run["handle"]}
        for run_id, handle in self.cancelling.items():
            watched.setdefault(run_id, (handle, None))
        leaving = set(self.jobs) - set(watched)  # ended, paused, queued again
        if not watched and not leaving:
            return
        # Every node, not only those of the handles: a run's other jobs may be on any (and
        # after a restart, only the listings tell where).
        listings = await self._listings(self.nodes)
        for run_id in leaving:
            await self._drop_pending(run_id, listings)
            self._forget(run_id)
        for handle, _ in watched.values():
            url = handle.split(" ", 1)[0]
            if url not in listings:  # no longer configured: as good as dead
                listings[url] = None
                self.down_since.setdefault(url, float("-inf"))
        for run_id, (handle, run) in watched.items():
            await self._check(run_id, run, self._jobs_of(run_id, handle, listings), listings)

    def _jobs_of(self, run_id: str, handle: str, listings: Listings) -> set[Job]:
        """The run's jobs not dealt with yet: its handle's, those this server scheduled, and
        any job of it a node lists."""
        known = self.jobs.setdefault(run_id, set())
        url, job = handle.split(" ", 1)
        known.add((url, job))
        for node_url, jobs in listings.items():
            known.update((node_url, j) for j in jobs or {} if run_of(j) == run_id)
        known -= self.gone.get(run_id, set())
        return known

    async def _check(self, run_id: str, run: Row | None, jobs: set[Job],
                     listings: Listings) -> None:
        live: list[Job] = []
        ended: list[Job] = []
        dead: list[Job] = []
        for job in sorted(jobs):
            url, job_name = job
            jobs_there = listings.get(url)
            if jobs_there is None:  # not answering: dead after a while
                (dead if self._dead(url) else live).append(job)
                continue
            state = jobs_there.get(job_name)
            if state in ("pending", "running"):
                self.missing.pop(job, None)
                live.append(job)
            elif state is None:  # (a node restarted without its jobs: twice in a row)
                self.missing[job] = self.missing.get(job, 0) + 1
                (live if self.missing[job] < 2 else ended).append(job)
            else:
                ended.append(job)
        if live:  # the run goes on: what its gone jobs held goes back to the frontier
            for job in ended + dead:
                await self._drop(run_id, job, job in dead)
            return
        if dead:
            await self._node_dead(run_id, run, dead[0])
        elif ended:
            url, job_name = ended[-1]
            known = job_name in (listings.get(url) or {})
            self._end(run_id, f"the Scrapyd job {job_name} on {url} ended without finishing "
                              f"its run" if known else
                              f"Scrapyd node {url} no longer knows job {job_name}")

    async def _drop(self, run_id: str, job: Job, dead: bool) -> None:
        """One of a run's jobs is gone while others go on: the pages it held are theirs."""
        self.gone.setdefault(run_id, set()).add(job)
        self.jobs.get(run_id, set()).discard(job)
        self.missing.pop(job, None)
        url, job_name = job
        released = await threads.deferToThread(release, self.store, run_id,
                                               job_worker(url, job_name))
        if dead:
            logger.warning("Scrapyd node %s stopped answering: run %s goes on without its job "
                           "%s (%d pages it held back to the frontier)", url, run_id, job_name,
                           released)
        else:
            logger.info("job %s of run %s on %s ended while its other jobs go on (%d pages it "
                        "held back to the frontier)", job_name, run_id, url, released)

    async def _node_dead(self, run_id: str, run: Row | None, job: Job) -> None:
        """The run's last jobs were on a dead node: it carries on elsewhere."""
        url, job_name = job
        beat = run["heartbeat_at"] if run else None
        if beat is not None and time.time() - beat < self.dead_after:
            return  # the crawl still writes to the store: the node is only unreachable
        if run is not None and run["status"] == "queued":
            if await threads.deferToThread(requeue, self.store, run_id):
                logger.warning("run %s was pending on dead node %s: queued again", run_id, url)
                self._forget(run_id)
                return
        self._retry(run_id, f"Scrapyd node {url} stopped answering while this run was "
                            f"active (job {job_name})")

    async def _drop_pending(self, run_id: str, listings: Listings) -> None:
        """A run no longer active: its jobs still pending on their nodes are dropped (started,
        each would only find its run ended; and a resumed run waits for them to exit)."""
        nodes = {n.url: n for n in self.nodes}
        for url, job in sorted(self.jobs.get(run_id, set())):
            if url in nodes and (listings.get(url) or {}).get(job) == "pending":
                with suppress(NodeError):
                    await self.call(nodes[url], "cancel.json",
                                    [("project", self.project), ("job", job)], post=True)
                    logger.info("job %s of run %s, no longer active, dropped from %s", job,
                                run_id, url)

    def _forget(self, run_id: str) -> None:
        for job in self.jobs.pop(run_id, set()) | self.gone.pop(run_id, set()):
            self.missing.pop(job, None)

    def _retry(self, run_id: str, error: str) -> None:
        """The run's crawl is gone with its node: it carries on from its frontier on another
        node, or ends as an error once its crawls died too often."""
        self._forget(run_id)
        d = threads.deferToThread(runs.crashed, self.store, run_id, None,
                                  self.config.max_run_tries, error)
        d.addCallback(self._retried, run_id, error)
        d.addErrback(lambda f: logger.error("recovering run %s failed: %s", run_id,
                                            f.getTraceback()))

    def _retried(self, status: str | None, run_id: str, error: str) -> None:
        if status == QUEUED:
            logger.warning("%s: run %s is queued again, to carry on elsewhere", error, run_id)
            self.kick()
        elif status is None or status in TERMINAL_STATUSES:
            self.on_finished(run_id)

    def _end(self, run_id: str, error: str) -> None:
        self._forget(run_id)
        self.cancelling.pop(run_id, None)
        d = threads.deferToThread(settle, self.store, run_id, error)
        d.addCallback(lambda _: self.on_finished(run_id))
        d.addErrback(lambda f: logger.error("finishing run %s failed: %s", run_id,
                                            f.getTraceback()))

    # -- placing queued runs ----------------------------------------------------------------

    async def _load(self, node: Node) -> int | None:
        try:
            body = await self.call(node, "daemonstatus.json")
        except NodeError as exc:
            logger.debug("%s", exc)
            return None
        return int(body.get("running", 0)) + int(body.get("pending", 0))

    async def _place(self) -> None:
        answers = await defer.gatherResults(
            [defer.ensureDeferred(self._load(node)) for node in self.nodes])
        loads = {node: load for node, load in zip(self.nodes, answers, strict=True)
                 if load is not None}
        free = sum(max(0, self.slots - load) for load in loads.values())
        if free <= 0:
            return
        claimed: list[Row] = await threads.deferToThread(claim, self.store, self.name, free)
        if not claimed:
            return
        live = await self._live_runs(list(loads))
        room = free - len(claimed)  # slots for more processes, once each run has its first
        for run in claimed:
            if run["id"] in live:  # its earlier job still exits: placed on a later tick
                if run["id"] not in self.held_back:
                    logger.info("run %s waits for its earlier job to exit", run["id"])
                    self.held_back.add(run["id"])
                await threads.deferToThread(requeue, self.store, run["id"])
                continue
            self.held_back.discard(run["id"])
            self._forget(run["id"])  # a new life of the run: its earlier jobs have all ended
            if not await self._schedule(run, loads):
                continue
            wanted = min(int(run["scheme"].get("processes") or 1), self.config.max_run_processes)
            for number in range(2, 1 + min(wanted, 1 + room)):
                if await self._submit(run, job_id(run["id"], number), loads) is None:
                    break
                room -= 1

    async def _live_runs(self, nodes: list[Node]) -> set[str]:
        """Runs with a job pending or running on the nodes that answer."""
        listings = await self._listings(nodes)
        return {run_of(job) for jobs in listings.values() if jobs
                for job, state in jobs.items() if state in ("pending", "running")}

    async def _schedule(self, run: Row, loads: dict[Node, int]) -> bool:
        """The run's first job, its handle; back to the queue when no node takes it."""
        node = await self._submit(run, run["id"], loads)
        if node is None:
            await threads.deferToThread(requeue, self.store, run["id"])
            return False
        await threads.deferToThread(runs.place, self.store, run["id"], f"{node.url} {run['id']}")
        return True

    async def _submit(self, run: Row, job: str, loads: dict[Node, int]) -> Node | None:
        """One job of the run on the least-loaded node with a free slot that takes it."""
        for node in sorted(loads, key=lambda n: loads[n]):
            if loads[node] >= self.slots:
                continue
            try:
                await self.call(node, "schedule.json", self._job_params(run, node, job),
                                post=True)
            except NodeError as exc:
                logger.warning("scheduling job %s failed, trying another node: %s", job, exc)
                loads[node] = self.slots  # not this round
                continue
            loads[node] += 1
            self.jobs.setdefault(run["id"], set()).add((node.url, job))
            logger.info("job %s of run %s scheduled on %s", job, run["id"], node.url)
            return node
        return None

    def _job_params(self, run: Row, node: Node, job: str) -> list[tuple[str, str]]:
        params = [("project", self.project), ("spider", "task"), ("jobid", job),
                  ("task_id", run["task_id"]), ("run_id", run["id"]),
                  ("setting", f"CRAWLPLANE_WORKER={job_worker(node.url, job)}")]
        store_url = self.config.scrapyd_store_url or self.config.store_url
        if store_url and store_url != "-":
            params.append(("setting", f"CRAWLPLANE_STORE_URL={store_url}"))
        elif not store_url:  # SQLite: only nodes on this machine can share it
            params.append(("setting", f"CRAWLPLANE_DATA_DIR={self.config.data_dir}"))
        if self.config.allow_private_targets:  # the crawl follows the server's outbound rules
            params.append(("setting", "CRAWLPLANE_ALLOW_PRIVATE_TARGETS=True"))
        return params

    def nudge(self, run: Row) -> None:
        """A queued run is placed now; a running job polls the store for its new work."""
        if run["status"] == "queued":
            self.kick()

    # -- cancelling -------------------------------------------------------------------------

    def cancel(self, run: Row) -> None:
        """The run is already marked cancelled in the store; stop its jobs on their nodes."""
        if run.get("launcher") is None:  # never started: no job will report its end
            self.on_finished(run["id"])
            return
        if run.get("launcher") != self.name:
            return  # another server's run: the store's cancel flag stops it
        d = defer.ensureDeferred(self._cancel(run["id"], run.get("handle")))
        d.addErrback(lambda f: logger.error("cancelling run %s: %s", run["id"],
                                            f.getTraceback()))

    async def _cancel(self, run_id: str, handle: str | None) -> None:
        handle = handle or await threads.deferToThread(runs.handle, self.store, run_id)
        if not handle:
            return  # not on a node yet: its crawl sees the cancel when it opens
        self.cancelling[run_id] = handle
        listings = await self._listings(self.nodes)  # (its jobs, even those of another life)
        nodes = {n.url: n for n in self.nodes}
        for url, job in sorted(self._jobs_of(run_id, handle, listings)):
            if url not in nodes or (listings.get(url) or {}).get(job) == "finished":
                continue
            try:
                await self.call(nodes[url], "cancel.json",
                                [("project", self.project), ("job", job)], post=True)
            except NodeError as exc:
                logger.warning("cancel.json for job %s of run %s failed: %s", job, run_id, exc)
