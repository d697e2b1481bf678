"""The durable frontier's tests: a server of their own, and ways to look into its store and to
kill a run's crawl process at a known point (stopped first, so that what it held is known)."""

from __future__ import annotations

import os
import signal
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from engine.store import Store, store_url
from engine.store.tables import pages
from tests.api.conftest import gen_prefix, gen_scheme, quotes_scheme
from tests.site.fixture import TestSite
from tests.support.server import Server, start_server, wait_gone
from tests.support.wait import wait_until

__all__ = ["Server", "gen_prefix", "gen_scheme", "quotes_scheme"]


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    """A server of the test's own on SQLite, then on PostgreSQL, up to 3 crawl processes."""
    server = start_backend(request, tmp_path)
    yield server
    server.stop()


def start_backend(request: pytest.FixtureRequest, tmp_path: Path, **env: str) -> Server:
    env = {"CRAWLPLANE_MAX_PROCESSES": "3", **env}
    if request.param == "postgresql":
        env["CRAWLPLANE_STORE_URL"] = request.getfixturevalue("postgres_url")
    return start_server(tmp_path / "data", **env)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("frontier"))
    yield running
    running.stop()


def token() -> str:
    return uuid.uuid4().hex[:12]


def open_store(server: Server) -> Store:
    return Store(store_url(server.env.get("CRAWLPLANE_STORE_URL", ""), server.data_dir),
                 migrate=False)


def page_rows(server: Server, run_id: str) -> list[dict[str, Any]]:
    store = open_store(server)
    try:
        with store.engine.connect() as conn:
            return [dict(r) for r in conn.execute(
                select(pages).where(pages.c.run_id == run_id)).mappings()]
    finally:
        store.close()


def run_id(server: Server, task_id: str) -> str:
    run = server.latest_run(task_id)
    assert run is not None
    return str(run["id"])


def kill_when(server: Server, task_id: str, handled: int) -> tuple[int, set[str]]:
    """Once the run has `handled` pages handled, stop its crawl process, note the pages it
    held (InProgress), and kill it (-9). Returns the pid and those pages' URLs."""
    pid = server.crawl_pid(task_id)
    rid = run_id(server, task_id)

    def enough() -> bool:
        return sum(p["state"] != "Created" and p["state"] != "InProgress"
                   for p in page_rows(server, rid)) >= handled

    wait_until(enough, 60, 0.1, f"{handled} pages handled")
    os.kill(pid, signal.SIGSTOP)
    held = {p["url"] for p in page_rows(server, rid) if p["state"] == "InProgress"}
    os.kill(pid, signal.SIGKILL)
    wait_gone(pid)
    return pid, held


def next_pid(server: Server, task_id: str, old: int) -> int:
    """The pid of the crawl process that carries the run on after `old` died."""
    def new() -> int | None:
        run = server.latest_run(task_id)
        handle = int(run["handle"] or 0) if run else 0
        return handle if handle and handle != old and run and run["status"] == "running" \
            else None

    return int(wait_until(new, 60, 0.05, "a new crawl process for the run"))


def fetched(site: TestSite, prefix: str) -> Counter[str]:
    """How many times the site served each page under `prefix`."""
    return Counter(site.abs(e["path"]) for e in site.log(path_prefix=prefix))


def item_key(item: dict[str, Any]) -> str:
    return repr(sorted(item.items()))
