"""Firing schedules on a controllable clock (twisted.internet.task.Clock), store on SQLite."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from twisted.internet import defer
from twisted.internet.task import Clock

from control_api.background.scheduler import Scheduler, fire, next_fire
from control_api.web.schedules import CreateSchedule, create, get
from engine.store import Row, Store, store_url

TENANT = "tn_clock"
SCHEME = {"start_urls": ["http://127.0.0.1:1/"],
          "item": {"fields": [{"name": "title", "selector": "CSS: title"}]}}


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


class Kicks:
    """The launcher, as the scheduler sees it: something to kick."""

    name = "test"

    def __init__(self) -> None:
        self.kicks = 0

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def kick(self) -> None:
        self.kicks += 1
    def cancel(self, run: Row) -> None: ...


def inline(f: Callable[..., Any], *args: Any) -> Any:
    return defer.maybeDeferred(f, *args)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(store_url("", tmp_path))
    yield opened
    opened.close()


def runs_of(store: Store, task_id: str) -> list[Row]:
    return [r for r in store.runs_with_status("queued", "running", "completed")
            if r["task_id"] == task_id]


def test_fires_on_the_cron_times_and_never_overlaps(store: Store) -> None:
    task, _ = store.create_task(TENANT, SCHEME, "0" * 32, run=False)
    clock = Clock()
    clock.advance(at("2026-01-01T10:30:00"))
    schedule = create(store, TENANT, CreateSchedule(cron="0 * * * *", task_id=task["id"]),
                      clock.seconds())
    assert schedule["next_at"] == at("2026-01-01T11:00:00")
    launcher = Kicks()
    scheduler = Scheduler(store, launcher, clock, interval=1.0, blocking=inline)
    scheduler.start()
    clock.advance(29 * 60)
    assert runs_of(store, task["id"]) == [] and launcher.kicks == 0
    clock.advance(61)  # 11:00:01
    [first] = runs_of(store, task["id"])
    assert first["status"] == "queued" and launcher.kicks == 1
    row = get(store, TENANT, schedule["id"])
    assert row["next_at"] == at("2026-01-01T12:00:00") and row["last_run_id"] == first["id"]

    clock.advance(3600)  # 12:00:01, the first run still queued: no second run
    assert len(runs_of(store, task["id"])) == 1
    assert get(store, TENANT, schedule["id"])["last_error"].startswith("skipped")

    store.update_run(first["id"], status="completed")
    clock.advance(3600)  # 13:00:01
    assert len(runs_of(store, task["id"])) == 2
    row = get(store, TENANT, schedule["id"])
    assert row["fired"] == 2 and row["last_error"] is None
    scheduler.stop()


def test_missed_fires_run_once_at_start(store: Store) -> None:
    """Down from 10:30 to 16:10: five fire times passed; one run at start, none backfilled."""
    task, _ = store.create_task(TENANT, SCHEME, "0" * 32, run=False)
    clock = Clock()
    clock.advance(at("2026-01-01T10:30:00"))
    schedule = create(store, TENANT, CreateSchedule(cron="0 * * * *", task_id=task["id"]),
                      clock.seconds())
    clock.advance(at("2026-01-01T16:10:00") - clock.seconds())
    launcher = Kicks()
    Scheduler(store, launcher, clock, blocking=inline).start()
    assert len(runs_of(store, task["id"])) == 1 and launcher.kicks == 1
    assert get(store, TENANT, schedule["id"])["next_at"] == at("2026-01-01T17:00:00")
    clock.advance(60)
    assert len(runs_of(store, task["id"])) == 1


def test_two_schedulers_fire_each_time_once(store: Store) -> None:
    task, _ = store.create_task(TENANT, SCHEME, "0" * 32, run=False)
    clock = Clock()
    clock.advance(at("2026-01-01T10:30:00"))
    schedule = create(store, TENANT, CreateSchedule(cron="*/15 * * * *", task_id=task["id"]),
                      clock.seconds())
    clock.advance(16 * 60)
    due = get(store, TENANT, schedule["id"])
    assert fire(store, due, clock.seconds()) is not None
    assert fire(store, due, clock.seconds()) is None  # the same firing, seen by a second server


def test_a_scheme_schedule_owns_one_task(store: Store) -> None:
    body = CreateSchedule.model_validate({"cron": "@daily", "scheme": SCHEME, "name": "nightly"})
    row = create(store, TENANT, body, at("2026-01-01T10:30:00"))
    task = store.get_task(row["task_id"], TENANT)
    assert task is not None and task["name"] == "nightly" and task["run_id"] is None
    assert row["next_at"] == at("2026-01-02T00:00:00")


def test_time_zones_and_daylight_saving() -> None:
    # 09:00 in Paris is 08:00 UTC in winter and 07:00 UTC in summer.
    assert next_fire("0 9 * * *", "Europe/Paris", at("2026-01-10T07:30:00")) == \
        at("2026-01-10T08:00:00")
    assert next_fire("0 9 * * *", "Europe/Paris", at("2026-07-10T06:30:00")) == \
        at("2026-07-10T07:00:00")
