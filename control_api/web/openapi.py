"""The OpenAPI 3.1 description of what the server does, served at /openapi.json, and an
offline /docs page rendered from it (no CDN, no JavaScript)."""

from __future__ import annotations

import html
import json
from functools import cache
from typing import Any

from control_api.web import openapi_observe, openapi_v2
from control_api.web.openapi_schemas import (
    CREATE,
    CREATE_SCHEDULE,
    DELIVERY,
    LINKS,
    NULLABLE_STR,
    PAGE,
    PROBLEM,
    READY,
    RESULT,
    SCHEDULE,
    TASK,
)
from engine.scheme import Scheme
from engine.store.status import STATES


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
            "responses": {**responses,
                          **_errors(401, 429, openapi_v2.STORE_UNAVAILABLE, *errors)}, **extra}


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
            "post": _op("create a task", {"201": task}, 400, 404, 413, 422,
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
