"""The event hub in process (pytest-twisted): one poll serves every subscriber of a task, on a
controllable clock, with the store on SQLite read in the reactor's thread pool."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet.task import Clock

from control_api.web.events import Cursor, EventHub, Subscriber
from engine.ids import new_id
from engine.store import Store, runs, store_url
from engine.store.status import COMPLETED, HANDLED

TENANT = "tn_hub"
SCHEME = {"start_urls": ["http://127.0.0.1:1/"],
          "item": {"fields": [{"name": "title", "selector": "CSS: title"}]}}


class Stream:
    """What a subscriber's connection received."""

    def __init__(self) -> None:
        self.data = b""
        self.closed = False

    def write(self, data: bytes) -> None:
        self.data += data

    def close(self) -> None:
        self.closed = True

    def events(self) -> list[tuple[str, str]]:
        out = []
        for block in self.data.decode().split("\n\n"):
            fields = dict(line.split(": ", 1) for line in block.splitlines()
                          if not line.startswith(":") and ": " in line)
            if "event" in fields:
                out.append((fields["event"], fields["id"]))
        return out


@pytest.fixture
def store(tmp_path: Path) -> Any:
    store = Store(store_url("", tmp_path))
    yield store
    store.close()


def crawl(store: Store) -> tuple[str, str]:
    task, run = store.create_task(TENANT, SCHEME, "0" * 32)
    assert run is not None
    runs.start(store, run["id"])
    return task["id"], run["id"]


def page(task_id: str, run_id: str, status: int) -> dict[str, Any]:
    now = time.time()
    return {"id": new_id("p"), "task_id": task_id, "run_id": run_id,
            "url": f"http://example.com/{status}/{new_id('x')}", "state": HANDLED, "depth": 1,
            "http_status": status, "created_at": now, "updated_at": now}


def subscriber(cursor: Cursor | None = None) -> tuple[Subscriber, Stream]:
    stream = Stream()
    return Subscriber(stream.write, stream.close, TENANT, "http://x", cursor or Cursor()), stream


@pytest_twisted.ensureDeferred
async def test_one_poll_serves_every_subscriber_then_ends(store: Store, tmp_path: Path) -> None:
    task_id, run_id = crawl(store)
    clock = Clock()
    hub = EventHub(store, clock, tmp_path, interval=0.5, heartbeat=15)
    subs = [subscriber() for _ in range(50)]
    for sub, _ in subs:
        hub.subscribe(task_id, sub)
    assert len(hub.watches) == 1 and len(clock.getDelayedCalls()) == 1
    await hub.poll()
    assert hub.polls == 1
    for _, stream in subs:
        assert [e for e, _ in stream.events()] == ["status", "progress"]

    store.write_batch(page_rows=[page(task_id, run_id, 200), page(task_id, run_id, 404)],
                      run_id=run_id, progress={"pages": 2, "failed": 1, "queued": 3})
    await hub.poll()
    first = subs[0][1].events()
    assert [e for e, _ in first] == ["status", "progress", "page_failed", "progress"]
    assert all(s.events() == first for _, s in subs)  # one read, the same for everyone
    assert b": ping" not in subs[0][1].data
    clock.advance(15)
    await hub.poll()  # nothing changed: only the heartbeat
    assert subs[0][1].events() == first and subs[0][1].data.endswith(b": ping\n\n")

    # A subscriber resuming after the page failure gets only what follows it.
    failed_id = first[2][1]
    late, late_stream = subscriber(Cursor.parse(failed_id))
    hub.subscribe(task_id, late)
    runs.finish(store, run_id, COMPLETED, pages=3, failed=1, queued=0)
    await hub.poll()
    assert [e for e, _ in late_stream.events()] == ["status", "progress", "end"]
    assert all(s.closed for _, s in [*subs, (late, late_stream)])
    assert not hub.watches and not clock.getDelayedCalls()  # nobody listens: no polling
    assert hub.polls == 4


@pytest_twisted.ensureDeferred
async def test_closing_a_stream_stops_its_polling(store: Store, tmp_path: Path) -> None:
    task_id, _ = crawl(store)
    clock = Clock()
    hub = EventHub(store, clock, tmp_path, interval=0.5)
    sub, stream = subscriber()
    hub.subscribe(task_id, sub)
    await hub.poll()
    assert clock.getDelayedCalls()  # the next poll
    hub.unsubscribe(task_id, sub)
    assert not hub.watches and not clock.getDelayedCalls()
    assert not stream.closed  # the client went; nothing more is written


def test_cursor_round_trip() -> None:
    cursor = Cursor("r_01abc", 3, "running", 17)
    assert Cursor.parse(cursor.encode()) == cursor
    assert Cursor.parse("garbage") == Cursor()
    assert Cursor.parse(Cursor().encode()) == Cursor()
