"""The `/v1` task API (API.md sections 1 and 2), as a Klein app on a class."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from klein import Klein
from pydantic import BaseModel, ConfigDict, Field
from twisted.internet import threads
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest
from werkzeug.exceptions import HTTPException

from control_api import results
from control_api.background import deliveries
from control_api.config import Config
from control_api.keys import Principal, authenticate, webhook_secret
from control_api.launchers.local import Launcher
from control_api.web import openapi
from control_api.web import task_view as q
from control_api.web.errors import ApiError, BadRequest, Unauthorized, problem
from control_api.web.http import query_arg, query_choice, query_int, read_json, send_json, validate
from control_api.web.ratelimit import RateLimiter
from engine.downloadermiddlewares.pages import STATES
from engine.scheme import FORMATS, Format, Scheme, Url
from engine.store import Store
from engine.store.status import TASK_STATUSES

logger = logging.getLogger(__name__)


class CreateTask(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scheme: Scheme
    name: str | None = Field(default=None, max_length=500)
    tag: str | None = Field(default=None, max_length=500)
    run: bool = True
    callback_url: Url | None = None
    pingback_url: Url | None = None
    postback_url: Url | None = None
    postback_format: Format | None = None


def defer(f: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run blocking store work in the reactor's thread pool (the reactor never waits on I/O)."""
    return threads.deferToThread(f, *args, **kwargs)


