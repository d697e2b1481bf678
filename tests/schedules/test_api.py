"""/v1/schedules through a real `crawlplane serve` (SQLite, local launcher)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import update

from engine.store import Store, store_url
from engine.store.tables import schedules
from tests.scrapyd.nodes import Crawlplane
from tests.site.fixture import TestSite

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def server() -> Iterator[Crawlplane]:
    running = Crawlplane({})
    try:
        yield running.start()
    finally:
        running.close()


def scheme(site: TestSite) -> dict[str, Any]:
    return {"start_urls": [site.url + "/quotes/page/1/"],
            "item": {"selector": "CSS: div.quote",
                     "fields": [{"name": "text", "selector": "CSS: span.text"}]}}


def test_create_show_list_delete(server: Crawlplane, site: TestSite) -> None:
    status, created = server.call("POST", "/v1/schedules", {
        "cron": "30 2 * * 1-5", "scheme": scheme(site), "name": "weekday",
        "tag": "nightly", "timezone": "Europe/Paris"})
    assert status == 201, created
    assert created["cron"] == "30 2 * * 1-5" and created["timezone"] == "Europe/Paris"
    assert created["next_run_at"].endswith("Z") and created["runs"] == 0
    status, task = server.call("GET", f"/v1/tasks/{created['task_id']}")
    assert status == 200 and task["status"] == "initialized" and task["name"] == "weekday"

    status, on_task = server.call("POST", "/v1/schedules",
                                  {"cron": "@hourly", "task_id": created["task_id"]})
    assert status == 201 and on_task["task_id"] == created["task_id"]

    status, listed = server.call("GET", "/v1/schedules")
    assert status == 200
    assert {created["id"], on_task["id"]} <= {s["id"] for s in listed["data"]}
    status, shown = server.call("GET", f"/v1/schedules/{created['id']}")
    assert status == 200 and shown == created

    status, _ = server.call("DELETE", f"/v1/schedules/{created['id']}")
    assert status == 204
    status, problem = server.call("GET", f"/v1/schedules/{created['id']}")
    assert status == 404 and problem["detail"] == f"schedule {created['id']} not found"
    assert server.call("GET", f"/v1/tasks/{created['task_id']}")[0] == 200  # the task stays


@pytest.mark.parametrize(("body", "path"), [
    ({"cron": "61 * * * *"}, "cron"),
    ({"cron": "* * *"}, "cron"),
    ({"cron": "not a cron"}, "cron"),
    ({"cron": "* * * * *", "timezone": "Mars/Olympus"}, "timezone"),
    ({"cron": "* * * * *", "task_id": "t_missing"}, "task_id"),
    ({"cron": "* * * * *"}, "scheme"),
    ({"cron": "* * * * *", "scheme": {"start_urls": ["ftp://x"]}}, "scheme.start_urls[0]"),
])
def test_bad_bodies_answer_422_with_the_path(server: Crawlplane, site: TestSite,
                                              body: dict[str, Any], path: str) -> None:
    if path in ("cron", "timezone"):
        body = {**body, "scheme": scheme(site)}
    status, problem = server.call("POST", "/v1/schedules", body)
    assert status == 422, problem
    assert any(key.startswith(path) for key in problem["errors"]), problem


def test_problems_auth_and_tenants(server: Crawlplane, site: TestSite) -> None:
    status, created = server.call("POST", "/v1/schedules",
                                  {"cron": "@daily", "scheme": scheme(site)})
    assert status == 201
    other = subprocess.run([server.cli, "keys", "create", "someone-else"], env=server.env,
                           check=True, capture_output=True, text=True).stdout.splitlines()[-1]
    mine = server.key
    try:
        server.key = other
        assert server.call("GET", f"/v1/schedules/{created['id']}")[0] == 404
        assert server.call("DELETE", f"/v1/schedules/{created['id']}")[0] == 404
        listed = server.call("GET", "/v1/schedules")[1]["data"]
        assert created["id"] not in {s["id"] for s in listed}
        server.key = ""
        status, problem = server.call("GET", "/v1/schedules")
        assert status == 401 and problem["status"] == 401
    finally:
        server.key = mine
    assert server.call("PUT", "/v1/schedules")[0] in (404, 405)


def test_a_fire_missed_while_down_runs_once_at_start(server: Crawlplane,
                                                     site: TestSite) -> None:
    status, created = server.call("POST", "/v1/schedules",
                                  {"cron": "0 0 1 1 *", "scheme": scheme(site)})
    assert status == 201
    server.stop()
    store = Store(store_url("", server.dir))
    with store.begin() as conn:  # as if the server had been down over new year
        conn.execute(update(schedules).where(schedules.c.id == created["id"])
                     .values(next_at=time.time() - 3600))
    store.close()
    server.start()
    task = server.wait(created["task_id"], "completed", timeout=60)
    assert task["items"] == 10  # the first quotes page
    status, shown = server.call("GET", f"/v1/schedules/{created['id']}")
    assert shown["runs"] == 1 and shown["last_run_id"]
    assert shown["next_run_at"] > shown["last_run_at"]
