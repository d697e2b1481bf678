"""Shared crawl processes' tests: a server of their own with one slot (small runs spread over
the free slots; with one, they share one process) and room for four small runs in a shared
process, and small schemes of the test site's pages."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.site.fixture import TestSite
from tests.support.server import Server, start_server
from tests.support.wait import wait_until

SHARED_RUNS = 4


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("shared"), CRAWLPLANE_MAX_PROCESSES="1",
                           CRAWLPLANE_SHARED_RUNS=str(SHARED_RUNS))
    yield running
    running.stop()


def gen_page(site: TestSite, n: int, **extra: Any) -> dict[str, Any]:
    """One generated page (its one item's title is `Item n`): a small run."""
    return {"start_urls": [site.abs(f"/gen/{n}.html")],
            "item": {"selector": "CSS: div.item", "fields": [
                {"name": "title", "selector": "CSS: h2"}]},
            "politeness": {"obey_robots": False}, **extra}


def slow_page(site: TestSite, delay: float, **extra: Any) -> tuple[dict[str, Any], str]:
    """A small run of one page answered after `delay` seconds; and its path, unique to it."""
    path = f"/slow/?delay={delay}&run={uuid.uuid4().hex[:10]}"
    return ({"start_urls": [site.abs(path)],
             "item": {"selector": "CSS: body", "fields": [
                 {"name": "value", "selector": "CSS: p.value"}]},
             "politeness": {"obey_robots": False}, **extra}, path)


def handle(server: Server, task_id: str) -> str:
    run = server.latest_run(task_id)
    return str((run or {}).get("handle") or "")


def items(server: Server, task_id: str) -> list[Any]:
    response = server.call("GET", f"/v1/tasks/{task_id}/store?format=json")
    assert response.status == 200, response.body
    found: list[Any] = response.json
    return found


def run_log(server: Server, task_id: str) -> str:
    response = server.call("GET", f"/v1/tasks/{task_id}/log")
    assert response.status == 200, response.body
    return response.body.decode("utf-8", "replace")


def ended_log(server: Server, task_id: str, end: str = "Spider closed") -> str:
    """The run's log once its crawler closed (the run ends in the store as its spider closes;
    the log's last lines come after)."""
    def ended() -> str | None:
        text = run_log(server, task_id)
        return text if end in text else None

    return wait_until(ended, 15, message=f"the log of {task_id} to say {end!r}")


def most_at_once(rows: list[dict[str, Any]]) -> int:
    """The most runs of `rows` (started_at, ended_at) running at one moment."""
    return max(sum(1 for other in rows if other["started_at"] <= row["started_at"]
                   < other["ended_at"]) for row in rows)


def side_by_side(server: Server, site: TestSite, tasks: list[dict[str, Any]],
                 paths: list[str]) -> str:
    """Wait until every task runs, all in one shared process whose requests reached the site;
    that process's pid."""
    def together() -> str | None:
        handles = {handle(server, t["id"]) for t in tasks}
        statuses = {server.task(t["id"])["status"] for t in tasks}
        arrived = {e["path"] for e in site.log("/slow/")}
        if len(handles) == 1 and "" not in handles and statuses == {"running"} and \
                set(paths) <= arrived:
            return handles.pop()
        return None

    return wait_until(together, 30, message="the runs side by side in one process")
