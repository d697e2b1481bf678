"""Scheduled crawls: the `/v1/schedules` routes and the schedule queries behind them.

A schedule is a cron expression (croniter, five fields or `@daily`-style aliases, evaluated in
its `timezone`) and one task. Created with a `scheme`, the schedule creates that task once
(`initialized`, visible in `/v1/tasks`); created with a `task_id`, it uses that task. The
clock that fires schedules, and the rules for overlapping and missed fires, are in
control_api/background/scheduler.py.
"""

from __future__ import annotations

import time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterError, croniter
from klein import Klein
from pydantic import BaseModel, ConfigDict, Field, field_validator
from twisted.internet.interfaces import IReactorTime
from twisted.web.iweb import IRequest

from control_api.background.scheduler import next_fire
from control_api.web.context import ApiContext
from control_api.web.errors import NotFound, Unprocessable
from control_api.web.http import read_json, send_json, validate
from control_api.web.offload import in_thread
from control_api.web.problems import map_problems
from control_api.web.task_api import CreateTask
from control_api.web.task_view import iso
from engine.ids import new_id
from engine.scheme import Scheme
from engine.store import Row, Store
from engine.store import schedules as schedule_store


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


def view(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"], "name": row["name"], "tag": row["tag"], "cron": row["cron"],
        "timezone": row["timezone"], "task_id": row["task_id"],
        "next_run_at": iso(row["next_at"]), "last_run_at": iso(row["last_at"]),
        "last_run_id": row["last_run_id"], "last_error": row["last_error"],
        "runs": row["fired"], "created_at": iso(row["created_at"]),
    }


# -- the API ---------------------------------------------------------------------------------

class ScheduleAPI:
    app = Klein()

    def __init__(self, ctx: ApiContext, clock: IReactorTime | None = None):
        self.ctx = ctx
        self.store = ctx.store
        self.clock = clock

    def now(self) -> float:
        return self.clock.seconds() if self.clock is not None else time.time()

    @app.route("/v1/schedules", methods=["POST"])
    async def create_schedule(self, request: IRequest) -> bytes:
        who = await self.ctx.auth.principal(request)
        body = validate(CreateSchedule, read_json(request, self.ctx.config.body_limit))
        if body.scheme is not None:
            await self.ctx.check_targets(CreateTask(scheme=body.scheme, run=False))
        row = await in_thread(create, self.store, who.tenant_id, body, self.now())
        request.setHeader(b"Location", f"/v1/schedules/{row['id']}".encode())
        return send_json(request, view(row), 201)

    @app.route("/v1/schedules", methods=["GET"])
    async def list_schedules(self, request: IRequest) -> bytes:
        who = await self.ctx.auth.principal(request)
        rows = await in_thread(list_all, self.store, who.tenant_id)
        return send_json(request, {"data": [view(r) for r in rows],
                                   "links": {"next": None, "previous": None}})

    @app.route("/v1/schedules/<schedule_id>", methods=["GET"])
    async def get_schedule(self, request: IRequest, schedule_id: str) -> bytes:
        who = await self.ctx.auth.principal(request)
        return send_json(request, view(await in_thread(get, self.store, who.tenant_id,
                                                   schedule_id)))

    @app.route("/v1/schedules/<schedule_id>", methods=["DELETE"])
    async def delete_schedule(self, request: IRequest, schedule_id: str) -> bytes:
        who = await self.ctx.auth.principal(request)
        await in_thread(remove, self.store, who.tenant_id, schedule_id)
        request.setResponseCode(204)
        return b""


map_problems(ScheduleAPI.app)
