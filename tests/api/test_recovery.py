"""A server killed with SIGKILL mid-run and started again leaves no task stuck: a crawl that
outlived the server is adopted and finishes; a run whose process died too ends as `error`."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.conftest import ApiServer, gen_scheme, start_server
from tests.site.fixture import TestSite


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ApiServer]:
    running = start_server(tmp_path / "data", CRAWLPLANE_MAX_PROCESSES="1")
    yield running
    running.kill()


def restart(server: ApiServer) -> None:
    server.proc = None
    server.start()


def test_crawl_outliving_a_killed_server_is_adopted(server: ApiServer, site: TestSite) -> None:
    task = server.create(gen_scheme(site, delay=0.05, concurrency=1, max_pages=40))
    server.wait(task["id"], lambda t: t["status"] == "running" and t["pages"] >= 3)
    server.kill(signal.SIGKILL)  # the server only: its crawl process goes on
    restart(server)
    final = server.wait(task["id"], timeout=60)
    assert final["status"] == "completed", final
    assert final["items"] == 40 and final["error"] is None
    lines = server.call("GET", f"/v1/tasks/{task['id']}/store").body.splitlines()
    assert len(lines) == 40
    # The new server runs new work as usual.
    again = server.create(gen_scheme(site, max_pages=5))
    assert server.wait(again["id"])["status"] == "completed"


def test_run_whose_process_died_with_the_server_ends_as_error(server: ApiServer,
                                                              site: TestSite) -> None:
    task = server.create(gen_scheme(site, delay=0.05, concurrency=1, max_pages=200))
    server.wait(task["id"], lambda t: t["status"] == "running" and t["pages"] >= 3)
    queued = server.create(gen_scheme(site, max_pages=5), name="queued-behind")
    assert server.proc is not None
    os.killpg(server.proc.pid, signal.SIGKILL)  # the server and every crawl process
    server.proc.wait()
    restart(server)
    final = server.wait(task["id"], timeout=30)
    assert final["status"] == "error", final
    assert "process" in final["error"]
    assert final["ended_at"] is not None and final["items"] >= 3
    assert server.call("GET", f"/v1/tasks/{task['id']}/store").status == 200  # partial data
    assert server.wait(queued["id"], timeout=30)["status"] == "completed"
