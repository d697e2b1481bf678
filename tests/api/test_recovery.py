"""A server killed with SIGKILL mid-run and started again leaves no task stuck: a crawl that
outlived the server is adopted and finishes; a run whose process died too carries on from its
frontier in the store (tests/frontier/ has the crash tests of the crawl process alone)."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.api.conftest import ApiServer, gen_scheme, start_server
from tests.site.fixture import TestSite
from tests.support.server import pid_alive, wait_gone


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ApiServer]:
    running = start_server(tmp_path / "data", CRAWLPLANE_MAX_PROCESSES="1")
    yield running
    running.stop()


def stamp(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_crawl_outliving_a_killed_server_is_adopted(server: ApiServer, site: TestSite) -> None:
    # Slow enough (about 6 s) to still be running when the new server has started.
    task = server.create(gen_scheme(site, delay=0.15, concurrency=1, max_pages=40))
    server.wait(task["id"], lambda t: t["status"] == "running" and t["pages"] >= 3)
    pid = server.crawl_pid(task["id"])
    server.kill(signal.SIGKILL)  # the server only: its crawl process goes on
    assert pid_alive(pid)
    server.start()
    # The recovery at start found the crawl alive and adopted it ...
    server.wait_log("adopted 1 crawls left running by an earlier server")
    # ... so it holds the one process slot: new work waits until the adopted crawl is over.
    again = server.create(gen_scheme(site, max_pages=5))
    final = server.wait(task["id"], timeout=60)
    assert final["status"] == "completed", final
    assert final["items"] == 40 and final["error"] is None
    lines = server.call("GET", f"/v1/tasks/{task['id']}/store").body.splitlines()
    assert len(lines) == 40
    # The new server runs new work as usual.
    done = server.wait(again["id"])
    assert done["status"] == "completed"
    assert stamp(done["started_at"]) >= stamp(final["ended_at"])


def test_run_whose_process_died_with_the_server_carries_on(server: ApiServer,
                                                           site: TestSite) -> None:
    task = server.create(gen_scheme(site, delay=0.05, concurrency=1, max_pages=200))
    server.wait(task["id"], lambda t: t["status"] == "running" and t["pages"] >= 3)
    queued = server.create(gen_scheme(site, max_pages=5), name="queued-behind")
    pid = server.crawl_pid(task["id"])
    server.kill_group()  # the server and every crawl process
    wait_gone(pid)
    server.start()
    final = server.wait(task["id"], timeout=60)
    # The recovery at start found the run's process gone: it queued the run again, and a new
    # crawl process carried on where the old one stopped.
    assert final["status"] == "completed", final
    assert final["items"] == 200 and final["error"] is None
    run = server.latest_run(task["id"])
    assert run is not None and run["tries"] == 1
    assert server.wait(queued["id"], timeout=60)["status"] == "completed"
