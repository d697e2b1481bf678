"""The interactive download-task API, `/api/v2` (API.md section 4, Web Data Source
compatible), as a Klein app on a class, mounted next to the task API by the composition root.

A client starts a job, then drives it page by page: `crawl` turns a page's links into new
download tasks, `scrape` / `scrape-multiple` read values from a page, `info` tells its state and
DownloadInfo. Pages not downloaded yet answer 202 and the client repeats; crawl and scrape
work from the page cache (the stored body) and never make a request of their own.
"""

from __future__ import annotations

import re
import zlib
from typing import Any
from urllib.parse import urljoin

from klein import Klein
from parsel import Selector
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest

from control_api.web import jobs
from control_api.web.context import ApiContext
from control_api.web.errors import ApiError, BadRequest, NotFound, Unprocessable
from control_api.web.http import query_arg, read_json, send_json, validate
from control_api.web.jobconfig import JobConfig
from control_api.web.offload import in_thread
from control_api.web.problems import map_problems
from engine.extraction.items import node_value
from engine.extraction.selectors import SelectorSyntaxError, page_selector, parse_selector
from engine.outbound import scheme_problem
from engine.scheme import FieldRule, SchemeError, validation_errors
from engine.store import ACTIVE_STATUSES, Row
from engine.store.jobs import JOB
from engine.store.status import CREATED, DELETED, HANDLED, IN_PROGRESS

_SCRAPE_PARAM = re.compile(r"^scrapeParams\[(\d+)\]\.(name|selector|attributeName)$",
                           re.IGNORECASE)
MAX_JOB_NAME = 500  # tasks.name


class Forbidden(ApiError):
    """The page could not be had: robots.txt, every request gate failed, or an HTTP error."""

    status = 403


class NotProcessable(ApiError):
    """The page is not HTML or XML."""

    status = 422


