"""Crash recovery: a crawl process killed (-9) mid-run leaves its run resumable; the launcher
starts a new process that carries on from the store, fetching again only what was in flight."""

from __future__ import annotations

from typing import Any

from tests.frontier.conftest import (
    Server,
    fetched,
    gen_prefix,
    gen_scheme,
    item_key,
    kill_when,
    next_pid,
    page_rows,
    run_id,
    token,
)
from tests.site.fixture import TestSite


def items_of(server: Server, task_id: str) -> list[Any]:
    response = server.call("GET", f"/v1/tasks/{task_id}/store?format=json")
    assert response.status == 200, response.body
    items: list[Any] = response.json
    return sorted(items, key=item_key)


def test_killed_twice_completes_with_the_items_of_an_uninterrupted_run(
        server: Server, site: TestSite) -> None:
    plain = server.create(gen_scheme(site, token=token()))
    tok = token()
    task = server.create(gen_scheme(site, delay=0.02, concurrency=4, token=tok))
    first, held_1 = kill_when(server, task["id"], 30)
    second = next_pid(server, task["id"], first)
    _, held_2 = kill_when(server, task["id"], 100)
    done = server.wait_status(task["id"], "completed", "error", timeout=120)
    assert done["status"] == "completed", done
    assert server.wait_status(plain["id"], "completed")["status"] == "completed"
    items = items_of(server, task["id"])
    assert len(items) == 200 and items == items_of(server, plain["id"])
    assert len({item_key(i) for i in items}) == 200  # each page's items exactly once
    twice = {url for url, n in fetched(site, gen_prefix(tok)).items() if n > 1}
    assert twice <= held_1 | held_2, twice - (held_1 | held_2)
    rows = page_rows(server, run_id(server, task["id"]))
    assert len(rows) == 200 and {r["state"] for r in rows} == {"Handled"}
    assert done["pages"] == 200 and done["items"] == 200
    assert second != first


def test_field_follow_across_a_crash(server: Server, site: TestSite,
                                     quotes_scheme: dict[str, Any]) -> None:
    plain = server.create(quotes_scheme)
    slow = {**quotes_scheme, "politeness": {"obey_robots": False, "concurrency": 1,
                                            "crawl_delay": 0.2}}
    task = server.create(slow)
    pid, _ = kill_when(server, task["id"], 4)
    next_pid(server, task["id"], pid)
    done = server.wait_status(task["id"], "completed", "error", timeout=120)
    assert done["status"] == "completed", done
    server.wait_status(plain["id"], "completed")
    items = items_of(server, task["id"])
    assert items == items_of(server, plain["id"])
    assert all(item["about"] and item["about"]["born"] for item in items)


def test_a_crash_loop_ends_as_error_with_the_reason(server: Server, site: TestSite) -> None:
    task = server.create(gen_scheme(site, delay=0.05, concurrency=2, token=token()))
    pid = 0
    for handled in (5, 10, 15):
        if pid:
            next_pid(server, task["id"], pid)
        pid, _ = kill_when(server, task["id"], handled)
    done = server.wait_status(task["id"], "error", "completed", timeout=60)
    assert done["status"] == "error"
    assert "died 3 times" in done["error"] and "CRAWLPLANE_MAX_RUN_TRIES" in done["error"]


def test_max_items_holds_across_a_crash(server: Server, site: TestSite) -> None:
    # The process carrying the run on counts from what the store kept, not from zero.
    scheme = gen_scheme(site, delay=0.02, concurrency=2, token=token())
    task = server.create({**scheme, "limits": {**scheme["limits"], "max_items": 40}})
    pid, _ = kill_when(server, task["id"], 25)
    next_pid(server, task["id"], pid)
    done = server.wait_status(task["id"], "completed", "error", timeout=120)
    assert done["status"] == "completed" and done["items"] == 40, done
    items = items_of(server, task["id"])
    assert len(items) == len({item_key(i) for i in items}) == 40
