"""/v1/schedules through a real `crawlplane serve` (SQLite, local launcher)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import update

from engine.store import Store, store_url
from engine.store.tables import schedules
from tests.site.fixture import TestSite
from tests.support.server import Server, start_server

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("schedules"), keys=("tester",))
    try:
        yield running
    finally:
        running.stop()


def scheme(site: TestSite) -> dict[str, Any]:
    return {"start_urls": [site.url + "/quotes/page/1/"],
            "item": {"selector": "CSS: div.quote",
                     "fields": [{"name": "text", "selector": "CSS: span.text"}]}}


def answer(server: Server, method: str, path: str, body: Any = None,
           **kwargs: Any) -> tuple[int, Any]:
    """The status and JSON body (None when empty) of one call."""
    response = server.call(method, path, body, **kwargs)
    return response.status, response.json if response.body else None


def test_create_show_list_delete(server: Server, site: TestSite) -> None:
    status, created = answer(server, "POST", "/v1/schedules", {
        "cron": "30 2 * * 1-5", "scheme": scheme(site), "name": "weekday",
        "tag": "nightly", "timezone": "Europe/Paris"})
    assert status == 201, created
    assert created["cron"] == "30 2 * * 1-5" and created["timezone"] == "Europe/Paris"
    assert created["next_run_at"].endswith("Z") and created["runs"] == 0
    status, task = answer(server, "GET", f"/v1/tasks/{created['task_id']}")
    assert status == 200 and task["status"] == "initialized" and task["name"] == "weekday"

    status, on_task = answer(server, "POST", "/v1/schedules",
                                  {"cron": "@hourly", "task_id": created["task_id"]})
    assert status == 201 and on_task["task_id"] == created["task_id"]

    status, listed = answer(server, "GET", "/v1/schedules")
    assert status == 200
    assert {created["id"], on_task["id"]} <= {s["id"] for s in listed["data"]}
    status, shown = answer(server, "GET", f"/v1/schedules/{created['id']}")
    assert status == 200 and shown == created

    assert server.call("DELETE", f"/v1/schedules/{created['id']}").status == 204
    status, problem = answer(server, "GET", f"/v1/schedules/{created['id']}")
    assert status == 404 and problem["detail"] == f"schedule {created['id']} not found"
    assert server.call("GET", f"/v1/tasks/{created['task_id']}").status == 200  # the task stays


@pytest.mark.parametrize(("body", "path"), [
    ({"cron": "61 * * * *"}, "cron"),
    ({"cron": "* * *"}, "cron"),
    ({"cron": "not a cron"}, "cron"),
    ({"cron": "* * * * *", "timezone": "Mars/Olympus"}, "timezone"),
    ({"cron": "* * * * *", "task_id": "t_missing"}, "task_id"),
    ({"cron": "* * * * *"}, "scheme"),
    ({"cron": "* * * * *", "scheme": {"start_urls": ["ftp://x"]}}, "scheme.start_urls[0]"),
])
def test_bad_bodies_answer_422_with_the_path(server: Server, site: TestSite,
                                              body: dict[str, Any], path: str) -> None:
    if path in ("cron", "timezone"):
        body = {**body, "scheme": scheme(site)}
    status, problem = answer(server, "POST", "/v1/schedules", body)
    assert status == 422, problem
    assert any(key.startswith(path) for key in problem["errors"]), problem


def test_problems_auth_and_tenants(server: Server, site: TestSite) -> None:
    status, created = answer(server, "POST", "/v1/schedules",
                                  {"cron": "@daily", "scheme": scheme(site)})
    assert status == 201
    other = server.create_key("someone-else")
    assert server.call("GET", f"/v1/schedules/{created['id']}", key=other).status == 404
    assert server.call("DELETE", f"/v1/schedules/{created['id']}", key=other).status == 404
    listed = server.call("GET", "/v1/schedules", key=other).json["data"]
    assert created["id"] not in {s["id"] for s in listed}
    status, problem = answer(server, "GET", "/v1/schedules", key="")
    assert status == 401 and problem["status"] == 401
    assert server.call("PUT", "/v1/schedules").status in (404, 405)


def test_a_fire_missed_while_down_runs_once_at_start(server: Server,
                                                     site: TestSite) -> None:
    status, created = answer(server, "POST", "/v1/schedules",
                                  {"cron": "0 0 1 1 *", "scheme": scheme(site)})
    assert status == 201
    server.stop()
    store = Store(store_url("", server.data_dir))
    with store.begin() as conn:  # as if the server had been down over new year
        conn.execute(update(schedules).where(schedules.c.id == created["id"])
                     .values(next_at=time.time() - 3600))
    store.close()
    server.start()
    task = server.wait_status(created["task_id"], "completed", timeout=60)
    # The new server's first tick fired it (nothing else runs this task).
    server.wait_log("schedules queued 1 run(s)")
    assert task["items"] == 10  # the first quotes page
    status, shown = answer(server, "GET", f"/v1/schedules/{created['id']}")
    assert shown["runs"] == 1 and shown["last_run_id"]
    assert shown["next_run_at"] > shown["last_run_at"]
