"""Pending retries live in the store: a server killed between two attempts, and a new one
started on the same store, still delivers, with the same delivery id."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.site.fixture import TestSite
from tests.webhooks.receiver import Receiver
from tests.webhooks.server import Server
from tests.webhooks.test_deliveries import scheme


@pytest.fixture
def slow_retry_server(tmp_path: Path) -> Iterator[Server]:
    # The first retry is due 2-4 s after the first attempt: time enough to kill the server.
    running = Server(tmp_path, CRAWLPLANE_WEBHOOK_BACKOFF="4").start()
    yield running
    running.stop()


def test_a_retry_survives_a_server_restart(slow_retry_server: Server, receiver: Receiver,
                                           site: TestSite) -> None:
    server = slow_retry_server
    key = server.create_key("restart")
    receiver.plan("/cb", 500)
    task = server.json(key, "POST", "/v1/tasks", {
        "scheme": scheme(site), "callback_url": receiver.url + "/cb"}, expect=201)
    (first,) = receiver.wait("/cb")
    # Wait until the failed attempt and the retry are in the store, then crash the server.
    rows = server.wait_log(key, task["id"], lambda rows: len(rows) == 2)
    assert [(r["attempt"], r["status_code"], r["state"]) for r in rows] == [
        (1, 500, "retried"), (2, None, "pending")]
    assert rows[1]["at"] is None and rows[1]["next_attempt_at"] == rows[0]["next_attempt_at"]
    server.kill()
    assert len(receiver.received("/cb")) == 1

    server.start()  # same data directory, new process, new port
    first_id = first.headers["x-crawlplane-delivery"]
    second = receiver.wait("/cb", 2, timeout=30)[1]
    assert second.headers["x-crawlplane-delivery"] == first_id
    assert second.body == first.body
    rows = server.wait_log(key, task["id"], lambda rows: rows[-1]["status_code"] == 200)
    assert [(r["attempt"], r["status_code"]) for r in rows] == [(1, 500), (2, 200)]
    assert {r["id"] for r in rows} == {first_id}


def test_a_run_that_ends_while_the_server_is_down_still_calls_back(
        tmp_path: Path, receiver: Receiver, site: TestSite) -> None:
    server = Server(tmp_path).start()
    try:
        key = server.create_key("downtime")
        task = server.json(key, "POST", "/v1/tasks", {
            "scheme": scheme(site, start_urls=[site.url + "/slow/?delay=3"]),
            "callback_url": receiver.url + "/cb"}, expect=201)
        server.wait_task(key, task["id"], ("running",))
        server.kill()  # the crawl process goes on, and finishes, without a server
        time.sleep(6)
        assert receiver.received("/cb") == []
        server.start()
        (callback,) = receiver.wait("/cb", timeout=30)
        sent = json.loads(callback.body)
        assert (sent["id"], sent["status"]) == (task["id"], "completed")
    finally:
        server.stop()
