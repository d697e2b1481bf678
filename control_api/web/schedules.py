"""Scheduled crawls: `/v1/schedules` and the clock that fires them.

A schedule is a cron expression (croniter, five fields or `@daily`-style aliases, evaluated in
its `timezone`) and one task. Created with a `scheme`, the schedule creates that task once
(`initialized`, visible in `/v1/tasks`); created with a `task_id`, it uses that task. Each
firing queues a new run of the task on the configured launcher, so the task's results are
those of its latest run. A firing while the task's run is still queued or running queues
nothing (no overlapping runs), and says so in `last_error`.

Missed fires: a schedule whose time passed while no server ran fires **once** at the next
start (at the scheduler's first tick), then continues from the next time after now; it never
backfills every missed time. Two servers sharing a store never fire the same time twice: the
firing takes the schedule with a conditional update of `next_at`.

Time comes from an injected clock (`IReactorTime.seconds()`); tests use
`twisted.internet.task.Clock`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterError, croniter
from klein import Klein
from pydantic import BaseModel, ConfigDict, Field, field_validator
from twisted.internet import task, threads
from twisted.internet.interfaces import IReactorTime
from twisted.web.iweb import IRequest

from control_api.launchers.local import Launcher
from control_api.web.errors import NotFound, Unprocessable
from control_api.web.http import read_json, send_json, validate
from control_api.web.task_api import CreateTask, TaskAPI, defer, share_problem_handlers
from control_api.web.task_view import iso
from engine.ids import new_id
from engine.scheme import Scheme
from engine.store import Row, Store
from engine.store import schedules as schedule_store
from engine.store import tasks as task_store
from engine.store.status import ACTIVE_STATUSES

logger = logging.getLogger(__name__)


def next_fire(cron: str, timezone: str, after: float) -> float:
    """The first firing strictly after `after` (epoch seconds)."""
    start = datetime.fromtimestamp(after, ZoneInfo(timezone))
    return float(croniter(cron, start).get_next(float))


class CreateSchedule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cron: str = Field(max_length=200)
    scheme: Scheme | None = None
    task_id: str | None = Field(default=None, max_length=40)
    name: str | None = Field(default=None, max_length=500)
    tag: str | None = Field(default=None, max_length=500)
    timezone: str = Field(default="UTC", max_length=64)

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        value = " ".join(value.split())
        fields = value.split(" ")
        if not (len(fields) == 5 or (len(fields) == 1 and value.startswith("@"))) \
                or not croniter.is_valid(value):
            raise ValueError(f"{value!r} is not a cron expression (five fields: minute hour "
                             "day-of-month month day-of-week, or @hourly, @daily, ...)")
        try:  # valid syntax may still name no date at all (`0 0 31 2 *`, February 31st)
            next_fire(value, "UTC", time.time())
        except CroniterError:
            raise ValueError(f"{value!r} never fires (it names no date that exists)") from None
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name like "
                             "'Europe/Paris' or 'UTC')") from None
        return value


class ScheduleNotFound(NotFound):
    def __init__(self, schedule_id: str):
        super().__init__(f"schedule {schedule_id} not found")


# -- queries (synchronous: the API runs them in its thread pool) -----------------------------

def create(store: Store, tenant_id: str, body: CreateSchedule, now: float) -> Row:
    """Everything is checked before anything is written: a refused schedule leaves no task."""
    if (body.scheme is None) == (body.task_id is None):
        raise Unprocessable({"scheme": ["give either scheme or task_id, not both or neither"]})
    try:
        next_at = next_fire(body.cron, body.timezone, now)
    except CroniterError:
        raise Unprocessable({"cron": [f"{body.cron!r} never fires in {body.timezone}"]}) from None
    task_id = body.task_id
    if task_id is not None:
        if store.get_task(task_id, tenant_id) is None:
            raise Unprocessable({"task_id": [f"task {task_id} not found"]})
    else:
        assert body.scheme is not None
        created, _ = store.create_task(tenant_id, body.scheme.model_dump(mode="json"),
                                       body.scheme.payload_id, run=False, name=body.name,
                                       tag=body.tag)
        task_id = created["id"]
    row: Row = {
        "id": new_id("s"), "tenant_id": tenant_id, "name": body.name, "tag": body.tag,
        "cron": body.cron, "timezone": body.timezone, "task_id": task_id,
        "next_at": next_at, "last_at": None,
        "last_run_id": None, "last_error": None, "fired": 0, "created_at": now,
    }
    schedule_store.add(store, row)
    return row


def get(store: Store, tenant_id: str, schedule_id: str) -> Row:
    row = schedule_store.get(store, tenant_id, schedule_id)
    if row is None:
        raise ScheduleNotFound(schedule_id)
    return row


def list_all(store: Store, tenant_id: str) -> list[Row]:
    return schedule_store.list_all(store, tenant_id)


def remove(store: Store, tenant_id: str, schedule_id: str) -> None:
    get(store, tenant_id, schedule_id)
    schedule_store.remove(store, schedule_id)


def fire(store: Store, row: Row, now: float) -> str | None:
    """Fire one due schedule: queue a run of its task unless one is active. The run id."""
    following = next_fire(row["cron"], row["timezone"], now)
    # (not taken: another server fired it, or it was deleted)
    if not schedule_store.take(store, row, following, now):
        return None
    run_id: str | None = None
    error: str | None = None
    exists, latest = task_store.latest_run_id(store, row["task_id"])
    if not exists:
        error = f"task {row['task_id']} was deleted"
    else:
        run = store.get_run(latest) if latest else None
        if run is not None and run["status"] in ACTIVE_STATUSES:
            error = f"skipped: run {run['id']} was still {run['status']}"
        else:
            run_id = store.queue_run(row["task_id"])["id"]
    schedule_store.fired(store, row["id"], run_id, error)
    return run_id


def fire_due(store: Store, now: float) -> list[str]:
    """Fire every schedule whose time has come (once each, however many times were missed)."""
    queued = []
    for row in schedule_store.due(store, now):
        try:
            run_id = fire(store, row, now)
        except Exception:  # one broken schedule must not stop the others
            logger.exception("firing schedule %s failed", row["id"])
            continue
        if run_id is not None:
            queued.append(run_id)
    return queued


def view(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"], "name": row["name"], "tag": row["tag"], "cron": row["cron"],
        "timezone": row["timezone"], "task_id": row["task_id"],
        "next_run_at": iso(row["next_at"]), "last_run_at": iso(row["last_at"]),
        "last_run_id": row["last_run_id"], "last_error": row["last_error"],
        "runs": row["fired"], "created_at": iso(row["created_at"]),
    }


# -- the clock -------------------------------------------------------------------------------

class Scheduler:
    """Checks for due schedules every `interval` seconds of `clock`, fires them, kicks the
    launcher. `blocking` runs the store work (the reactor's thread pool by default)."""

    def __init__(self, store: Store, launcher: Launcher, clock: IReactorTime,
                 interval: float = 1.0,
                 blocking: Callable[..., Any] = threads.deferToThread):
        self.store = store
        self.launcher = launcher
        self.clock = clock
        self.blocking = blocking
        self.interval = interval
        self._busy = False
        self._loop = task.LoopingCall(self.tick)
        self._loop.clock = clock

    def start(self) -> None:
        self._loop.start(self.interval, now=True)

    def stop(self) -> None:
        if self._loop.running:
            self._loop.stop()

    def tick(self) -> None:
        if self._busy:
            return
        self._busy = True
        d = self.blocking(fire_due, self.store, self.clock.seconds())
        d.addCallback(self._fired)
        d.addErrback(lambda f: logger.error("schedules: %s", f.getTraceback()))
        d.addBoth(self._done)

    def _fired(self, run_ids: list[str]) -> None:
        if run_ids:
            logger.info("schedules queued %d run(s)", len(run_ids))
            self.launcher.kick()

    def _done(self, _: object) -> None:
        self._busy = False


# -- the API ---------------------------------------------------------------------------------

class ScheduleAPI:
    app = Klein()

    def __init__(self, tasks: TaskAPI, clock: IReactorTime | None = None):
        # The task API's store, settings, authentication, rate limits and error mapping.
        self.tasks = tasks
        self.store = tasks.store
        self.clock = clock

    def now(self) -> float:
        return self.clock.seconds() if self.clock is not None else time.time()

    @app.route("/v1/schedules", methods=["POST"])
    async def create_schedule(self, request: IRequest) -> bytes:
        who = await self.tasks.principal(request)
        body = validate(CreateSchedule, read_json(request, self.tasks.config.body_limit))
        if body.scheme is not None and self.tasks.target_check is not None:
            await defer(self.tasks.target_check, CreateTask(scheme=body.scheme, run=False))
        row = await defer(create, self.store, who.tenant_id, body, self.now())
        request.setHeader(b"Location", f"/v1/schedules/{row['id']}".encode())
        return send_json(request, view(row), 201)

    @app.route("/v1/schedules", methods=["GET"])
    async def list_schedules(self, request: IRequest) -> bytes:
        who = await self.tasks.principal(request)
        rows = await defer(list_all, self.store, who.tenant_id)
        return send_json(request, {"data": [view(r) for r in rows],
                                   "links": {"next": None, "previous": None}})

    @app.route("/v1/schedules/<schedule_id>", methods=["GET"])
    async def get_schedule(self, request: IRequest, schedule_id: str) -> bytes:
        who = await self.tasks.principal(request)
        return send_json(request, view(await defer(get, self.store, who.tenant_id,
                                                   schedule_id)))

    @app.route("/v1/schedules/<schedule_id>", methods=["DELETE"])
    async def delete_schedule(self, request: IRequest, schedule_id: str) -> bytes:
        who = await self.tasks.principal(request)
        await defer(remove, self.store, who.tenant_id, schedule_id)
        request.setResponseCode(204)
        return b""


share_problem_handlers(ScheduleAPI.app)