class ScrapeParam(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    name: str = Field(min_length=1)
    selector: str = Field(min_length=1)
    attributeName: str | None = None  # noqa: N815 (the API's spelling)


SCRAPE_PARAMS = TypeAdapter(list[ScrapeParam])


class Pending(Exception):
    """The page is not downloaded yet: 202, the client repeats."""

    def __init__(self, page: Row):
        super().__init__(page["id"])
        self.page = page


class InteractiveAPI:
    app = Klein()

    def __init__(self, ctx: ApiContext):
        self.ctx = ctx
        self.store = ctx.store
        self.launcher = ctx.launcher

    def run_finished(self, run_id: str, task: Row | None = None) -> Any:
        """A server hook after each run: a job whose crawl went idle while work was arriving
        gets a new run."""
        if task is not None and task["kind"] != JOB:
            return None
        d = in_thread(jobs.run_finished, self.store, run_id)
        d.addCallback(lambda queued: self.launcher.kick() if queued else None)
        return d

    # -- plumbing ------------------------------------------------------------------------

    @app.handle_errors(Pending)
    def pending(self, request: IRequest, failure: Failure) -> bytes:
        pending = failure.value
        assert isinstance(pending, Pending)
        page = pending.page
        return send_json(request, {"Id": page["id"], "Url": page["url"],
                                   "TaskState": page["state"]}, 202)

    # -- jobs ----------------------------------------------------------------------------

    @app.route("/api/v2/jobs/<job_name>/start", methods=["POST"])
    async def start_job(self, request: IRequest, job_name: str) -> bytes:
        who = await self.ctx.auth.principal(request)
        if not job_name.strip() or len(job_name) > MAX_JOB_NAME:
            raise BadRequest(f"a job name has 1 to {MAX_JOB_NAME} characters")
        config = validate(JobConfig, read_json(request, self.ctx.config.body_limit))
        try:
            scheme = config.scheme()
        except SchemeError as exc:
            raise Unprocessable(exc.errors) from None
        try:
            await self.ctx.check_targets(_SchemeBody(scheme))
        except Unprocessable as exc:  # its paths are the scheme's: name the client's fields
            raise Unprocessable(config.job_errors(exc.errors, "scheme."), exc.detail) from None
        created, stopped, run = await in_thread(jobs.start, self.store, who.tenant_id, job_name,
                                            scheme, config.from_scratch)
        if stopped is not None:
            self.launcher.cancel(stopped)
        self.launcher.nudge(run)
        return send_json(request, created)

    # -- download tasks ------------------------------------------------------------------

    @app.route("/api/v2/tasks/<task_id>/crawl", methods=["GET"])
    async def crawl(self, request: IRequest, task_id: str) -> bytes:
        who = await self.ctx.auth.principal(request)
        query = _selector(query_arg(request, "selector"), "selector")
        attribute = query_arg(request, "attributeName") or "href"
        page = await self._downloaded(who.tenant_id, task_id)
        urls: list[str] = await in_thread(_links, page, query, attribute)
        found, run = await in_thread(jobs.crawl, self.store, page, urls)
        if run is not None:
            self.launcher.nudge(run)
        return send_json(request, found)

    @app.route("/api/v2/tasks/<task_id>/scrape", methods=["GET"])
    async def scrape(self, request: IRequest, task_id: str) -> bytes:
        who = await self.ctx.auth.principal(request)
        param = ScrapeParam(name="value", selector=_selector(query_arg(request, "selector"),
                                                             "selector"),
                            attributeName=query_arg(request, "attributeName") or None)
        page = await self._downloaded(who.tenant_id, task_id)
        values: list[dict[str, Any]] = await in_thread(_scrape, page, [param])
        return send_json(request, values[0]["values"])

    @app.route("/api/v2/tasks/<task_id>/scrape-multiple", methods=["GET"])
    async def scrape_multiple(self, request: IRequest, task_id: str) -> bytes:
        who = await self.ctx.auth.principal(request)
        return await self._scrape_multiple(request, who.tenant_id, task_id,
                                           _query_params(request))

    @app.route("/api/v2/tasks/<task_id>/scrape-multiple", methods=["POST"])
    async def scrape_multiple_post(self, request: IRequest, task_id: str) -> bytes:
        who = await self.ctx.auth.principal(request)
        body = read_json(request, self.ctx.config.body_limit)
        if isinstance(body, dict) and "scrapeParams" in body:
            body = body["scrapeParams"]
        try:
            params = SCRAPE_PARAMS.validate_python(body)
        except ValidationError as exc:
            raise Unprocessable(validation_errors(exc)) from None
        return await self._scrape_multiple(request, who.tenant_id, task_id, params)

    async def _scrape_multiple(self, request: IRequest, tenant_id: str, task_id: str,
                               params: list[ScrapeParam]) -> bytes:
        if not params:
            raise BadRequest("no scrapeParams given: scrapeParams[0].name, "
                             "scrapeParams[0].selector, scrapeParams[0].attributeName")
        for i, param in enumerate(params):
            _selector(param.selector, f"scrapeParams[{i}].selector")
        page = await self._downloaded(tenant_id, task_id)
        return send_json(request, await in_thread(_scrape, page, params))

    @app.route("/api/v2/tasks/<task_id>/info", methods=["GET"])
    async def info(self, request: IRequest, task_id: str) -> bytes:
        who = await self.ctx.auth.principal(request)
        page = await in_thread(jobs.download_task, self.store, who.tenant_id, task_id, infos=True)
        await self._resume(page)
        attempts = page["infos"]
        return send_json(request, {
            "Id": page["id"],
            "Url": page["url"],
            "Error": _error(page),
            "TaskState": page["state"],
            "Result": attempts[-1] if attempts else None,
            "IntermedResults": attempts[:-1],
        })

    async def _resume(self, page: Row) -> None:
        """A page that waits for a job with no active run gets one (the client asks for it)."""
        if page["state"] in (CREATED, IN_PROGRESS) and page["run_status"] not in ACTIVE_STATUSES:
            if await in_thread(jobs.resume, self.store, page["task_id"]):
                self.launcher.kick()

    async def _downloaded(self, tenant_id: str, page_id: str) -> Row:
        """The page with its cached body, once it was downloaded as HTML or XML."""
        page: Row = await in_thread(jobs.download_task, self.store, tenant_id, page_id, body=True)
        state = page["state"]
        if state in (CREATED, IN_PROGRESS):
            await self._resume(page)
            raise Pending(page)
        if state == DELETED:
            raise NotFound(f"download task {page_id} was deleted (its job restarted from "
                           "scratch)")
        if state != HANDLED or not _succeeded(page):
            raise Forbidden(f"download task {page_id} could not be downloaded: {_error(page)}",
                            TaskState=state)
        content_type = (page["content_type"] or "").lower()
        if page["body"] is None or (content_type and "html" not in content_type
                                    and "xml" not in content_type):
            raise NotProcessable(f"download task {page_id} is not HTML or XML "
                                 f"(Content-Type: {page['content_type'] or 'unknown'})",
                                 TaskState=state)
        return page


class _SchemeBody:
    """What the outbound target check reads: a body with a `scheme`."""

    def __init__(self, scheme: Any):
        self.scheme = scheme


def _succeeded(page: Row) -> bool:
    status = page["http_status"]
    return status is not None and (200 <= status < 300 or status == 304)


def _error(page: Row) -> str | None:
    if page["error"]:
        return str(page["error"])
    status = page["http_status"]
    if page["state"] == HANDLED and status is not None and not _succeeded(page):
        return f"HTTP {status}"
    return None


def _selector(text: str | None, name: str) -> str:
    if not text:
        raise BadRequest(f"query parameter {name!r} is required, e.g. 'CSS: a.next'")
    try:
        parse_selector(text)
    except SelectorSyntaxError as exc:
        raise BadRequest(f"{name}: {exc}", errors={name: [str(exc)]}) from None
    return text


def _query_params(request: IRequest) -> list[ScrapeParam]:
    """`scrapeParams[i].name/selector/attributeName` query parameters, in index order."""
    found: dict[int, dict[str, str]] = {}
    for raw, values in request.args.items():
        match = _SCRAPE_PARAM.match(raw.decode("utf-8", "replace"))
        if match and values:
            key = match.group(2).lower()
            field = "attributeName" if key == "attributename" else key
            found.setdefault(int(match.group(1)), {})[field] = values[0].decode("utf-8")
    params = []
    for index in sorted(found):
        given = found[index]
        for field in ("name", "selector"):
            if not given.get(field):
                raise BadRequest(f"query parameter scrapeParams[{index}].{field} is required")
        params.append(ScrapeParam(name=given["name"], selector=given["selector"],
                                  attributeName=given.get("attributeName") or None))
    return params


def _page(page: Row) -> Selector:
    body = page["body"]
    text = zlib.decompress(body["body"]).decode(body["encoding"] or "utf-8", "replace")
    # JSON pages answer JMESPATH: selectors, HTML and XML ones CSS: and XPATH: (as in crawls).
    return page_selector(text, page["content_type"] or "", body["url"])


def _values(page: Row, selector: Selector, param: ScrapeParam) -> list[str]:
    rule = FieldRule(name=param.name, selector=param.selector, attr=param.attributeName)
    base = page["body"]["url"]
    values = [node_value(node, rule, base) for node in parse_selector(param.selector)
              .select(selector)]
    return [v for v in values if v is not None]


def _scrape(page: Row, params: list[ScrapeParam]) -> list[dict[str, Any]]:
    selector = _page(page)
    return [{"name": p.name, "values": _values(page, selector, p)} for p in params]


def _links(page: Row, selector_text: str, attribute: str) -> list[str]:
    param = ScrapeParam(name="links", selector=selector_text, attributeName=attribute)
    base = page["body"]["url"]
    links = (urljoin(base, v.strip()) for v in _values(page, _page(page), param))
    # Only what a crawl may request becomes a download task (the guard refuses the rest).
    return [link for link in links if scheme_problem(link) is None]


map_problems(InteractiveAPI.app)
