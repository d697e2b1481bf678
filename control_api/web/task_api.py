"""The `/v1` task API (API.md sections 1 and 2), as a Klein app on a class."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from klein import Klein
from pydantic import BaseModel, ConfigDict, Field
from twisted.internet.defer import Deferred
from twisted.web.iweb import IRequest
from werkzeug.routing import BaseConverter

from control_api import results
from control_api.background import deliveries
from control_api.keys import Principal, webhook_secret
from control_api.web import events, logs, openapi
from control_api.web import metrics as web_metrics
from control_api.web import task_view as q
from control_api.web.context import ApiContext
from control_api.web.errors import BadRequest, NotFound, TaskNotFound
from control_api.web.http import (
    query_arg,
    query_choice,
    query_int,
    read_json,
    send_json,
    send_json_text,
    validate,
)
from control_api.web.offload import in_thread
from control_api.web.problems import map_problems
from control_api.web.views import TaskViews
from engine.scheme import Scheme, payload_id_of, redact_scheme
from engine.scheme_types import FORMATS, Format, Url
from engine.store import events as store_events
from engine.store import stats as store_stats
from engine.store.status import STATES, TASK_STATUSES
from engine.store.tasks import list_page_by_key
from engine.worker import log_path


class CreateTask(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    scheme: Scheme
    name: str | None = Field(default=None, max_length=500)
    tag: str | None = Field(default=None, max_length=500)
    run: bool = True
    callback_url: Url | None = None
    pingback_url: Url | None = None
    postback_url: Url | None = None
    postback_format: Format | None = None


class TaskId(BaseConverter):
    """A task id in a path: anything but `ready`, so that /v1/tasks/ready is its own resource
    (OPTIONS and 405s list GET only, not the methods of /v1/tasks/{id})."""

    regex = r"(?!ready\Z)[^/]+"


class TaskAPI:
    app = Klein()
    app.url_map.converters["task_id"] = TaskId

    def __init__(self, ctx: ApiContext):
        self.ctx = ctx
        self.store = ctx.store
        self.config = ctx.config
        self.launcher = ctx.launcher
        self.views = TaskViews(ctx.config.data_dir)  # the task objects of reads, by row

    async def principal(self, request: IRequest, bucket: str = "api",
                        per_minute: int | None = None) -> Principal:
        return await self.ctx.auth.principal(request, bucket, per_minute)

    def base_url(self, request: IRequest) -> str:
        return self.ctx.base_url(request)

    def task_json(self, request: IRequest, row: dict[str, Any]) -> dict[str, Any]:
        return q.view(row, self.base_url(request), self.config.data_dir)

    # -- public --------------------------------------------------------------------------

    @app.route("/health", methods=["GET"])
    def health(self, request: IRequest) -> bytes:
        return send_json(request, {"status": "ok"})

    @app.route("/openapi.json", methods=["GET"])
    def openapi_json(self, request: IRequest) -> bytes:
        return send_json(request, openapi.spec(self.base_url(request)))

    # -- tasks ---------------------------------------------------------------------------

    @app.route("/v1/tasks", methods=["POST"])
    async def create_task(self, request: IRequest) -> bytes:
        who = await self.principal(request)
        body = validate(CreateTask, read_json(request, self.config.body_limit))
        await self.ctx.check_targets(body)
        scheme = body.scheme.model_dump(mode="json")  # (once: as stored, and its payload id)

        def create() -> tuple[str, dict[str, Any] | None]:  # read back as shown: one hop
            task, _ = self.store.create_task(
                who.tenant_id, scheme, payload_id_of(scheme),
                run=body.run, name=body.name, tag=body.tag, callback_url=body.callback_url,
                pingback_url=body.pingback_url, postback_url=body.postback_url,
                postback_format=body.postback_format)
            return task["id"], q.get(self.store, who.tenant_id, task["id"])

        task_id, row = await in_thread(create)
        if body.run:
            self.launcher.kick()
        if row is None:  # deleted already (by its id, which only this answer gives)
            raise TaskNotFound(task_id)
        request.setHeader(b"Location", f"/v1/tasks/{task_id}".encode())
        return send_json(request, self.task_json(request, row), 201)

    @app.route("/v1/tasks", methods=["GET"])
    async def list_tasks(self, request: IRequest) -> bytes:
        key_hash = self.ctx.auth.key_hash(request)
        filters: dict[str, Any] = {
            "status": query_choice(request, "status", TASK_STATUSES, None),
            "tag": query_arg(request, "tag"),
            "name": query_arg(request, "name"),
            "take": query_int(request, "take", 20, 1, 100),
            "order": query_choice(request, "order", ("asc", "desc"), "asc") or "asc",
        }
        # Keyword arguments, not a partial: equal listings asked meanwhile are read once.
        key, (rows, following, previous) = await self.ctx.reads(
            list_page_by_key, self.store, key_hash, start=query_arg(request, "from"), **filters)
        self.ctx.auth.admit(key)
        base = self.base_url(request)
        links = {"next": self._page_link(base, request, filters, following),
                 "previous": self._page_link(base, request, filters, previous)}
        # As send_json would encode {"data": [...], "links": {...}}, from each task's text.
        data = ", ".join(self.views.json(row, base) for row in rows)
        return send_json_text(request, f'{{"data": [{data}], "links": '
                                       f'{json.dumps(links, ensure_ascii=False)}}}')

    @staticmethod
    def _page_link(base: str, request: IRequest, filters: dict[str, Any],
                   start: str | None) -> str | None:
        if start is None:
            return None
        params = {k: v for k, v in filters.items() if v is not None}
        params["from"] = start
        return f"{base}{request.path.decode()}?{urlencode(params)}"

    @app.route("/v1/tasks/ready", methods=["GET"])
    async def ready_tasks(self, request: IRequest) -> bytes:
        who = await self.principal(request, "ready", self.config.ready_rate_limit)
        rows = await in_thread(q.ready, self.store, who.tenant_id)
        data = []
        for row in rows:
            task = self.task_json(request, row)
            data.append({k: task[k] for k in ("id", "name", "tag", "ended_at", "results")})
        return send_json(request, {"data": data})

    @app.route("/v1/tasks/<task_id:task_id>", methods=["GET"])
    def get_task(self, request: IRequest, task_id: str) -> Deferred[bytes]:
        # A callback, not a coroutine: the API's most frequent request skips the machinery of
        # one (a coroutine, its Deferred and their steps: 3-4% more of these answered a second
        # under wrk -t1 -c8).
        return self.ctx.reads(q.get_by_key, self.store, self.ctx.auth.key_hash(request),
                              task_id).addCallback(self._task_answer, request, task_id)

    def _task_answer(self, found: tuple[Any, Any], request: IRequest, task_id: str) -> bytes:
        key, row = found
        self.ctx.auth.admit(key)
        if row is None:
            raise TaskNotFound(task_id)
        return send_json_text(request, self.views.json(row, self.base_url(request)))

    @app.route("/v1/tasks/<task_id>/info", methods=["POST"])
    async def task_info(self, request: IRequest, task_id: str) -> bytes:
        return await self.get_task(request, task_id)

    @app.route("/v1/tasks/<task_id>/run", methods=["POST"])
    async def run_task(self, request: IRequest, task_id: str) -> bytes:
        who = await self.principal(request)
        row = await in_thread(q.queue_run, self.store, who.tenant_id, task_id)
        self.launcher.kick()
        return send_json(request, self.task_json(request, row), 202)

    @app.route("/v1/tasks/<task_id>/cancel", methods=["POST"])
    async def cancel_task(self, request: IRequest, task_id: str) -> bytes:
        who = await self.principal(request)
        run = await in_thread(q.cancel_run, self.store, who.tenant_id, task_id)
        self.launcher.cancel(run)
        row = await in_thread(q.get, self.store, who.tenant_id, task_id)
        return send_json(request, self.task_json(request, row))

    @app.route("/v1/tasks/<task_id>/pause", methods=["POST"])
    async def pause_task(self, request: IRequest, task_id: str) -> bytes:
        """The crawl stops taking pages at its next flush, finishes those in flight and exits;
        the frontier stays in the store."""
        who = await self.principal(request)
        await in_thread(q.pause_run, self.store, who.tenant_id, task_id)
        row = await in_thread(q.get, self.store, who.tenant_id, task_id)
        return send_json(request, self.task_json(request, row))

    @app.route("/v1/tasks/<task_id>/resume", methods=["POST"])
    async def resume_task(self, request: IRequest, task_id: str) -> bytes:
        who = await self.principal(request)
        row = await in_thread(q.resume_run, self.store, who.tenant_id, task_id)
        self.launcher.kick()
        return send_json(request, self.task_json(request, row), 202)

    @app.route("/v1/tasks/<task_id:task_id>", methods=["PUT"])
    async def restart_task(self, request: IRequest, task_id: str) -> bytes:
        who = await self.principal(request)
        await self._stop_and_clear(who, task_id, delete_task=False)
        row = await in_thread(q.queue_run, self.store, who.tenant_id, task_id)
        self.launcher.kick()
        return send_json(request, self.task_json(request, row), 202)

    @app.route("/v1/tasks/<task_id:task_id>", methods=["DELETE"])
    async def delete_task(self, request: IRequest, task_id: str) -> bytes:
        who = await self.principal(request)
        await self._stop_and_clear(who, task_id, delete_task=True)
        request.setResponseCode(204)
        return b""

    async def _stop_and_clear(self, who: Principal, task_id: str, delete_task: bool) -> None:
        run = await in_thread(q.cancel_run, self.store, who.tenant_id, task_id, strict=False)
        if run is not None:
            self.launcher.cancel(run)
        run_ids = await in_thread(q.clear, self.store, task_id, delete_task=delete_task)
        await in_thread(results.remove, self.config.data_dir, run_ids)

    @app.route("/v1/tasks/<task_id>/scheme", methods=["GET"])
    async def task_scheme(self, request: IRequest, task_id: str) -> bytes:
        who = await self.principal(request)
        row = await in_thread(q.get, self.store, who.tenant_id, task_id)
        # Login field values are secrets: the store keeps them for the crawl, no answer shows them.
        return send_json(request, redact_scheme(row["scheme"]))

    @app.route("/v1/tasks/<task_id>/store", methods=["GET"])
    async def task_store(self, request: IRequest, task_id: str) -> bytes:
        who = await self.principal(request)
        fmt = query_choice(request, "format", FORMATS, "jsonl") or "jsonl"
        row, run = await in_thread(q.results_run, self.store, who.tenant_id, task_id)
        path: Path = await in_thread(results.render, self.store, self.config.data_dir, run["id"],
                                 Scheme.model_validate(row["scheme"]), fmt)
        await in_thread(q.mark_collected, self.store, task_id)
        request.setHeader(b"Content-Type", results.CONTENT_TYPES[fmt].encode())
        request.setHeader(b"Content-Disposition",
                          f'attachment; filename="{task_id}.{fmt}"'.encode())
        data: bytes = await in_thread(path.read_bytes)
        return data

    @app.route("/v1/tasks/<task_id>/pages", methods=["GET"])
    async def task_pages(self, request: IRequest, task_id: str) -> bytes:
        who = await self.principal(request)
        state = query_arg(request, "state")
        if state and state.lower() not in {s.lower() for s in STATES}:
            raise BadRequest(f"query parameter 'state' must be one of {', '.join(STATES)}")
        take = query_int(request, "take", 20, 1, 100)  # as every list (API.md section 2)
        rows, following, previous = await in_thread(
            q.list_pages, self.store, who.tenant_id, task_id, state=state, take=take,
            start=query_arg(request, "from"))
        filters, base = {"state": state, "take": take}, self.base_url(request)
        return send_json(request, {"data": rows, "links": {
            "next": self._page_link(base, request, filters, following),
            "previous": self._page_link(base, request, filters, previous)}})

    @app.route("/v1/tasks/<task_id>/deliveries", methods=["GET"])
    async def task_deliveries(self, request: IRequest, task_id: str) -> bytes:
        who = await self.principal(request)
        return send_json(request, {"data": await in_thread(deliveries.log, self.store,
                                                       who.tenant_id, task_id)})

    # -- observing a run (web/logs.py, web/events.py, engine/store/stats.py, web/metrics.py) --

    async def _run(self, request: IRequest, task_id: str) -> dict[str, Any]:
        """The run `?run=` of the caller's task, or its latest; 404 when there is none."""
        who = await self.principal(request)
        await in_thread(q.get, self.store, who.tenant_id, task_id)
        wanted = query_arg(request, "run") or None
        run = await in_thread(store_events.task_run, self.store, task_id, wanted)
        if run is None:
            raise NotFound(f"task {task_id} has no run {wanted}" if wanted
                           else f"task {task_id} has not run yet")
        return dict(run)

    @app.route("/v1/tasks/<task_id>/log", methods=["GET"])
    async def task_log(self, request: IRequest, task_id: str) -> bytes:
        run = await self._run(request, task_id)
        tail = query_arg(request, "tail")
        lines = query_int(request, "tail", 0, 0, logs.MAX_TAIL) if tail else None
        header = request.getHeader(b"range")
        try:
            path = log_path(self.config.data_dir, run["id"])
            answer: logs.Answer = await in_thread(
                logs.read, path, lines, header.decode("latin-1") if header else None)
        except logs.RangeNotSatisfiable as exc:
            request.setHeader(b"Content-Range", f"bytes */{exc.extra['size']}".encode())
            raise
        request.setResponseCode(answer.status)
        request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
        for name, value in answer.headers.items():
            request.setHeader(name, value)
        return answer.body

    @app.route("/v1/tasks/<task_id>/events", methods=["GET"])
    async def task_events(self, request: IRequest, task_id: str) -> bytes:
        assert self.ctx.events is not None
        body: bytes = await events.serve(self.ctx, self.ctx.events, request, task_id)
        return body

    @app.route("/v1/tasks/<task_id>/stats", methods=["GET"])
    async def task_stats(self, request: IRequest, task_id: str) -> bytes:
        run = await self._run(request, task_id)
        stats = await in_thread(store_stats.run_stats, self.store, run["id"])
        return send_json(request, {"task_id": task_id, "status": run["status"], **stats})

    @app.route("/metrics", methods=["GET"])
    async def metrics(self, request: IRequest) -> bytes:
        metrics = self.ctx.metrics
        assert metrics is not None
        if not (metrics.public or metrics.token_ok(request)):
            await self.principal(request)
        body: bytes = await in_thread(metrics.render)
        request.setHeader(b"Content-Type", web_metrics.CONTENT_TYPE)
        return body

    # -- webhook secret ------------------------------------------------------------------

    @app.route("/v1/webhook-secret", methods=["GET"])
    async def get_secret(self, request: IRequest) -> bytes:
        who = await self.principal(request)
        return send_json(request, {"secret": await in_thread(webhook_secret, self.store,
                                                         who.tenant_id)})

    @app.route("/v1/webhook-secret/rotate", methods=["POST"])
    async def rotate_secret(self, request: IRequest) -> bytes:
        who = await self.principal(request)
        return send_json(request, {"secret": await in_thread(webhook_secret, self.store,
                                                         who.tenant_id, rotate=True)})


map_problems(TaskAPI.app)
