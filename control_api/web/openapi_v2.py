"""The OpenAPI description of `/api/v2` (control_api/web/interactive.py), merged into the spec
that control_api/web/openapi.py serves."""

from __future__ import annotations

from functools import cache
from typing import Any

from control_api.web.jobconfig import JobConfig
from engine.scheme_types import SELECTOR_PATTERN
from engine.store.status import STATES

NULLABLE_STR = {"type": ["string", "null"]}
NAME_VALUES = {"type": "object", "required": ["Name", "Values"],
               "properties": {"Name": {"type": "string"},
                              "Values": {"type": "array", "items": {"type": "string"}}}}
COOKIE = {
    "type": "object",
    "required": ["Name", "Value", "Domain", "Path", "HttpOnly", "Secure", "Expires"],
    "properties": {"Name": {"type": "string"}, "Value": {"type": "string"},
                   "Domain": {"type": "string"}, "Path": {"type": "string"},
                   "HttpOnly": {"type": "boolean"}, "Secure": {"type": "boolean"},
                   "Expires": NULLABLE_STR},
}
DOWNLOAD_INFO = {
    "type": "object",
    "description": "one attempt at a page (a redirect hop, a retry, another gate, the result)",
    "required": ["Method", "Url", "IsSuccess", "HttpStatusCode", "ReasonPhrase",
                 "RequestHeaders", "ResponseHeaders", "RequestCookies", "ResponseCookies",
                 "RequestDateUtc", "DownloadTimeSec", "ViaProxy", "WaitTimeSec",
                 "CrawlDelaySec"],
    "properties": {
        "Method": {"type": "string"}, "Url": {"type": "string"},
        "IsSuccess": {"type": "boolean"},
        "HttpStatusCode": {"type": ["integer", "null"]}, "ReasonPhrase": NULLABLE_STR,
        "RequestHeaders": {"type": "array", "items": {"$ref": "#/components/schemas/NameValues"}},
        "ResponseHeaders": {"type": "array",
                            "items": {"$ref": "#/components/schemas/NameValues"}},
        "RequestCookies": {"type": "array", "items": {"$ref": "#/components/schemas/Cookie"}},
        "ResponseCookies": {"type": "array", "items": {"$ref": "#/components/schemas/Cookie"}},
        "RequestDateUtc": {"type": "string", "format": "date-time"},
        "DownloadTimeSec": {"type": "number"}, "ViaProxy": {"type": "boolean"},
        "Proxy": NULLABLE_STR, "WaitTimeSec": {"type": "number"},
        "CrawlDelaySec": {"type": "number"}, "Error": NULLABLE_STR,
        "ResponseBytes": {"type": ["integer", "null"],
                          "description": "the response body's length; null without one"},
    },
}
TASK_INFO = {
    "type": "object",
    "required": ["Error", "TaskState", "Result", "IntermedResults"],
    "properties": {
        "Id": {"type": "string"}, "Url": {"type": "string"}, "Error": NULLABLE_STR,
        "TaskState": {"enum": list(STATES)},
        "Result": {"oneOf": [{"$ref": "#/components/schemas/DownloadInfo"}, {"type": "null"}]},
        "IntermedResults": {"type": "array",
                            "items": {"$ref": "#/components/schemas/DownloadInfo"}},
    },
}
DOWNLOAD_TASKS = {"type": "array", "items": {
    "type": "object", "required": ["Id", "Url"],
    "properties": {"Id": {"type": "string"}, "Url": {"type": "string"}}}}
PENDING = {"type": "object", "required": ["Id", "Url", "TaskState"],
           "properties": {"Id": {"type": "string"}, "Url": {"type": "string"},
                          "TaskState": {"enum": ["Created", "InProgress"]}}}
# A selector as the scheme's (engine/scheme.py SelectorText) describes it.
SELECTOR_SCHEMA = {"type": "string", "minLength": 1, "pattern": SELECTOR_PATTERN}
SCRAPE_PARAM = {"type": "object", "required": ["name", "selector"],
                "properties": {"name": {"type": "string", "minLength": 1},
                               "selector": SELECTOR_SCHEMA, "attributeName": NULLABLE_STR}}
SCRAPED = {"type": "array", "items": {
    "type": "object", "required": ["name", "values"],
    "properties": {"name": {"type": "string"},
                   "values": {"type": "array", "items": {"type": "string"}}}}}


