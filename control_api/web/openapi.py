"""The OpenAPI 3.1 description of what the server does, served at /openapi.json, and an
offline /docs page rendered from it (no CDN, no JavaScript)."""

from __future__ import annotations

import html
import json
from functools import cache
from typing import Any

from control_api.web import openapi_observe, openapi_v2
from engine.scheme import Scheme
from engine.store.status import STATES

NULLABLE_STR = {"type": ["string", "null"]}
NULLABLE_INT = {"type": ["integer", "null"]}
STAMP = {"type": ["string", "null"], "format": "date-time"}

FAILURES = {
    "type": "object",
    "description": "failed pages of the run counted by reason: http_<code> (a final response "
                   "not 2xx or 304, e.g. http_404), dns, connection (refused, reset, lost), "
                   "timeout, tls, robots (refused by robots.txt), refused (by the outbound "
                   "rules), gates_exhausted (every proxy or direct gate failed), other; "
                   "empty when none failed",
    "propertyNames": {"pattern": "^(http_[1-5][0-9][0-9]|dns|connection|timeout|tls|robots|"
                                 "refused|gates_exhausted|other)$"},
    "additionalProperties": {"type": "integer", "minimum": 1},
}
TASK: dict[str, Any] = {
    "type": "object",
    "required": ["id", "name", "tag", "status", "kind", "run_id", "payload_id", "requests",
                 "pages", "items", "file_size", "progress", "error", "failures", "warnings",
                 "created_at", "started_at", "ended_at",
                 "updated_at", "elapsed", "results", "collected", "callback_url",
                 "pingback_url", "postback_url"],
    "properties": {
        "id": {"type": "string"},
        "name": NULLABLE_STR,
        "tag": NULLABLE_STR,
        "status": {"enum": ["initialized", "queued", "running", "paused", "cancelled",
                            "completed", "error"]},
        "kind": {"enum": ["task", "job"],
                 "description": "a crawl task, or an interactive job (/api/v2)"},
        "run_id": {**NULLABLE_STR, "description": "the latest run; null before the first"},
        "payload_id": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
        "requests": NULLABLE_INT,
        "pages": NULLABLE_INT,
        "items": NULLABLE_INT,
        "file_size": NULLABLE_INT,
        "progress": {"type": "object", "required": ["done", "queued", "failed"],
                     "properties": {k: {"type": "integer"} for k in ("done", "queued", "failed")}},
        "error": {**NULLABLE_STR, "description":
                  "why the run ended `error`; a task run in which no page succeeded is one, "
                  "e.g. `all 1 start URLs failed: connection refused`"},
        "failures": FAILURES,
        "warnings": {"type": "array", "items": {"type": "string"}, "description":
                     "an item selector or field that matched nothing on any page, a limit "
                     "(limits.max_pages, max_items, timeout_s) reached, detail pages still "
                     "pending when the crawl closed"},
        "created_at": {"type": "string", "format": "date-time"},
        "started_at": STAMP,
        "ended_at": STAMP,
        "updated_at": STAMP,
        "elapsed": {"type": ["number", "null"]},
        "results": {"type": "array", "items": {"$ref": "#/components/schemas/Result"}},
        "collected": {"type": "boolean"},
        "callback_url": NULLABLE_STR,
        "pingback_url": NULLABLE_STR,
        "postback_url": NULLABLE_STR,
        "postback_format": NULLABLE_STR,
    },
}
RESULT = {
    "type": "object",
    "required": ["format", "file_url", "quantity", "size"],
    "properties": {"format": {"enum": ["json", "jsonl", "csv", "xml", "xlsx"]},
                   "file_url": {"type": "string"}, "quantity": NULLABLE_INT, "size": NULLABLE_INT},
}
LINKS = {"type": "object", "required": ["next", "previous"],
         "properties": {"next": NULLABLE_STR, "previous": NULLABLE_STR}}
