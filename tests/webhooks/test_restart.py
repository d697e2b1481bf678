"""Pending retries live in the store: a server killed between two attempts, and a new one
started on the same store, still delivers, with the same delivery id; a run that ends while no
server runs is called back by the next server's catch-up at start."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.site.fixture import TestSite
from tests.support.server import Server, wait_gone
from tests.support.wait import wait_until
from tests.webhooks.receiver import Receiver
from tests.webhooks.server import webhook_env
from tests.webhooks.test_deliveries import scheme


@pytest.fixture
def slow_retry_server(tmp_path: Path) -> Iterator[Server]:
    # The first retry is due 2-4 s after the first attempt: time enough to kill the server.
    running = Server(tmp_path, **webhook_env(CRAWLPLANE_WEBHOOK_BACKOFF="4")).start()
    yield running
    running.stop()


def test_a_retry_survives_a_server_restart(slow_retry_server: Server, receiver: Receiver,
                                           site: TestSite) -> None:
    server = slow_retry_server
    key = server.create_key("restart")
    receiver.plan("/cb", 500)
    task = server.ok("POST", "/v1/tasks", {
        "scheme": scheme(site), "callback_url": receiver.url + "/cb"}, 201, key=key)
    (first,) = receiver.wait("/cb")
    # Wait until the failed attempt and the retry are in the store, then crash the server.
    rows = server.wait_deliveries(task["id"], lambda rows: len(rows) == 2, key=key)
    assert [(r["attempt"], r["status_code"], r["state"]) for r in rows] == [
        (1, 500, "retried"), (2, None, "pending")]
    assert rows[1]["at"] is None and rows[1]["next_attempt_at"] == rows[0]["next_attempt_at"]
    server.kill()
    assert len(receiver.received("/cb")) == 1
    first_id = first.headers["x-crawlplane-delivery"]
    assert f"delivery {first_id} (callback, attempt 2)" not in server.log()

    server.start()  # same data directory, new process, new port
    second = receiver.wait("/cb", 2, timeout=30)[1]
    assert second.headers["x-crawlplane-delivery"] == first_id
    assert second.body == first.body
    rows = server.wait_deliveries(task["id"], lambda rows: rows[-1]["status_code"] == 200,
                                  key=key)
    # The new server sent the retry it found in the store.
    server.wait_log(f"delivery {first_id} (callback, attempt 2)")
    assert [(r["attempt"], r["status_code"]) for r in rows] == [(1, 500), (2, 200)]
    assert {r["id"] for r in rows} == {first_id}


def test_a_run_that_ends_while_the_server_is_down_still_calls_back(
        tmp_path: Path, receiver: Receiver, site: TestSite) -> None:
    server = Server(tmp_path, **webhook_env()).start()
    try:
        key = server.create_key("downtime")
        task = server.ok("POST", "/v1/tasks", {
            "scheme": scheme(site, start_urls=[site.url + "/slow/?delay=3"]),
            "callback_url": receiver.url + "/cb"}, 201, key=key)
        server.wait_status(task["id"], "running", key=key)
        server.kill()  # the crawl process goes on, and finishes, without a server
        run = wait_until(lambda: (r := server.latest_run(task["id"])) and r["ended_at"] and r,
                         30, 0.2, "the run to end in the store while no server runs")
        assert run["status"] == "completed"
        wait_gone(int(run["handle"]))  # the crawl process has exited
        assert receiver.received("/cb") == []
        server.start()
        (callback,) = receiver.wait("/cb", timeout=30)
        # Sent because the new server's catch-up found the run, not by a launcher's end hook.
        server.wait_log("queued 1 deliveries of runs that ended while no server was watching")
        sent = json.loads(callback.body)
        assert (sent["id"], sent["status"]) == (task["id"], "completed")
    finally:
        server.stop()

