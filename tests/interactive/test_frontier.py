"""An interactive job's download tasks are its frontier rows: its crawl process killed (-9)
with tasks in flight, the launcher hands them back, the run is queued again and the next
process fetches them; a cancelled job's process hands back what it had not started. None is
lost, none is fetched more than the interruption requires. Like a stored run's, a job's process
holds a bounded window of claimed tasks, taken oldest first."""

from __future__ import annotations

import os
import signal
import socket
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import select

from engine.frontier import worker_for
from engine.store.tables import pages
from tests.frontier.conftest import next_pid, open_store
from tests.interactive.conftest import Server, start_server, stop_server
from tests.interactive.test_cache import job_task
from tests.site.fixture import TestSite
from tests.support.server import wait_gone
from tests.support.wait import wait_until


def job_pages(server: Server, task_id: str) -> list[dict[str, Any]]:
    store = open_store(server)
    try:
        with store.engine.connect() as conn:
            return [dict(r) for r in conn.execute(
                select(pages).where(pages.c.task_id == task_id)).mappings()]
    finally:
        store.close()


def test_killed_job_fetches_its_tasks_in_flight_after_the_relaunch(
        server: Server, site: TestSite) -> None:
    client = server.client("crash")
    token = uuid.uuid4().hex[:8]
    slow = [site.abs(f"/slow/?delay=2&t={token}&i={i}") for i in range(4)]
    quick = [site.abs(f"/gen/~{token}/{i}.html") for i in range(3)]
    tasks = client.start(f"crash-{token}", {"StartUrls": quick + slow})
    job = job_task(client, f"crash-{token}")
    for task in tasks[:len(quick)]:  # the quick ones first: the process is at work
        client.ready("GET", f"/api/v2/tasks/{task['Id']}/scrape", params={"selector": "CSS: h1"})

    # A positive barrier: every slow page's request reached the site and is not answered yet.
    wait_until(lambda: len(site.log(path_prefix="/slow/?delay=2&t=" + token)) == len(slow),
               30, 0.05, "the slow pages' requests to reach the site")
    pid = server.crawl_pid(job["id"])
    run = server.latest_run(job["id"])
    assert run is not None
    os.kill(pid, signal.SIGSTOP)
    # Claimed as frontier rows are: by this process (the launcher hands them back by it).
    held = {p["url"] for p in job_pages(server, job["id"])
            if p["state"] == "InProgress" and p["worker"] == worker_for(socket.gethostname(), pid)}
    os.kill(pid, signal.SIGKILL)
    wait_gone(pid)
    assert held == set(slow)

    assert next_pid(server, job["id"], pid) != pid
    again = server.latest_run(job["id"])  # the same run, queued again, in a new process
    assert again is not None and again["id"] == run["id"] and again["tries"] == 1
    for task in tasks:
        answer = client.ready("GET", f"/api/v2/tasks/{task['Id']}/scrape",
                              params={"selector": "CSS: h1"}, timeout=60)
        assert answer.status == 200, answer.body
        info = client.info(task["Id"])
        assert info["TaskState"] == "Handled" and info["Result"]["HttpStatusCode"] == 200
    rows = job_pages(server, job["id"])
    assert len(rows) == len(tasks) and {r["state"] for r in rows} == {"Handled"}
    served = Counter(site.abs(e["path"]) for e in site.log() if token in e["path"])
    # In flight at the kill: fetched again by the new process; the rest once.
    assert {url: served[url] for url in slow} == {url: 2 for url in slow}
    assert {url: served[url] for url in quick} == {url: 1 for url in quick}


def test_a_cancelled_job_hands_back_what_it_had_not_started(
        server: Server, site: TestSite) -> None:
    client = server.client("hand-back")
    token = uuid.uuid4().hex[:8]
    # 30 slow pages, claimed at once: 16 go to the downloader (8 at a time reach the site),
    # the rest wait in the process when the job is cancelled.
    urls = [site.abs(f"/slow/?delay=1&t={token}&i={i}") for i in range(30)]
    tasks = client.start(f"hand-back-{token}", {"StartUrls": urls})
    job = job_task(client, f"hand-back-{token}")
    wait_until(lambda: len(site.log(path_prefix="/slow/?delay=1&t=" + token)) >= 8, 30, 0.05,
               "the first slow pages' requests to reach the site")
    pid = server.crawl_pid(job["id"])
    assert client.call("POST", f"/v1/tasks/{job['id']}/cancel").status == 200
    wait_gone(pid)

    # Handed back once the process is gone: by its scheduler on close (a local launcher
    # also hands back by worker what an exited process held; a Scrapyd node does not).
    rows = job_pages(server, job["id"])
    assert not [r["url"] for r in rows if r["state"] == "InProgress"]
    waiting = [r for r in rows if r["state"] == "Created"]
    assert waiting and all(r["worker"] is None for r in waiting)
    assert len(waiting) + sum(r["state"] == "Handled" for r in rows) == len(urls)

    for task in tasks:  # the client carries on: a new run fetches what was handed back
        answer = client.ready("GET", f"/api/v2/tasks/{task['Id']}/scrape",
                              params={"selector": "CSS: h1"}, timeout=60)
        assert answer.status == 200, answer.body
    served = Counter(site.abs(e["path"]) for e in site.log() if token in e["path"])
    assert served == Counter({url: 1 for url in urls})  # none lost, none fetched twice


def test_tasks_go_out_in_the_order_the_client_got_them(server: Server, site: TestSite) -> None:
    client = server.client("order")
    token = uuid.uuid4().hex[:8]
    urls = [site.abs(f"/gen/~{token}/{i}.html") for i in (5, 3, 9, 1, 7, 2)]
    tasks = client.start(f"order-{token}", {
        "StartUrls": urls,  # one request at a time to the site: the order shows in its log
        "CrawlersProtectionBypass": {"CrawlDelays": [{"Host": "127.0.0.1", "Delay": "0.05"}]}})
    for task in tasks:
        client.ready("GET", f"/api/v2/tasks/{task['Id']}/scrape", params={"selector": "CSS: h1"})
    assert [site.abs(e["path"]) for e in site.log(path_prefix=f"/gen/~{token}/")] == urls


def test_a_job_holds_at_most_a_batch_beyond_what_it_downloads(
        tmp_path: Path, site: TestSite) -> None:
    own = start_server(tmp_path, CRAWLPLANE_FRONTIER_BATCH="4", CRAWLPLANE_JOB_IDLE_TIMEOUT="2")
    try:
        client = own.client("window")
        token = uuid.uuid4().hex[:8]
        urls = [site.abs(f"/slow/?delay=3&t={token}&i={i}") for i in range(30)]
        tasks = client.start(f"window-{token}", {"StartUrls": urls})
        job = job_task(client, f"window-{token}")

        def states() -> Counter[str]:
            return Counter(r["state"] for r in job_pages(own, job["id"]))

        # 16 requests in Scrapy's downloader (CONCURRENT_REQUESTS) and a batch of 4 waiting in
        # the scheduler: the other 10 stay Created for any process (the old feed took all 30).
        wait_until(lambda: states() == Counter({"InProgress": 20, "Created": 10}), 30, 0.05,
                   lambda: f"20 pages claimed and 10 left: {states()}")
        for task in tasks:
            answer = client.ready("GET", f"/api/v2/tasks/{task['Id']}/scrape",
                                  params={"selector": "CSS: h1"}, timeout=60)
            assert answer.status == 200, answer.body
    finally:
        stop_server(own)
