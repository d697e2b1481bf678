"""Completion webhooks end to end: a real server, real crawls of the test site, and a real
receiver on loopback (API.md section 5)."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import time
from typing import Any

from sqlalchemy import select

from engine.store import Store, store_url
from engine.store.tables import deliveries
from tests.site.fixture import TestSite
from tests.support.server import Server
from tests.webhooks.receiver import Receiver


def scheme(site: TestSite, **extra: Any) -> dict[str, Any]:
    return {
        "start_urls": [site.url + "/quotes/page/1/"],
        "item": {"selector": "CSS: div.quote",
                 "fields": [{"name": "text", "selector": "CSS: span.text"},
                            {"name": "author", "selector": "CSS: small.author"}]},
        "formats": ["json"],
        **extra,
    }


def verify(secret: str, headers: dict[str, str], body: bytes) -> None:
    """The documented check: HMAC-SHA256 of "<t>.<body>" keyed with the secret, and a fresh t."""
    parts = dict(p.split("=", 1) for p in headers["x-crawlplane-signature"].split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body,
                        hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, parts["v1"])
    assert abs(time.time() - int(parts["t"])) < 300


def ready_ids(server: Server, key: str) -> list[str]:
    return [t["id"] for t in server.ok("GET", "/v1/tasks/ready", key=key)["data"]]


def test_completed_run_sends_signed_callback_pingback_and_postback(
        server: Server, key: str, receiver: Receiver, site: TestSite) -> None:
    task = server.ok("POST", "/v1/tasks", {
        "scheme": scheme(site), "tag": "night ly/2",
        "callback_url": receiver.url + "/cb",
        "pingback_url": receiver.url + "/ping/$id?tag=$tag",
        "postback_url": receiver.url + "/post",
    }, 201, key=key)
    task_id = task["id"]
    (callback,), (ping,), (post,) = (receiver.wait(p) for p in ("/cb", "/ping", "/post"))
    secret = server.ok("GET", "/v1/webhook-secret", key=key)["secret"]
    for request in (callback, ping, post):
        verify(secret, request.headers, request.body)
        assert request.headers["x-crawlplane-delivery"]

    # callback: the task object, as the run ended
    assert callback.method == "POST"
    assert callback.headers["content-type"] == "application/json"
    sent = json.loads(callback.body)
    assert (sent["id"], sent["status"], sent["items"]) == (task_id, "completed", 10)
    assert sent["results"][0]["format"] == "json"

    # pingback: $id and $tag substituted, URL-encoded; a GET with an empty body
    assert ping.method == "GET" and ping.body == b""
    assert ping.path == f"/ping/{task_id}?tag=night%20ly%2F2"

    # postback: gzip of exactly the results the store serves, and the task is collected
    assert post.method == "POST"
    assert post.headers["content-encoding"] == "gzip"
    assert post.headers["content-type"] == "application/json"
    rows = server.wait_deliveries(task_id, lambda rows: all(r["at"] for r in rows), key=key)
    assert task_id not in ready_ids(server, key)
    assert server.ok("GET", f"/v1/tasks/{task_id}", key=key)["collected"] is True
    stored = server.call("GET", f"/v1/tasks/{task_id}/store?format=json", key=key)
    assert stored.status == 200
    assert gzip.decompress(post.body) == stored.body
    assert len(stored.json) == 10

    # the log: one attempt each, ids as sent
    by_kind = {r["kind"]: r for r in rows}
    assert set(by_kind) == {"callback", "pingback", "postback"} and len(rows) == 3
    for kind, request in (("callback", callback), ("pingback", ping), ("postback", post)):
        row = by_kind[kind]
        assert row["id"] == request.headers["x-crawlplane-delivery"]
        assert (row["attempt"], row["status_code"], row["error"]) == (1, 200, None)
        assert row["next_attempt_at"] is None and row["at"].endswith("Z")
        assert row["url"] == receiver.url + request.path


def test_retries_after_500_and_timeout_keep_the_delivery_id(
        server: Server, key: str, receiver: Receiver, site: TestSite) -> None:
    receiver.plan("/cb", 500, "hang", 200)
    receiver.plan("/post", 500, 500, 200)
    task = server.ok("POST", "/v1/tasks", {
        "scheme": scheme(site), "callback_url": receiver.url + "/cb",
        "postback_url": receiver.url + "/post"}, 201, key=key)
    task_id = task["id"]

    receiver.wait("/post", 1)
    # The postback failed (so far): the task waits in the ready list, not collected.
    assert task_id in ready_ids(server, key)

    callbacks = receiver.wait("/cb", 3, timeout=30)
    posts = receiver.wait("/post", 3, timeout=30)
    for requests in (callbacks, posts):
        assert len({r.headers["x-crawlplane-delivery"] for r in requests}) == 1
        # each attempt signs afresh, the body stays the same
        assert len({r.body for r in requests}) == 1
    assert callbacks[1].at - callbacks[0].at >= 0.2  # backoff, not a hot loop

    rows = server.wait_deliveries(task_id, lambda rows: sum(
        r["status_code"] == 200 for r in rows) == 2, key=key)
    calls = [r for r in rows if r["kind"] == "callback"]
    assert [(r["attempt"], r["status_code"]) for r in calls] == [(1, 500), (2, None), (3, 200)]
    assert calls[0]["error"] == "answered HTTP 500, not 2xx"
    assert calls[1]["error"] == "no answer within 2 s"
    assert calls[0]["next_attempt_at"] is not None and calls[2]["next_attempt_at"] is None
    assert task_id not in ready_ids(server, key)


def test_failed_postback_leaves_the_task_ready(
        server: Server, key: str, receiver: Receiver, site: TestSite) -> None:
    receiver.plan("/post", 500, 500, 500, 500, 500)
    task = server.ok("POST", "/v1/tasks", {
        "scheme": scheme(site), "postback_url": receiver.url + "/post",
        "postback_format": "csv"}, 201, key=key)
    rows = server.wait_deliveries(task["id"], lambda rows: any(
        r["state"] == "failed" for r in rows), timeout=30, key=key)
    assert [r["attempt"] for r in rows] == [1, 2, 3, 4]  # CRAWLPLANE_WEBHOOK_MAX_ATTEMPTS
    assert rows[-1]["next_attempt_at"] is None
    posts = receiver.received("/post")
    assert len(posts) == 4
    assert posts[0].headers["content-type"].startswith("text/csv")
    assert gzip.decompress(posts[0].body).startswith(b"text,author")
    assert task["id"] in ready_ids(server, key)
    assert server.ok("GET", f"/v1/tasks/{task['id']}", key=key)["collected"] is False


def test_cancelled_run_sends_only_the_callback(
        server: Server, key: str, receiver: Receiver, site: TestSite) -> None:
    task = server.ok("POST", "/v1/tasks", {
        "scheme": scheme(site, start_urls=[site.url + "/slow/?delay=30"]),
        "callback_url": receiver.url + "/cb", "pingback_url": receiver.url + "/ping",
        "postback_url": receiver.url + "/post"}, 201, key=key)
    server.wait_status(task["id"], "running", key=key)
    server.ok("POST", f"/v1/tasks/{task['id']}/cancel", key=key)
    (callback,) = receiver.wait("/cb", timeout=30)
    assert json.loads(callback.body)["status"] == "cancelled"
    # A run's deliveries are all queued at once when it ends: once the callback is recorded
    # as delivered, any pingback or postback would be in the log (and sent) too.
    server.wait_deliveries(task["id"], lambda rows: rows and all(
        r["state"] == "delivered" for r in rows), timeout=30, key=key)
    assert receiver.received("/ping") == [] and receiver.received("/post") == []
    assert [r["kind"] for r in server.deliveries(task["id"], key=key)] == ["callback"]


def test_deleting_a_task_deletes_its_deliveries(
        server: Server, key: str, receiver: Receiver, site: TestSite) -> None:
    task = server.ok("POST", "/v1/tasks", {
        "scheme": scheme(site), "callback_url": receiver.url + "/cb"}, 201, key=key)
    server.wait_deliveries(task["id"], lambda rows: bool(rows) and rows[-1]["status_code"],
                           key=key)
    server.ok("DELETE", f"/v1/tasks/{task['id']}", None, 204, key=key)
    assert server.call("GET", f"/v1/tasks/{task['id']}/deliveries", key=key).status == 404
    store = Store(store_url("", server.data_dir))
    with store.engine.connect() as conn:
        left = conn.execute(select(deliveries).where(deliveries.c.task_id == task["id"])).all()
    store.close()
    assert left == []


def test_another_tenant_cannot_read_the_log(server: Server, key: str, site: TestSite) -> None:
    task = server.ok("POST", "/v1/tasks", {"scheme": scheme(site), "run": False}, 201, key=key)
    assert server.ok("GET", f"/v1/tasks/{task['id']}/deliveries", key=key) == {"data": []}
    other = server.create_key("someone-else")
    response = server.call("GET", f"/v1/tasks/{task['id']}/deliveries", key=other)
    assert response.status == 404 and response.content_type == "application/problem+json"