class TaskAPI:
    app = Klein()

    def __init__(self, store: Store, config: Config, launcher: Launcher,
                 limiter: RateLimiter | None = None,
                 target_check: Callable[[CreateTask], None] | None = None):
        self.store = store
        self.config = config
        self.launcher = launcher
        self.limiter = limiter or RateLimiter()
        # Outbound safety for crawl targets and webhook URLs, plugged in by the composition root.
        self.target_check = target_check

    # -- plumbing ------------------------------------------------------------------------

    @app.handle_errors(ApiError)
    def api_error(self, request: IRequest, failure: Failure) -> bytes:
        error = failure.value
        assert isinstance(error, ApiError)
        if error.status == 429:
            request.setHeader(b"Retry-After", str(error.retry_after).encode())
        if error.status == 401:
            request.setHeader(b"WWW-Authenticate", b'ApiKey header="X-API-KEY"')
        return send_json(request, error.problem(), error.status, "application/problem+json")

    @app.handle_errors(HTTPException)
    def routing_error(self, request: IRequest, failure: Failure) -> bytes:
        error = failure.value
        assert isinstance(error, HTTPException)
        # werkzeug's redirects (`//` merged into `/`) carry no Location here: a path that
        # needs one names nothing.
        status = error.code if error.code and error.code >= 400 else 404
        detail = (f"{request.method.decode()} is not allowed on {request.path.decode()}"
                  if status == 405 else f"no such resource: {request.path.decode()}")
        if status == 405 and getattr(error, "valid_methods", None):
            request.setHeader(b"Allow", ", ".join(error.valid_methods).encode())  # type: ignore[attr-defined]
        return send_json(request, problem(status, detail), status, "application/problem+json")

    @app.handle_errors(Exception)
    def bug(self, request: IRequest, failure: Failure) -> bytes:
        logger.error("unhandled error on %s %s: %s", request.method, request.uri,
                     failure.getTraceback())
        return send_json(request, problem(500, "internal error"), 500, "application/problem+json")

    async def principal(self, request: IRequest, bucket: str = "api",
                        per_minute: int | None = None) -> Principal:
        """The caller, from `X-API-KEY` or `api_key`; counts the call against its rate limits."""
        key = request.getHeader(b"x-api-key") or query_arg(request, "api_key")
        if isinstance(key, bytes):
            key = key.decode("latin-1")
        if not key:
            raise Unauthorized("an API key is required: header X-API-KEY or query api_key")
        who: Principal | None = await defer(authenticate, self.store, key)
        if who is None:
            raise Unauthorized("the API key is not valid")
        self.limiter.check(who.key_id, "api", self.config.rate_limit)
        if per_minute is not None:
            self.limiter.check(who.key_id, bucket, per_minute)
        return who

    def base_url(self, request: IRequest) -> str:
        if self.config.public_url:
            return self.config.public_url
        host = request.getHeader(b"host") or f"{self.config.host}:{self.config.port}".encode()
        scheme = b"https" if request.isSecure() else b"http"
        return f"{scheme.decode()}://{host.decode()}"

    def task_json(self, request: IRequest, row: dict[str, Any]) -> dict[str, Any]:
        return q.view(row, self.base_url(request), self.config.data_dir)

    # -- public --------------------------------------------------------------------------

    @app.route("/health", methods=["GET"])
    def health(self, request: IRequest) -> bytes:
        return send_json(request, {"status": "ok"})

    @app.route("/openapi.json", methods=["GET"])
    def openapi_json(self, request: IRequest) -> bytes:
        return send_json(request, openapi.spec(self.base_url(request)))

    @app.route("/docs", methods=["GET"])
    def docs(self, request: IRequest) -> bytes:
        request.setHeader(b"Content-Type", b"text/html; charset=utf-8")
        return openapi.docs_html(openapi.spec(self.base_url(request))).encode()

    # -- tasks ---------------------------------------------------------------------------

    @app.route("/v1/tasks", methods=["POST"])
    async def create_task(self, request: IRequest) -> bytes:
        who = await self.principal(request)
        body = validate(CreateTask, read_json(request, self.config.body_limit))
        if self.target_check is not None:
            await defer(self.target_check, body)  # it resolves hostnames: not in the reactor
        scheme = body.scheme
        task, _ = await defer(
            self.store.create_task, who.tenant_id, scheme.model_dump(mode="json"),
            scheme.payload_id, run=body.run, name=body.name, tag=body.tag,
            callback_url=body.callback_url, pingback_url=body.pingback_url,
            postback_url=body.postback_url, postback_format=body.postback_format,
        )
        if body.run:
            self.launcher.kick()
        row = await defer(q.get, self.store, who.tenant_id, task["id"])
        request.setHeader(b"Location", f"/v1/tasks/{task['id']}".encode())
        return send_json(request, self.task_json(request, row), 201)

    @app.route("/v1/tasks", methods=["GET"])
    async def list_tasks(self, request: IRequest) -> bytes:
        who = await self.principal(request)
        filters = {
            "status": query_choice(request, "status", TASK_STATUSES, None),
            "tag": query_arg(request, "tag"),
            "name": query_arg(request, "name"),
            "take": query_int(request, "take", 20, 1, 100),
            "order": query_choice(request, "order", ("asc", "desc"), "asc") or "asc",
        }
        rows, following, previous = await defer(
            q.list_page, self.store, who.tenant_id, start=query_arg(request, "from"), **filters)
        return send_json(request, {
            "data": [self.task_json(request, row) for row in rows],
            "links": {"next": self._page_link(request, filters, following),
                      "previous": self._page_link(request, filters, previous)},
        })

    def _page_link(self, request: IRequest, filters: dict[str, Any],
                   start: str | None) -> str | None:
        if start is None:
            return None
        params = {k: v for k, v in filters.items() if v is not None}
        params["from"] = start
        return f"{self.base_url(request)}{request.path.decode()}?{urlencode(params)}"

    @app.route("/v1/tasks/ready", methods=["GET"])
    async def ready_tasks(self, request: IRequest) -> bytes:
        who = await self.principal(request, "ready", self.config.ready_rate_limit)
        rows = await defer(q.ready, self.store, who.tenant_id)
        data = []
        for row in rows:
            task = self.task_json(request, row)
            data.append({k: task[k] for k in ("id", "name", "tag", "ended_at", "results")})
        return send_json(request, {"data": data})

    @app.route("/v1/tasks/<task_id>", methods=["GET"])
    async def get_task(self, request: IRequest, task_id: str) -> bytes:
        who = await self.principal(request)
        row = await defer(q.get, self.store, who.tenant_id, task_id)
        return send_json(request, self.task_json(request, row))

    @app.route("/v1/tasks/<task_id>/info", methods=["POST"])
    async def task_info(self, request: IRequest, task_id: str) -> bytes:
        return await self.get_task(request, task_id)

    @app.route("/v1/tasks/<task_id>/run", methods=["POST"])
    async def run_task(self, request: IRequest, task_id: str) -> bytes:
        who = await self.principal(request)
        row = await defer(q.queue_run, self.store, who.tenant_id, task_id)
        self.launcher.kick()
        return send_json(request, self.task_json(request, row), 202)

    @app.route("/v1/tasks/<task_id>/cancel", methods=["POST"])
    async def cancel_task(self, request: IRequest, task_id: str) -> bytes:
        who = await self.principal(request)
        run = await defer(q.cancel_run, self.store, who.tenant_id, task_id)
        self.launcher.cancel(run)
        row = await defer(q.get, self.store, who.tenant_id, task_id)
        return send_json(request, self.task_json(request, row))

    @app.route("/v1/tasks/<task_id>", methods=["PUT"])
    async def restart_task(self, request: IRequest, task_id: str) -> bytes:
        who = await self.principal(request)
        await self._stop_and_clear(who, task_id, delete_task=False)
        row = await defer(q.queue_run, self.store, who.tenant_id, task_id)
        self.launcher.kick()
        return send_json(request, self.task_json(request, row), 202)

    @app.route("/v1/tasks/<task_id>", methods=["DELETE"])
    async def delete_task(self, request: IRequest, task_id: str) -> bytes:
        who = await self.principal(request)
        await self._stop_and_clear(who, task_id, delete_task=True)
        request.setResponseCode(204)
        return b""

    async def _stop_and_clear(self, who: Principal, task_id: str, delete_task: bool) -> None:
        run = await defer(q.cancel_run, self.store, who.tenant_id, task_id, strict=False)
        if run is not None:
            self.launcher.cancel(run)
        run_ids = await defer(q.clear, self.store, task_id, delete_task=delete_task)
        await defer(results.remove, self.config.data_dir, run_ids)

    @app.route("/v1/tasks/<task_id>/scheme", methods=["GET"])
    async def task_scheme(self, request: IRequest, task_id: str) -> bytes:
        who = await self.principal(request)
        row = await defer(q.get, self.store, who.tenant_id, task_id)
        return send_json(request, row["scheme"])

    @app.route("/v1/tasks/<task_id>/store", methods=["GET"])
    async def task_store(self, request: IRequest, task_id: str) -> bytes:
        who = await self.principal(request)
        fmt = query_choice(request, "format", FORMATS, "jsonl") or "jsonl"
        row, run = await defer(q.results_run, self.store, who.tenant_id, task_id)
        path: Path = await defer(results.render, self.store, self.config.data_dir, run["id"],
                                 Scheme.model_validate(row["scheme"]), fmt)
        await defer(q.mark_collected, self.store, task_id)
        request.setHeader(b"Content-Type", results.CONTENT_TYPES[fmt].encode())
        request.setHeader(b"Content-Disposition",
                          f'attachment; filename="{task_id}.{fmt}"'.encode())
        data: bytes = await defer(path.read_bytes)
        return data

    @app.route("/v1/tasks/<task_id>/pages", methods=["GET"])
    async def task_pages(self, request: IRequest, task_id: str) -> bytes:
        who = await self.principal(request)
        state = query_arg(request, "state")
        if state and state.lower() not in {s.lower() for s in STATES}:
            raise BadRequest(f"query parameter 'state' must be one of {', '.join(STATES)}")
        take = query_int(request, "take", 20, 1, 1000)
        rows, following, previous = await defer(
            q.list_pages, self.store, who.tenant_id, task_id, state=state, take=take,
            start=query_arg(request, "from"))
        filters = {"state": state, "take": take}
        return send_json(request, {"data": rows, "links": {
            "next": self._page_link(request, filters, following),
            "previous": self._page_link(request, filters, previous)}})

    @app.route("/v1/tasks/<task_id>/deliveries", methods=["GET"])
    async def task_deliveries(self, request: IRequest, task_id: str) -> bytes:
        who = await self.principal(request)
        return send_json(request, {"data": await defer(deliveries.log, self.store,
                                                       who.tenant_id, task_id)})

    # -- webhook secret ------------------------------------------------------------------

    @app.route("/v1/webhook-secret", methods=["GET"])
    async def get_secret(self, request: IRequest) -> bytes:
        who = await self.principal(request)
        return send_json(request, {"secret": await defer(webhook_secret, self.store,
                                                         who.tenant_id)})

    @app.route("/v1/webhook-secret/rotate", methods=["POST"])
    async def rotate_secret(self, request: IRequest) -> bytes:
        who = await self.principal(request)
        return send_json(request, {"secret": await defer(webhook_secret, self.store,
                                                         who.tenant_id, rotate=True)})


def share_problem_handlers(app: Klein) -> None:
    """Give another class's Klein app the task API's problem+json mapping of errors. Its
    instances have a `tasks` attribute (the TaskAPI); call this after the class body, so that
    the class's own handlers come first."""

    @app.handle_errors(ApiError)
    def api_error(self: Any, request: IRequest, failure: Failure) -> bytes:
        body: bytes = self.tasks.api_error(request, failure)
        return body

    @app.handle_errors(HTTPException)
    def routing_error(self: Any, request: IRequest, failure: Failure) -> bytes:
        body: bytes = self.tasks.routing_error(request, failure)
        return body

    @app.handle_errors(Exception)
    def bug(self: Any, request: IRequest, failure: Failure) -> bytes:
        body: bytes = self.tasks.bug(request, failure)
        return body
