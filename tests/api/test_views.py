"""Task objects made once per row (control_api/web/views.py): `GET /v1/tasks/{id}` and the
listing answer what the task object of the task's full row says, as the task and its run
change, and a running task's `elapsed` goes on."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from control_api.web.task_view import get, view
from engine.store import Store, store_url
from tests.api.conftest import ApiServer, gen_scheme
from tests.site.fixture import TestSite


def from_full_row(api: ApiServer, task_id: str) -> dict[str, Any]:
    """The task object as made from the task's full row (no lean row, no views)."""
    store = Store(store_url("", api.data_dir))
    try:
        run_task = store.get_task(task_id)
        assert run_task is not None
        return view(get(store, run_task["tenant_id"], task_id), api.url, api.data_dir)
    finally:
        store.close()


def both_reads(api: ApiServer, task_id: str, tag: str) -> tuple[dict[str, Any], dict[str, Any]]:
    one = api.ok("GET", f"/v1/tasks/{task_id}")
    listed = [t for t in api.ok("GET", f"/v1/tasks?take=100&tag={tag}")["data"]
              if t["id"] == task_id]
    assert len(listed) == 1
    return one, listed[0]


def test_reads_follow_the_task_and_its_run(api: ApiServer, site: TestSite) -> None:
    tag = f"views-{uuid.uuid4().hex[:8]}"
    task = api.create(gen_scheme(site, max_pages=3), run=False, tag=tag)
    for _ in range(2):  # the second read of each is the one made before
        one, listed = both_reads(api, task["id"], tag)
        assert one == listed == from_full_row(api, task["id"])
        assert one["status"] == "initialized"
    api.ok("POST", f"/v1/tasks/{task['id']}/run", status=202)
    done = api.wait_status(task["id"], "completed", "error")
    assert done["status"] == "completed" and done["pages"] == 3, done
    for _ in range(2):
        one, listed = both_reads(api, task["id"], tag)
        assert one == listed == from_full_row(api, task["id"])
        assert one["status"] == "completed" and one["results"][0]["size"] > 0
        assert one["collected"] is False
    assert api.call("GET", f"/v1/tasks/{task['id']}/store?format=json").status == 200
    one, listed = both_reads(api, task["id"], tag)  # a change to the task row alone
    assert one["collected"] is True and listed["collected"] is True
    assert one == from_full_row(api, task["id"])
    # The body itself is what send_json makes of that object.
    raw = api.call("GET", f"/v1/tasks/{task['id']}").body
    assert raw == json.dumps(from_full_row(api, task["id"]), ensure_ascii=False).encode()


def test_a_running_tasks_elapsed_goes_on(api: ApiServer, site: TestSite) -> None:
    tag = f"views-{uuid.uuid4().hex[:8]}"
    task = api.create(gen_scheme(site, delay=0.5, max_pages=8), tag=tag)
    first = api.wait(task["id"], lambda t: t["status"] == "running" and t["elapsed"] is not None)
    time.sleep(0.3)
    one, listed = both_reads(api, task["id"], tag)
    assert one["status"] == "running"  # (8 pages 0.5 s apart: about 4 s)
    assert one["elapsed"] > first["elapsed"] and listed["elapsed"] > first["elapsed"]
    # Its object is kept as the text around `elapsed`, written in when shown: the same body
    # as send_json makes of the full row's object (read again while the run changed its row).
    for _ in range(20):
        raw = api.call("GET", f"/v1/tasks/{task['id']}").body
        shown, full = json.loads(raw), from_full_row(api, task["id"])
        if {**shown, "elapsed": None} == {**full, "elapsed": None}:
            break
    assert {**shown, "elapsed": None} == {**full, "elapsed": None}
    assert shown["status"] == "running" and 0 < shown["elapsed"] <= full["elapsed"]
    assert raw == json.dumps(shown, ensure_ascii=False).encode()
    api.ok("POST", f"/v1/tasks/{task['id']}/cancel")
    api.wait_status(task["id"], "cancelled", "completed", "error")