# Any request may answer these, before it reaches its endpoint (control_api/web/routing.py and
# channel.py): a URL that is not UTF-8 or holds a NUL, a request line or headers too long.
ANY_REQUEST = (400, 414, 431)
# Any request with a key (checked in the store) while the store cannot be reached or stays
# busy, with Retry-After (control_api/web/problems.py).
STORE_UNAVAILABLE = 503


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    return {str(code): {"description": "problem details", "content": {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
        for code in sorted({*ANY_REQUEST, 401, 405, 429, STORE_UNAVAILABLE, *codes})}


def _op(summary: str, ok: dict[str, Any], *errors: int, **extra: Any) -> dict[str, Any]:
    return {"summary": summary, "tags": ["interactive"],
            "security": [{"header": []}, {"query": []}],
            "responses": {"200": ok, **_errors(*errors)}, **extra}


def _page_op(summary: str, ok: dict[str, Any], **extra: Any) -> dict[str, Any]:
    operation = _op(summary, ok, 400, 403, 404, 422, **extra)
    operation["responses"]["202"] = _json(PENDING, "not downloaded yet: repeat the call")
    return operation


SELECTOR = {"name": "selector", "in": "query", "required": True, "schema": SELECTOR_SCHEMA,
            "description": "`CSS: <css>` or `XPATH: <xpath>`"}
TASK_ID = [{"name": "taskId", "in": "path", "required": True, "schema": {"type": "string"},
            "description": "a download task (page) id; the same ids as /v1/tasks/{id}/pages"}]


@cache
def paths() -> dict[str, Any]:
    attribute = {"name": "attributeName", "in": "query", "schema": {"type": "string"}}
    return {
        "/api/v2/jobs/{jobName}/start": {"post": _op(
            "create or update the job and queue its start URLs; Restart.JobRestartMode "
            "Continue keeps pages and cache (and revalidates them), FromScratch clears them",
            _json(DOWNLOAD_TASKS, "the start URLs' download tasks"), 400, 413, 422,
            parameters=[{"name": "jobName", "in": "path", "required": True,
                         "schema": {"type": "string"}}],
            requestBody={"required": True, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/JobConfig"}}}})},
        "/api/v2/tasks/{taskId}/crawl": {"parameters": TASK_ID, "get": _page_op(
            "links on the page as download tasks of the same job (a URL the job has is its "
            "existing task); from the page cache",
            _json(DOWNLOAD_TASKS, "download tasks"),
            parameters=[SELECTOR, {**attribute, "description": "default href"}])},
        "/api/v2/tasks/{taskId}/scrape": {"parameters": TASK_ID, "get": _page_op(
            "values on the page (attributeName absent: the elements' text); from the cache",
            _json({"type": "array", "items": {"type": "string"}}, "values"),
            parameters=[SELECTOR, attribute])},
        "/api/v2/tasks/{taskId}/scrape-multiple": {
            "parameters": TASK_ID,
            "get": _page_op("several scrapes at once: scrapeParams[i].name, "
                            "scrapeParams[i].selector, scrapeParams[i].attributeName",
                            _json(SCRAPED, "values by name")),
            "post": _page_op("several scrapes at once, from a JSON array",
                             _json(SCRAPED, "values by name"), requestBody={
                                 "required": True, "content": {"application/json": {
                                     "schema": {"type": "array", "minItems": 1, "items": {
                                         "$ref": "#/components/schemas/ScrapeParam"}}}}}),
        },
        "/api/v2/tasks/{taskId}/info": {"parameters": TASK_ID, "get": _op(
            "the download task's state and DownloadInfo (Result: the last attempt; "
            "IntermedResults: every earlier one)", _json(TASK_INFO, "task info"), 404)},
    }


@cache
def schemas() -> dict[str, Any]:
    job = JobConfig.model_json_schema(by_alias=True,
                                      ref_template="#/components/schemas/{model}")
    defs = job.pop("$defs", {})
    return {"JobConfig": job, **defs, "DownloadInfo": DOWNLOAD_INFO, "TaskInfo": TASK_INFO,
            "NameValues": NAME_VALUES, "Cookie": COOKIE, "ScrapeParam": SCRAPE_PARAM}