PROBLEM = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {"type": {"type": "string"}, "title": {"type": "string"},
                   "status": {"type": "integer"}, "detail": {"type": "string"},
                   "errors": {"type": "object",
                              "additionalProperties": {"type": "array",
                                                       "items": {"type": "string"}}}},
}
PAGE = {
    "type": "object",
    "required": ["id", "url", "state", "depth", "parent_id", "http_status", "error"],
    "properties": {"id": {"type": "string"}, "url": {"type": "string"},
                   "state": {"type": "string"}, "depth": {"type": "integer"},
                   "parent_id": NULLABLE_STR, "http_status": NULLABLE_INT,
                   "error": {**NULLABLE_STR, "description": "why the page failed (e.g. "
                             "`HTTP 404 Not Found`, `ConnectionRefusedError: ...`); null on "
                             "success"}},
}
READY = {
    "type": "object",
    "required": ["id", "name", "tag", "ended_at", "results"],
    "properties": {"id": {"type": "string"}, "name": NULLABLE_STR, "tag": NULLABLE_STR,
                   "ended_at": STAMP,
                   "results": {"type": "array", "items": {"$ref": "#/components/schemas/Result"}}},
}
DELIVERY = {
    "type": "object",
    "required": ["id", "kind", "url", "attempt", "status_code", "error", "at", "next_attempt_at"],
    "properties": {
        "id": {"type": "string", "description": "X-Crawlplane-Delivery: the same on retries"},
        "kind": {"enum": ["callback", "pingback", "postback"]},
        "url": {"type": "string"}, "attempt": {"type": "integer", "minimum": 1},
        "status_code": NULLABLE_INT, "error": NULLABLE_STR,
        "at": {**STAMP, "description": "when the attempt was made; null while it is due"},
        "next_attempt_at": {**STAMP, "description": "when it (or its retry) is due"},
        "state": {"enum": ["pending", "sending", "retried", "delivered", "failed"]},
        "run_id": {"type": "string"},
    },
}
CREATE = {
    "type": "object",
    "required": ["scheme"],
    "additionalProperties": False,
    "properties": {
        "scheme": {"$ref": "#/components/schemas/Scheme"},
        "name": NULLABLE_STR, "tag": NULLABLE_STR, "run": {"type": "boolean", "default": True},
        "callback_url": NULLABLE_STR, "pingback_url": NULLABLE_STR, "postback_url": NULLABLE_STR,
        "postback_format": {"enum": ["json", "jsonl", "csv", "xml", "xlsx", None]},
    },
}


SCHEDULE = {
    "type": "object",
    "required": ["id", "name", "tag", "cron", "timezone", "task_id", "next_run_at",
                 "last_run_at", "last_run_id", "last_error", "runs", "created_at"],
    "properties": {
        "id": {"type": "string"}, "name": NULLABLE_STR, "tag": NULLABLE_STR,
        "cron": {"type": "string"}, "timezone": {"type": "string"}, "task_id": NULLABLE_STR,
        "next_run_at": STAMP, "last_run_at": STAMP, "last_run_id": NULLABLE_STR,
        "last_error": NULLABLE_STR, "runs": {"type": "integer"},
        "created_at": {"type": "string", "format": "date-time"},
    },
}
CREATE_SCHEDULE = {
    "type": "object",
    "required": ["cron"],
    "additionalProperties": False,
    "description": "a cron expression plus a scheme (a task is created for the schedule) or "
                   "an existing task_id; fires missed while the server was down run once",
    "properties": {
        "cron": {"type": "string"}, "scheme": {"$ref": "#/components/schemas/Scheme"},
        "task_id": NULLABLE_STR, "name": NULLABLE_STR, "tag": NULLABLE_STR,
        "timezone": {"type": "string", "default": "UTC"},
    },
}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    return {str(code): {"description": "problem details",
                        "content": {"application/problem+json": {"schema": _ref("Problem")}}}
            for code in sorted({*openapi_v2.ANY_REQUEST, 405, *codes})}


def _op(summary: str, responses: dict[str, Any], *errors: int, **extra: Any) -> dict[str, Any]:
    return {"summary": summary, "security": [{"header": []}, {"query": []}],
            "responses": {**responses, **_errors(401, 429, *errors)}, **extra}


