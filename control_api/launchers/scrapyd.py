"""Runs queued runs on Scrapyd nodes (DESIGN.md decision 1, the launcher for several machines).

The store stays the queue: a run is claimed (`launcher.claim`) only when some node has a free
slot, then scheduled on the least-loaded node that answers (running + pending jobs, from
`daemonstatus.json`), as `schedule.json?spider=task&task_id=..&run_id=..&jobid=<run id>`. The
run's `handle` is "<node url> <job id>". Every poll reads each busy node's `listjobs.json`:

- a job that finished (or that the node no longer knows, two polls in a row) settles its run:
  the crawl wrote its own final status; a run it left active ends as an error;
- a node that does not answer for `dead_after` seconds is dead: its runs that never started
  (still `queued`) go back to the queue for another node; its started runs too, unless their
  crawl still writes heartbeats to the store (only the API lost the node): the pages their
  crawl held go back to the frontier and another node carries the run on (engine/frontier/),
  up to `CRAWLPLANE_MAX_RUN_TRIES` times;
- cancel is the store's flag (the crawl's recorder stops on it) plus `cancel.json`, which also
  drops a job still pending on the node;
- a run resumed while its paused job still finishes what was in flight goes back to the queue
  until no answering node lists a job of it pending or running (every job of a run has the
  run's id): two jobs alone on one frontier would fetch the same pages.

Crawl processes find the store through `setting=CRAWLPLANE_STORE_URL=...` sent with each job
(`Config.scrapyd_store_url`, default the server's own store URL).
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from typing import Any

import treq
from twisted.internet import defer, task, threads

from control_api.config import Config
from control_api.launchers.base import poll_after, settle, stop_polling
from control_api.launchers.scrapyd_nodes import Node, NodeError, parse_nodes
from engine.store import Row, Store, runs
from engine.store.runs import claim, requeue
from engine.store.status import QUEUED, TERMINAL_STATUSES

logger = logging.getLogger(__name__)
TIMEOUT = 5.0  # seconds for one call to a node


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
        self.missing: dict[str, int] = {}  # run id -> polls in a row its job was not listed
        self.cancelling: dict[str, str] = {}  # run id -> handle: cancelled, job not ended yet
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
        d.addErrback(lambda f: logger.error("Scrapyd launcher: %s", f.getTraceback()))
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
        return {job["id"]: state for state in ("pending", "running", "finished")
                for job in body.get(state, [])}

    # -- noticing the end of runs -----------------------------------------------------------

    async def _poll(self) -> None:
        active: list[Row] = await threads.deferToThread(runs.active_runs, self.store, self.name)
        watched: dict[str, tuple[str, Row | None]] = {
            run["id"]: (run["handle"], run) for run in active if run["handle"]}
        for run_id, handle in self.cancelling.items():
            watched.setdefault(run_id, (handle, None))
        by_node = {h.split(" ", 1)[0] for h, _ in watched.values()}
        nodes = {n.url: n for n in self.nodes}
        asked = [url for url in by_node if url in nodes]
        answers = await defer.gatherResults(
            [defer.ensureDeferred(self._jobs(nodes[url])) for url in asked])
        listings: dict[str, dict[str, str] | None] = dict(zip(asked, answers, strict=True))
        for url in by_node - set(asked):  # no longer configured: as good as dead
            listings[url] = None
            self.down_since.setdefault(url, float("-inf"))
        now = time.time()
        for run_id, (handle, run) in watched.items():
            url, job = handle.split(" ", 1)
            listing = listings[url]
            if listing is None:
                if not self._dead(url):
                    continue
                beat = run["heartbeat_at"] if run else None
                if beat is not None and now - beat < self.dead_after:
                    continue  # the crawl still writes to the store: the node is only unreachable
                if run is not None and run["status"] == "queued":
                    if await threads.deferToThread(requeue, self.store, run_id):
                        logger.warning("run %s was pending on dead node %s: queued again",
                                       run_id, url)
                        continue
                self._retry(run_id, f"Scrapyd node {url} stopped answering while this run was "
                                    f"active (job {job})")
                continue
            state = listing.get(job)
            if state in ("pending", "running"):
                self.missing.pop(run_id, None)
                continue
            if state is None:
                self.missing[run_id] = self.missing.get(run_id, 0) + 1
                if self.missing[run_id] < 2:
                    continue
                self._end(run_id, f"Scrapyd node {url} no longer knows job {job}")
                continue
            self._end(run_id, f"the Scrapyd job {job} on {url} ended without finishing its run")

    def _retry(self, run_id: str, error: str) -> None:
        """The run's crawl is gone with its node: it carries on from its frontier on another
        node, or ends as an error once its crawls died too often."""
        self.missing.pop(run_id, None)
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
        self.missing.pop(run_id, None)
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
        live = await self._live_jobs(list(loads))
        for run in claimed:
            if run["id"] in live:  # its earlier job still exits: placed on a later tick
                if run["id"] not in self.held_back:
                    logger.info("run %s waits for its earlier job to exit", run["id"])
                    self.held_back.add(run["id"])
                await threads.deferToThread(requeue, self.store, run["id"])
                continue
            self.held_back.discard(run["id"])
            await self._schedule(run, loads)

    async def _live_jobs(self, nodes: list[Node]) -> set[str]:
        """Ids of the jobs pending or running on the nodes that answer."""
        listings = await defer.gatherResults(
            [defer.ensureDeferred(self._jobs(node)) for node in nodes])
        return {job for listing in listings if listing
                for job, state in listing.items() if state in ("pending", "running")}

    async def _schedule(self, run: Row, loads: dict[Node, int]) -> None:
        for node in sorted(loads, key=lambda n: loads[n]):
            if loads[node] >= self.slots:
                continue
            try:
                await self.call(node, "schedule.json", self._job_params(run), post=True)
            except NodeError as exc:
                logger.warning("scheduling run %s failed, trying another node: %s",
                               run["id"], exc)
                loads[node] = self.slots  # not this round
                continue
            loads[node] += 1
            await threads.deferToThread(runs.place, self.store, run["id"],
                                        f"{node.url} {run['id']}")
            logger.info("run %s scheduled on %s", run["id"], node.url)
            return
        await threads.deferToThread(requeue, self.store, run["id"])

    def _job_params(self, run: Row) -> list[tuple[str, str]]:
        params = [("project", self.project), ("spider", "task"), ("jobid", run["id"]),
                  ("task_id", run["task_id"]), ("run_id", run["id"])]
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
        """The run is already marked cancelled in the store; stop its job on its node."""
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
        url, job = handle.split(" ", 1)
        node = next((n for n in self.nodes if n.url == url), None)
        if node is None:
            return
        try:
            await self.call(node, "cancel.json", [("project", self.project), ("job", job)],
                            post=True)
        except NodeError as exc:
            logger.warning("cancel.json for run %s failed: %s", run_id, exc)
