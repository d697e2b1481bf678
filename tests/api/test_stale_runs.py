"""A run nobody watches (started straight with `scrapy crawl task -a task_id=...`, as Scrapyd's
schedule.json does) whose crawl process is killed does not stay `running`: once it has been
silent for CRAWLPLANE_STALE_AFTER seconds the server ends it as an error, keeping its data."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.conftest import ApiServer, gen_scheme, server_env, start_server
from tests.site.fixture import TestSite

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ApiServer]:
    running = start_server(tmp_path / "data", CRAWLPLANE_STALE_AFTER="3")
    yield running
    running.stop()


def test_killed_external_crawl_ends_as_error(server: ApiServer, site: TestSite) -> None:
    task = server.create(gen_scheme(site, delay=0.1, concurrency=1, max_pages=200), run=False)
    crawl = subprocess.Popen(
        [str(Path(sys.executable).with_name("scrapy")), "crawl", "task",
         "-a", f"task_id={task['id']}", "-s", "LOG_LEVEL=WARNING"],
        cwd=ROOT, env=server_env(server.data_dir), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    try:
        server.wait(task["id"], lambda t: t["status"] == "running" and t["pages"] >= 3)
    finally:
        os.kill(crawl.pid, signal.SIGKILL)
        crawl.wait()
    final = server.wait(task["id"], timeout=30)
    assert final["status"] == "error", final
    assert "stopped reporting" in final["error"]
    assert final["items"] >= 1  # what it wrote before it died is kept
    lines = server.call("GET", f"/v1/tasks/{task['id']}/store").body.splitlines()
    assert len(lines) == final["items"]
