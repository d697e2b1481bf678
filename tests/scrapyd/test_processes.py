"""`"processes": N` on Scrapyd nodes: a run's N jobs on one frontier, spread over two real
nodes, with the real PostgreSQL store; the run ends when all its jobs have, and a job killed or
lost with its node leaves its pages to the others."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from control_api.launchers.scrapyd_jobs import job_worker
from engine.store import Store, store_url
from engine.store.tables import download_infos, items, pages, pending_items
from tests.api.conftest import gen_prefix, gen_scheme
from tests.frontier.conftest import fetched, token
from tests.scrapyd.nodes import ScrapydNode
from tests.site.fixture import TestSite
from tests.support.server import Server
from tests.support.wait import wait_until

pytestmark = pytest.mark.timeout(300)
PAGES = 150


@pytest.fixture(scope="module")
def store(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    opened = Store(store_url(postgres_url, tmp_path_factory.mktemp("store")))
    yield opened
    opened.close()


def scheme(site: TestSite, tok: str, processes: int, delay: float) -> dict[str, Any]:
    # A crawl delay (shared by the run's processes) makes the run last long enough for every
    # job to start on its node and take pages.
    return {**gen_scheme(site, delay=delay, concurrency=4, max_pages=PAGES, token=tok),
            "processes": processes}


def run_of_task(server: Server, task_id: str) -> dict[str, Any]:
    run = server.latest_run(task_id)
    assert run is not None
    return run


def page_rows(store: Store, run_id: str) -> list[dict[str, Any]]:
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(
            select(pages).where(pages.c.run_id == run_id)).mappings()]


def handled_by(store: Store, run_id: str, worker: str) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).where(
            pages.c.run_id == run_id, pages.c.worker == worker,
            pages.c.state == "Handled")).scalar_one())


def item_rows(store: Store, run_id: str) -> list[Any]:
    with store.engine.connect() as conn:
        return [repr(sorted(r.items())) for r in conn.execute(
            select(items.c.data).where(items.c.run_id == run_id)).scalars()]


def assert_complete(store: Store, run_id: str, done: dict[str, Any]) -> list[dict[str, Any]]:
    """Every page once, handled; each page's items once; no page past limits.max_pages."""
    assert done["status"] == "completed", done
    assert done["pages"] == PAGES and done["items"] == PAGES, done
    rows = page_rows(store, run_id)
    assert len(rows) == PAGES and {r["state"] for r in rows} == {"Handled"}
    assert len({r["url"] for r in rows}) == PAGES  # a page row per URL
    kept = item_rows(store, run_id)
    assert len(kept) == len(set(kept)) == PAGES
    with store.engine.connect() as conn:
        infos = conn.execute(select(download_infos.c.page_id, download_infos.c.attempt)
                             .join(pages, pages.c.id == download_infos.c.page_id)
                             .where(pages.c.run_id == run_id)).all()
        waiting = conn.execute(select(func.count()).where(
            pending_items.c.run_id == run_id)).scalar_one()
    assert len(infos) == len(set(infos)) == PAGES  # one DownloadInfo per page
    assert waiting == 0
    assert any(f"limits.max_pages ({PAGES}) reached" in w for w in done["warnings"]), done
    return rows


def released(log: str, line: str) -> int:
    """How many pages the launcher gave back, as its log line about a gone job says."""
    found = re.search(re.escape(line) + r".*?\((\d+) pages it held back", log)
    assert found, log[-3000:]
    return int(found.group(1))


def node_of(nodes: list[ScrapydNode], worker: str) -> ScrapydNode:
    return next(n for n in nodes if worker.endswith("@" + n.url.split("//", 1)[1].rstrip("/")))


def test_two_jobs_on_two_nodes_share_one_frontier(server: Server, nodes: list[ScrapydNode],
                                                  site: TestSite, store: Store) -> None:
    one_tok, two_tok = token(), token()
    alone = server.create(scheme(site, one_tok, 1, 0.05), name="one process")
    together = server.create(scheme(site, two_tok, 2, 0.05), name="two processes")
    one = server.wait_status(alone["id"], "completed", "error", timeout=180)
    two = server.wait_status(together["id"], "completed", "error", timeout=180)
    run_id = run_of_task(server, together["id"])["id"]
    rows = assert_complete(store, run_id, two)
    assert two["items"] == one["items"]
    counts = fetched(site, gen_prefix(two_tok))
    assert len(counts) == PAGES and set(counts.values()) == {1}, counts  # each page once
    # Both jobs took pages, one on each node, under the worker names the launcher gave them.
    workers = Counter(r["worker"] for r in rows)
    assert set(workers) == {job_worker(nodes[0].url, run_id), job_worker(nodes[1].url, run_id)} \
        or set(workers) == {job_worker(nodes[0].url, f"{run_id}.2"),
                            job_worker(nodes[1].url, run_id)} \
        or set(workers) == {job_worker(nodes[0].url, run_id),
                            job_worker(nodes[1].url, f"{run_id}.2")}, workers
    assert {node_of(nodes, w).name for w in workers} == {"a", "b"}
    listed = {node.name: {job for job in node.jobs() if job.split(".")[0] == run_id}
              for node in nodes}
    assert sorted(j for jobs in listed.values() for j in jobs) == [run_id, f"{run_id}.2"], listed
    assert all(len(jobs) == 1 for jobs in listed.values()), listed


