"""The Scrapyd launcher against two real Scrapyd nodes and the real PostgreSQL store."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.store import Store, store_url
from engine.store.tables import download_infos, pages, runs
from tests.scrapyd.nodes import PROJECT, ScrapydNode
from tests.site import content
from tests.site.fixture import TestSite
from tests.support.server import Server
from tests.support.wait import wait_until
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.timeout(240)


def quotes(site: TestSite) -> dict[str, Any]:
    return {
        "start_urls": [site.url + "/quotes/page/1/"],
        "item": {"selector": "CSS: div.quote",
                 "fields": [{"name": "text", "selector": "CSS: span.text"},
                            {"name": "author", "selector": "CSS: small.author"}]},
        "paginate": {"selector": "CSS: li.next a"},
        "formats": ["json"],
    }


def slow(site: TestSite, label: str, pages_: int = 40) -> dict[str, Any]:
    """One page a second, one at a time: a run that stays running for a while."""
    return {
        "start_urls": [f"{site.url}/slow/?delay=1&run={label}&i={i}" for i in range(pages_)],
        "item": {"fields": [{"name": "title", "selector": "CSS: title"}]},
        "politeness": {"concurrency": 1},
    }


@pytest.fixture(scope="module")
def store(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    opened = Store(store_url(postgres_url, tmp_path_factory.mktemp("store")))
    yield opened
    opened.close()


def latest_run(store: Store, task_id: str) -> dict[str, Any]:
    task = store.get_task(task_id)
    assert task is not None and task["run_id"]
    run = store.get_run(task["run_id"])
    assert run is not None
    return run


def test_egg_lists_the_task_spider(nodes: list[ScrapydNode]) -> None:
    for node in nodes:
        assert node.get("listspiders.json", project=PROJECT)["spiders"] == ["task"]


def test_schedule_json_runs_a_stored_task(server: Server, nodes: list[ScrapydNode],
                                          site: TestSite, store: Store,
                                          postgres_url: str) -> None:
    """Straight to Scrapyd, no launcher: the store URL goes with the job as a setting."""
    task = server.create(quotes(site), run=False)
    node = nodes[0]
    job = node.post("schedule.json", [("project", PROJECT), ("spider", "task"),
                                      ("task_id", task["id"]),
                                      ("setting", f"CRAWLPLANE_STORE_URL={postgres_url}"),
                                      ("setting", "CRAWLPLANE_ALLOW_PRIVATE_TARGETS=True")])
    wait_until(lambda: node.jobs().get(job["jobid"]) == "finished", 60, 0.2, "the job to finish")
    done = server.wait_status(task["id"], "completed")
    assert done["items"] == len(content.QUOTES)
    assert done["pages"] == content.QUOTE_PAGES
    run = latest_run(store, task["id"])
    assert run["launcher"] == "external"  # not claimed (and started again) by the server
    listed = server.ok("GET", f"/v1/tasks/{task['id']}/pages?take=100")
    assert len(listed["data"]) == content.QUOTE_PAGES
    with store.engine.connect() as conn:
        infos = conn.execute(
            download_infos.select().join(pages, pages.c.id == download_infos.c.page_id)
            .where(pages.c.run_id == run["id"])).mappings().all()
    assert infos and all(row["info"]["HttpStatusCode"] in (200, 302) for row in infos)


def test_runs_spread_over_both_nodes(server: Server, nodes: list[ScrapydNode],
                                     site: TestSite, store: Store) -> None:
    created = [server.create(quotes(site), name=f"spread {i}") for i in range(4)]
    for task in created:
        done = server.wait_status(task["id"], "completed", timeout=90)
        assert done["items"] == len(content.QUOTES), done
        items = server.ok("GET", f"/v1/tasks/{task['id']}/store?format=json")
        assert len(items) == len(content.QUOTES)
        assert {"text", "author"} <= set(items[0])
    handles = [latest_run(store, task["id"])["handle"] for task in created]
    used = {handle.split(" ", 1)[0] for handle in handles}
    assert used == {node.url for node in nodes}, handles
    for handle in handles:
        url, job = handle.split(" ", 1)
        node = next(n for n in nodes if n.url == url)
        wait_until(lambda n=node, j=job: n.jobs()[j] == "finished", 30, 0.2, f"job {job} to end")


def test_cancel_on_a_node(server: Server, nodes: list[ScrapydNode], site: TestSite,
                          store: Store) -> None:
    with Receiver() as receiver:
        task = server.create(slow(site, "cancel"), callback_url=receiver.url + "/cb")
        server.wait_status(task["id"], "running")
        wait_until(lambda: server.task(task["id"])["pages"], 30, 0.2, "a first page")
        cancelled = server.ok("POST", f"/v1/tasks/{task['id']}/cancel")
        assert cancelled["status"] == "cancelled"
        url, job = latest_run(store, task["id"])["handle"].split(" ", 1)
        node = next(n for n in nodes if n.url == url)
        wait_until(lambda: node.jobs().get(job) == "finished", 30, 0.2,
                   "the job to end on its node")
        # The launcher's poll saw the job end: only then does it call the run's end hooks,
        # which queue the callback (a cancel on a node does not).
        wait_until(lambda: server.deliveries(task["id"]), 30, 0.2,
                   "the launcher to notice the job's end")
        (callback,) = receiver.wait("/cb", timeout=30)
    assert json.loads(callback.body)["status"] == "cancelled"
    after = server.task(task["id"])
    assert after["status"] == "cancelled"
    assert 1 <= after["pages"] < 40
    assert server.call("GET", f"/v1/tasks/{task['id']}/store?format=jsonl").status == 200


def test_node_stopped_midway(server: Server, nodes: list[ScrapydNode], site: TestSite,
                             store: Store, egg: Path) -> None:
    """A node dies with a run on it: that run carries on from its frontier on the node that
    is left and completes with every page; the next runs go there too, nothing stays queued or
    running."""
    first, second = (server.create(slow(site, f"kill{i}")) for i in range(2))
    for task in (first, second):
        server.wait_status(task["id"], "running")
    handles = {t["id"]: latest_run(store, t["id"])["handle"] for t in (first, second)}
    victim = nodes[1]
    on_victim = next(tid for tid, h in handles.items() if h.startswith(victim.url))
    survivor_task = next(tid for tid in handles if tid != on_victim)
    wait_until(lambda: server.task(on_victim)["pages"], 30, 0.2, "a first page on the victim")
    victim.kill()
    try:
        # The dead-node path queued it again (not a job that vanished or ended on a live
        # node), and the node that is left carried it on.
        server.wait_log(f"Scrapyd node {victim.url} stopped answering while this run was "
                        "active", timeout=30)
        assert f"Scrapyd node {victim.url} does not answer" in server.log()
        assert server.task(survivor_task)["status"] in ("running", "completed")
        moved = server.wait_status(on_victim, "completed", "error", timeout=120)
        assert moved["status"] == "completed" and moved["pages"] == 40, moved
        assert latest_run(store, on_victim)["handle"].startswith(nodes[0].url)
        assert latest_run(store, on_victim)["tries"] == 1
        later = server.create(quotes(site), name="after the node died")
        done = server.wait_status(later["id"], "completed", timeout=60)
        assert done["items"] == len(content.QUOTES)
        assert latest_run(store, later["id"])["handle"].startswith(nodes[0].url)
    finally:
        server.call("POST", f"/v1/tasks/{survivor_task}/cancel")
        victim.start()
    server.wait_status(survivor_task, "cancelled", "completed")
    with store.engine.connect() as conn:
        stuck = conn.execute(runs.select().where(runs.c.status.in_(("queued", "running"))))
        assert stuck.all() == []


def test_resumed_before_the_paused_job_exits_each_page_is_fetched_once(
        server: Server, site: TestSite) -> None:
    # Resume at once: the paused job still waits for the 15 s pages it has in flight. The run's
    # next job must wait for it, or it would take those pages again (fetched twice).
    label = uuid.uuid4().hex[:12]
    scheme = {"start_urls": [f"{site.url}/slow/?delay=15&run={label}&i={i}" for i in range(8)],
              "item": {"fields": [{"name": "url", "selector": "XPATH: //h1/text()"}]},
              "politeness": {"concurrency": 4, "obey_robots": False}}
    task = server.create(scheme)
    server.wait(task["id"], lambda t: t["status"] == "running" and t["pages"] >= 4, timeout=60)
    assert server.ok("POST", f"/v1/tasks/{task['id']}/pause")["status"] == "paused"
    assert server.ok("POST", f"/v1/tasks/{task['id']}/resume", status=202)["status"] == "queued"
    done = server.wait_status(task["id"], "completed", "error", timeout=120)
    assert done["status"] == "completed" and done["pages"] == 8, done
    counts = Counter(e["path"] for e in site.log(path_prefix="/slow/")
                     if f"run={label}&" in e["path"])
    assert len(counts) == 8 and set(counts.values()) == {1}, counts
