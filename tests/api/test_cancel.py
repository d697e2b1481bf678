"""Cancelling a run keeps what it gathered; a cancelled task can run again."""

from __future__ import annotations

import json
import time

from tests.api.conftest import ApiServer, gen_scheme
from tests.site.fixture import TestSite


def test_cancel_mid_run_keeps_partial_data(api: ApiServer, site: TestSite) -> None:
    task = api.create(gen_scheme(site, delay=0.1, concurrency=1), name="to-cancel")
    api.wait(task["id"], lambda t: t["status"] == "running" and t["items"] >= 3, timeout=30)
    cancelled = api.ok("POST", f"/v1/tasks/{task['id']}/cancel")
    assert cancelled["status"] == "cancelled"
    assert cancelled["ended_at"] is not None
    assert api.call("POST", f"/v1/tasks/{task['id']}/cancel").status == 409

    # The crawl stops: nothing new is requested a little later.
    time.sleep(2.5)
    before = len(site.log(path_prefix="/gen/"))
    time.sleep(1.0)
    assert len(site.log(path_prefix="/gen/")) == before

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
    time.sleep(1.5)
    final = api.ok("GET", f"/v1/tasks/{task['id']}")
    assert final["status"] == "cancelled"
    assert final["items"] <= 3
