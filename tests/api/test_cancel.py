"""Cancelling a run keeps what it gathered; a cancelled task can run again."""

from __future__ import annotations

import json
import uuid

from tests.api.conftest import ApiServer, gen_prefix, gen_scheme
from tests.site.fixture import TestSite
from tests.support.server import wait_gone


def test_cancel_mid_run_keeps_partial_data(api: ApiServer, site: TestSite) -> None:
    token = uuid.uuid4().hex
    task = api.create(gen_scheme(site, delay=0.1, concurrency=1, token=token), name="to-cancel")
    api.wait(task["id"], lambda t: t["status"] == "running" and t["items"] >= 3, timeout=30)
    pid = api.crawl_pid(task["id"])
    cancelled = api.ok("POST", f"/v1/tasks/{task['id']}/cancel")
    assert cancelled["status"] == "cancelled"
    assert cancelled["ended_at"] is not None
    assert api.call("POST", f"/v1/tasks/{task['id']}/cancel").status == 409

    # The crawl stops: its process exits, and it requested nothing after that.
    wait_gone(pid)
    before = len(site.log(path_prefix=gen_prefix(token)))
    assert before >= 3
    assert api.ok("GET", f"/v1/tasks/{task['id']}")["status"] == "cancelled"
    assert len(site.log(path_prefix=gen_prefix(token))) == before

    final = api.ok("GET", f"/v1/tasks/{task['id']}")
    assert final["status"] == "cancelled" and final["error"] is None
    assert 3 <= final["items"] < 200
    assert final["results"] and final["results"][0]["quantity"] == final["items"]
    lines = api.call("GET", f"/v1/tasks/{task['id']}/store").body.decode().splitlines()
    assert len(lines) == final["items"]
    assert all(json.loads(line)["title"].startswith("Item ") for line in lines)

    again = api.ok("POST", f"/v1/tasks/{task['id']}/run", status=202)
    assert again["status"] in ("queued", "running")
    api.ok("POST", f"/v1/tasks/{task['id']}/cancel")


def test_cancel_a_queued_run(api: ApiServer, site: TestSite) -> None:
    task = api.create(gen_scheme(site, max_pages=3), run=False)
    api.ok("POST", f"/v1/tasks/{task['id']}/run", status=202)
    cancelled = api.ok("POST", f"/v1/tasks/{task['id']}/cancel")
    assert cancelled["status"] == "cancelled"
    # A barrier instead of a pause: a task queued after the cancel runs to its end, so the
    # launcher has claimed work since; had it started the cancelled run, that crawl is over too.
    later = api.create(gen_scheme(site, max_pages=1), name="after-the-cancel")
    assert api.wait(later["id"])["status"] == "completed"
    run = api.latest_run(task["id"])
    assert run is not None
    if run["handle"]:
        wait_gone(int(run["handle"]))
    final = api.ok("GET", f"/v1/tasks/{task['id']}")
    assert final["status"] == "cancelled"
    assert final["items"] <= 3