TASK_ID = [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]
# /v1/tasks/ready is its own resource, never a task id (api.TaskId). Said in words: a
# `not` in the schema makes fuzzers send "ready" here as a negative case, which is that resource.
TASK_ID_NOT_READY = [{**TASK_ID[0], "description": "a task id (never `ready`: that is "
                                                   "GET /v1/tasks/ready)"}]


def _choice(values: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """A query enum; empty means the parameter's default, as the server reads it."""
    return {"enum": [*values, ""]}
TAKE_FROM = [
    {"name": "take", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
    {"name": "from", "in": "query", "schema": {"type": "string"}, "description": "cursor"},
]


EXAMPLE_SCHEME: dict[str, Any] = {
    "start_urls": ["https://quotes.toscrape.com/"],
    "item": {"selector": "CSS: div.quote", "fields": [
        {"name": "text", "selector": "CSS: span.text"},
        {"name": "author", "selector": "CSS: small.author"},
        {"name": "tags", "selector": "CSS: a.tag", "many": True}]},
    "paginate": {"selector": "CSS: li.next a", "max_pages": 10},
    "formats": ["csv", "json"],
}
PREVIEW_REQUEST = {
    "type": "object", "required": ["scheme", "url"], "additionalProperties": False,
    "properties": {"scheme": {"$ref": "#/components/schemas/PreviewScheme"},
                   "url": {"type": "string", "description": "the page to fetch (http or https)"}},
}
PREVIEW = {
    "type": "object", "required": ["items", "links", "download"],
    "properties": {
        "items": {"type": "array", "items": {"type": "object"},
                  "description": "the items the scheme extracts from the page (a `follow` "
                                 "field holds {url} only: detail pages are not fetched)"},
        "links": {"type": "object", "required": ["paginate", "follow"], "properties": {
            "paginate": {"type": "array", "items": {"type": "string"}},
            "follow": {"type": "array", "items": {"type": "string"}}}},
        "download": {"oneOf": [{"$ref": "#/components/schemas/DownloadInfo"},
                               {"type": "null"}],
                     "description": "the page's last attempt (after redirects and retries)"},
        "attempts": {"type": "array", "items": {"$ref": "#/components/schemas/DownloadInfo"},
                     "description": "every attempt: redirect hops, retries, gates"},
        "state": NULLABLE_STR, "error": NULLABLE_STR,
    },
}


@cache
def _paths() -> dict[str, Any]:
    task = _json(_ref("Task"), "the task")
    return {
        "/health": {"get": {"summary": "liveness", "security": [],
                            "responses": {"200": _json({"type": "object"}, "ok"),
                                          **_errors()}}},
        "/v1/tasks": {
            "post": _op("create a task", {"201": task}, 400, 413, 422,
                        requestBody={"required": True, "content": {
                            "application/json": {"schema": _ref("CreateTask"), "examples": {
                                "quotes": {"summary": "quotes with pagination, CSV and JSON",
                                           "value": {"scheme": EXAMPLE_SCHEME,
                                                     "name": "quotes", "tag": "demo"}},
                                "one_item_per_page": {
                                    "summary": "one item per page, follow category links",
                                    "value": {"scheme": {
                                        "start_urls": ["https://books.toscrape.com/"],
                                        "item": {"fields": [
                                            {"name": "title", "selector": "CSS: h1"}]},
                                        "follow": [{"selector": "CSS: .side_categories a",
                                                    "max_depth": 1}],
                                        "limits": {"max_pages": 50}}, "run": False}},
                            }}}}),
            "get": _op("list own tasks", {"200": _json(
                {"type": "object", "required": ["data", "links"],
                 "properties": {"data": {"type": "array", "items": _ref("Task")},
                                "links": _ref("Links")}}, "a page of tasks")}, 400,
                parameters=[
                    {"name": "status", "in": "query",
                     "schema": _choice(TASK["properties"]["status"]["enum"])},
                    {"name": "tag", "in": "query", "schema": {"type": "string"}},
                    {"name": "name", "in": "query", "schema": {"type": "string"}},
                    {"name": "order", "in": "query", "schema": _choice(["asc", "desc"])},
                    *TAKE_FROM]),
        },
        "/v1/tasks/ready": {"get": _op(
            "completed tasks not collected, last 3 days, oldest first, at most 1000 "
            "(20 calls/min/key)",
            {"200": _json({"type": "object", "required": ["data"],
                           "properties": {"data": {"type": "array", "items": _ref("Ready")}}},
                          "ready tasks")})},
        "/v1/tasks/{id}": {
            "parameters": TASK_ID_NOT_READY,
            "get": _op("task info", {"200": task}, 404),
            "put": _op("restart from scratch", {"202": task}, 404),
            "delete": _op("terminate and delete with all data", {"204": {"description": "gone"}},
                          404),
        },
        "/v1/tasks/{id}/info": {"parameters": TASK_ID,
                                "post": _op("task info", {"200": task}, 404)},
        "/v1/tasks/{id}/run": {"parameters": TASK_ID,
                               "post": _op("start a run", {"202": task}, 404, 409)},
        "/v1/tasks/{id}/cancel": {"parameters": TASK_ID,
                                  "post": _op("cancel the run, keeping its data", {"200": task},
                                              404, 409)},
        "/v1/tasks/{id}/pause": {"parameters": TASK_ID, "post": _op(
            "pause the run: it takes no new pages, those in flight finish, its frontier is "
            "kept (status `paused`); 409 unless queued or running", {"200": task}, 404, 409)},
        "/v1/tasks/{id}/resume": {"parameters": TASK_ID, "post": _op(
            "resume a paused run where it stopped (status `queued`); 409 unless paused",
            {"202": task}, 404, 409)},
        "/v1/tasks/{id}/scheme": {"parameters": TASK_ID,
                                  "get": _op("the stored scheme",
                                             {"200": _json(_ref("Scheme"), "scheme")}, 404)},
        "/v1/tasks/{id}/store": {"parameters": TASK_ID, "get": _op(
            "the results file; marks the task collected",
            {"200": {"description": "the file", "content": {
                ct: {} for ct in ("application/json", "application/jsonl", "text/csv",
                                  "application/xml", "application/vnd.openxmlformats-"
                                  "officedocument.spreadsheetml.sheet")}}},
            400, 404, 409,
            parameters=[{"name": "format", "in": "query", "description": "default jsonl",
                         "schema": _choice(["json", "jsonl", "csv", "xml", "xlsx"])}])},
        "/v1/tasks/{id}/pages": {"parameters": TASK_ID, "get": _op(
            "the task's download tasks",
            {"200": _json({"type": "object", "required": ["data", "links"],
                           "properties": {"data": {"type": "array", "items": _ref("Page")},
                                          "links": _ref("Links")}}, "pages")}, 400, 404,
            parameters=[{"name": "state", "in": "query", "schema": _choice(STATES),
                         "description": "a download task state (case-insensitive)"},
                        *TAKE_FROM])},
        "/v1/tasks/{id}/deliveries": {"parameters": TASK_ID, "get": _op(
            "webhook delivery log, one row per attempt, oldest first",
            {"200": _json({"type": "object", "required": ["data"],
                           "properties": {"data": {"type": "array",
                                                   "items": _ref("Delivery")}}},
                          "deliveries")}, 404)},
        "/v1/preview": {"post": _op(
            "fetch one page through the engine (outbound rules, robots.txt, headers, proxy "
            "gates as the scheme says) and extract it, creating nothing; start_urls may be "
            "left out of the scheme here",
            {"200": _json(_ref("Preview"), "what the scheme extracts from the page")},
            400, 413, 422, 502, 504,
            requestBody={"required": True, "content": {"application/json": {
                "schema": _ref("PreviewRequest"), "examples": {"quotes": {
                    "summary": "quotes and the next page link",
                    "value": {"url": "https://quotes.toscrape.com/", "scheme": EXAMPLE_SCHEME},
                }}}}})},
        "/v1/schedules": {
            "post": _op("create a schedule", {"201": _json(_ref("Schedule"), "the schedule")},
                        400, 413, 422, requestBody={"required": True, "content": {
                            "application/json": {"schema": _ref("CreateSchedule")}}}),
            "get": _op("list own schedules", {"200": _json(
                {"type": "object", "required": ["data", "links"],
                 "properties": {"data": {"type": "array", "items": _ref("Schedule")},
                                "links": _ref("Links")}}, "schedules")}),
        },
        "/v1/schedules/{id}": {
            "parameters": TASK_ID,
            "get": _op("schedule info", {"200": _json(_ref("Schedule"), "the schedule")}, 404),
            "delete": _op("delete a schedule (its task stays)",
                          {"204": {"description": "gone"}}, 404),
        },
        "/v1/webhook-secret": {"get": _op("the tenant's webhook signing secret", {
            "200": _json({"type": "object", "required": ["secret"],
                          "properties": {"secret": {"type": "string"}}}, "secret")})},
        "/v1/webhook-secret/rotate": {"post": _op("replace the webhook secret", {
            "200": _json({"type": "object", "required": ["secret"],
                          "properties": {"secret": {"type": "string"}}}, "new secret")})},
    }


def spec(server_url: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Crawlplane", "version": "0.1.0",
                 "description": "Scrapy-based crawling service: tasks, results, webhooks."},
        "servers": [{"url": server_url}],
        "paths": {**_paths(), **openapi_observe.paths(_op, TASK_ID), **openapi_v2.paths()},
        "components": {
            "securitySchemes": {
                "header": {"type": "apiKey", "in": "header", "name": "X-API-KEY"},
                "query": {"type": "apiKey", "in": "query", "name": "api_key"},
                **openapi_observe.SECURITY,
            },
            "schemas": {
                "Task": TASK, "Result": RESULT, "Links": LINKS, "Problem": PROBLEM,
                "Page": PAGE, "Ready": READY, "CreateTask": CREATE, "Delivery": DELIVERY,
                "Schedule": SCHEDULE, "CreateSchedule": CREATE_SCHEDULE,
                "PreviewRequest": PREVIEW_REQUEST, "Preview": PREVIEW,
                **scheme_schemas(),
                **openapi_v2.schemas(),
                **openapi_observe.schemas(),
            },
        },
    }


@cache
def scheme_schemas() -> dict[str, Any]:
    """The scheme's JSON Schema from its pydantic models, refs moved under components."""
    schema = Scheme.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = schema.pop("$defs", {})
    # A preview's scheme may leave start_urls out (the previewed URL stands in).
    preview = {**schema, "title": "PreviewScheme",
               "required": [k for k in schema.get("required", []) if k != "start_urls"]}
    return {"Scheme": schema, "PreviewScheme": preview, **defs}


def docs_html(document: dict[str, Any]) -> str:
    rows = []
    for path, item in document["paths"].items():
        for method, op in item.items():
            if method == "parameters":
                continue
            codes = ", ".join(op["responses"])
            rows.append(f"<tr><td><code>{method.upper()}</code></td><td><code>{html.escape(path)}"
                        f"</code></td><td>{html.escape(op['summary'])}</td><td>{codes}</td></tr>")
    schemas = html.escape(json.dumps(document["components"]["schemas"], indent=2))
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Crawlplane API</title>"
        "<style>body{font-family:sans-serif;margin:2em}td{padding:4px 8px;"
        "border-bottom:1px solid #ddd}pre{background:#f6f6f6;padding:1em}</style></head><body>"
        "<h1>Crawlplane API</h1><p>Machine-readable: <a href='/openapi.json'>/openapi.json</a>."
        " Authenticate with header <code>X-API-KEY</code> or query <code>api_key</code>.</p>"
        "<table><tr><th>method</th><th>path</th><th>does</th><th>answers</th></tr>"
        + "".join(rows) + "</table><h2>Schemas</h2><pre>" + schemas + "</pre></body></html>"
    )
