"""JSON Schemas of the /v1 answers and bodies (the task object, pages, deliveries, schedules,
problems), referenced from the OpenAPI document (web/openapi.py)."""

from __future__ import annotations

from typing import Any

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