def test_jobs_killed_midway_leave_their_pages_to_the_last(
        server: Server, nodes: list[ScrapydNode], site: TestSite, store: Store) -> None:
    """Three jobs: the first is killed (-9: its pages stay InProgress until the launcher gives
    them back), the second cancelled on its node (SIGINT: it gives them back itself); the third
    completes the run with every page and item once."""
    tok = token()
    task = server.create(scheme(site, tok, 3, 0.1), name="killed midway")
    server.wait_status(task["id"], "running", timeout=60)
    run_id = run_of_task(server, task["id"])["id"]
    by_job: dict[str, ScrapydNode] = {}

    def all_listed() -> bool:
        for node in nodes:
            by_job.update({job: node for job in node.jobs() if job.split(".")[0] == run_id})
        return set(by_job) == {run_id, f"{run_id}.2", f"{run_id}.3"}

    wait_until(all_listed, 30, 0.2, "the run's three jobs on the nodes")
    first, second = (job_worker(by_job[j].url, j) for j in (run_id, f"{run_id}.2"))
    for worker in (first, second):
        wait_until(lambda w=worker: handled_by(store, run_id, w) >= 3, 90, 0.1,
                   f"{worker} to handle pages")
    by_job[run_id].post("cancel.json", {"project": "crawlplane", "job": run_id,
                                        "signal": "KILL"})
    by_job[f"{run_id}.2"].post("cancel.json", {"project": "crawlplane", "job": f"{run_id}.2"})
    log = server.wait_log(f"job {run_id} of run {run_id} on {by_job[run_id].url} ended while "
                          "its other jobs go on", timeout=30)
    assert released(log, f"job {run_id} of run") > 0  # the killed job held pages
    done = server.wait_status(task["id"], "completed", "error", timeout=180)
    rows = assert_complete(store, run_id, done)
    third = job_worker(by_job[f"{run_id}.3"].url, f"{run_id}.3")
    assert {r["worker"] for r in rows} == {first, second, third}
    # Only pages in flight when a job died were fetched again; none at all for the cancel.
    counts = fetched(site, gen_prefix(tok))
    assert len(counts) == PAGES, counts
    assert sum(counts.values()) - PAGES <= 4 * 2, counts  # (concurrency 4, two jobs stopped)
    for node in nodes:
        wait_until(lambda n=node: not any(
            s != "finished" for j, s in n.jobs().items() if j.split(".")[0] == run_id),
            30, 0.2, "the run's jobs to end")


def test_dead_node_drops_its_job_and_the_run_goes_on(
        server: Server, nodes: list[ScrapydNode], site: TestSite, store: Store) -> None:
    tok = token()
    task = server.create(scheme(site, tok, 2, 0.1), name="a node dies")
    server.wait_status(task["id"], "running", timeout=60)
    run_id = run_of_task(server, task["id"])["id"]
    victim = nodes[1]
    victim_job = next(j for j in victim.jobs() if j.split(".")[0] == run_id)
    worker = job_worker(victim.url, victim_job)
    wait_until(lambda: handled_by(store, run_id, worker) >= 3, 90, 0.1, "the victim's pages")
    victim.kill()
    try:
        log = server.wait_log(f"Scrapyd node {victim.url} stopped answering: run {run_id} goes "
                              f"on without its job {victim_job}", timeout=30)
        assert released(log, f"without its job {victim_job} ") > 0
        done = server.wait_status(task["id"], "completed", "error", timeout=180)
        assert_complete(store, run_id, done)
        run = run_of_task(server, task["id"])
        assert run["tries"] == 0  # carried on by its other job, not queued again
    finally:
        victim.start()


def test_a_restarted_server_finds_the_runs_other_jobs(
        server: Server, nodes: list[ScrapydNode], site: TestSite, store: Store) -> None:
    """The handle names a run's first job only: a restarted server finds the others in the
    nodes' listings, and gives back what one of them held when it is killed."""
    tok = token()
    task = server.create(scheme(site, tok, 2, 0.1), name="server restarted")
    server.wait_status(task["id"], "running", timeout=60)
    run_id = run_of_task(server, task["id"])["id"]
    helper = f"{run_id}.2"
    node = next(n for n in nodes if helper in n.jobs())
    worker = job_worker(node.url, helper)
    wait_until(lambda: handled_by(store, run_id, worker) >= 3, 90, 0.1, "the helper's pages")
    server.restart()
    node.post("cancel.json", {"project": "crawlplane", "job": helper, "signal": "KILL"})
    log = server.wait_log(f"job {helper} of run {run_id} on {node.url} ended while its other "
                          "jobs go on", timeout=30)
    assert released(log, f"job {helper} of run") > 0
    done = server.wait_status(task["id"], "completed", "error", timeout=180)
    assert_complete(store, run_id, done)
