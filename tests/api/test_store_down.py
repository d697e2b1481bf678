"""The API when its PostgreSQL store goes away and comes back: reads answer 503 problem+json
with `Retry-After` while the database cannot be reached (not a 500, which is for bugs), and
answer again once it is back; the server logs the outage a line at a time (engine/store/
outage.py), with no traceback."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import pg
from tests.support.server import Server, start_server
from tests.support.wait import wait_until


@pytest.fixture
def pg_api(tmp_path: Path, postgres_url: str) -> Iterator[tuple[Server, str]]:
    with pg.fresh_database() as url:  # (its own: the session's is shared; postgres_url: the
        server = start_server(tmp_path / "data", CRAWLPLANE_STORE_URL=url)  # CI failure)
        try:
            yield server, url
        finally:
            server.stop()


def test_reads_answer_503_while_the_store_is_away_and_again_after(
        pg_api: tuple[Server, str]) -> None:
    server, url = pg_api
    task = server.create({"start_urls": ["http://127.0.0.1:9/"]}, run=False)
    path = f"/v1/tasks/{task['id']}"
    assert server.call("GET", path).status == 200
    with pg.unreachable(url):
        for _ in range(3):
            down = server.call("GET", path)
            assert down.status == 503, (down.status, down.body)
            assert down.content_type == "application/problem+json"
            assert down.headers["retry-after"] == "1"
            assert down.json["title"] == "Service Unavailable"
        time.sleep(1.5)  # the server's background polls (runs, schedules, webhooks) meet it too
    wait_until(lambda: server.call("GET", path).status == 200, 15,
               message="reads answer again once the database is back")
    log = server.log_since_start()
    # One line each, no traceback: an outage would otherwise write them every poll and request.
    assert "the store is unavailable" in log and "claiming runs failed" in log
    assert "Traceback" not in log and "unhandled error" not in log  # (what a 500 logs)

