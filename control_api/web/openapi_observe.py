"""The OpenAPI entries of the observing endpoints: a run's log, events and statistics, and
/metrics (merged into the served document by web/openapi.py)."""

from __future__ import annotations

from typing import Any

NULLABLE_NUM = {"type": ["number", "null"]}
PERCENTILES = {"type": "object", "required": ["p50", "p90", "p99", "max"],
               "description": "seconds; nearest-rank percentiles, null without attempts",
               "properties": {k: NULLABLE_NUM for k in ("p50", "p90", "p99", "max")}}
COUNTS = {"type": "object", "additionalProperties": {"type": "integer"},
          "description": "attempts by HTTP status code (`none`: no response)"}
_GROUP = {
    "attempts": {"type": "integer"}, "status_codes": COUNTS, "errors": {"type": "integer"},
    "bytes": {"type": "integer", "description": "response body bytes"},
    "retries": {"type": "integer"}, "redirects": {"type": "integer"},
    "download_time": PERCENTILES, "wait_time": PERCENTILES,
}
GROUP = {"type": "object", "required": list(_GROUP), "properties": _GROUP}
STATS = {
    "type": "object",
    "required": ["task_id", "run_id", "status", "pages", "sampled", "hosts", *_GROUP],
    "properties": {
        "task_id": {"type": "string"}, "run_id": {"type": "string"},
        "status": {"type": "string"}, "pages": {"type": "integer"},
        "sampled": {"type": "boolean", "description": "true when the run had more attempts "
                    "than the timings and per-host figures were computed over"},
        "hosts": {"type": "object", "additionalProperties": GROUP,
                  "description": "per host (with port), the 100 busiest"},
        **_GROUP,
    },
}
RUN = {"name": "run", "in": "query", "schema": {"type": "string"},
       "description": "one of this task's run ids (default: the latest run)"}


def paths(op: Any, task_id: list[dict[str, Any]]) -> dict[str, Any]:
    """`op` is web/openapi.py's operation builder (security and error answers)."""
    text = {"text/plain": {"schema": {"type": "string"}}}
    return {
        "/v1/tasks/{id}/log": {"parameters": task_id, "get": op(
            "the crawl log of the latest run (or `run`) as text; `tail` lines or a `Range` "
            "of bytes",
            {"200": {"description": "the log", "content": text},
             "206": {"description": "the requested byte range (Content-Range)",
                     "content": text}},
            400, 404, 416,
            parameters=[RUN,
                        {"name": "tail", "in": "query", "description": "the last N lines",
                         "schema": {"type": "integer", "minimum": 0, "maximum": 100000}},
                        {"name": "Range", "in": "header", "schema": {"type": "string"},
                         "description": "bytes=first-last, bytes=first- or bytes=-suffix"}])},
        "/v1/tasks/{id}/events": {"parameters": task_id, "get": op(
            "Server-Sent Events of the task's latest run: progress (done, queued, failed, "
            "items, requests_per_s; at most every CRAWLPLANE_EVENTS_INTERVAL s, when it "
            "changed), page_failed (id, url, reason, error, state, http_status), status "
            "(status, run_id, error), end (the task object, or {id, deleted: true}; then the "
            "stream closes). Every event has an id; Last-Event-ID (or query lastEventId) "
            "resumes after it. `: ping` comments every CRAWLPLANE_EVENTS_HEARTBEAT s",
            {"200": {"description": "the event stream",
                     "content": {"text/event-stream": {"schema": {"type": "string"}}}},
             "204": {"description": "the Last-Event-ID is the end of the task's latest run: "
                                    "nothing more will come (an EventSource stops)"}},
            404,
            parameters=[{"name": "Last-Event-ID", "in": "header",
                         "schema": {"type": "string"}},
                        {"name": "lastEventId", "in": "query", "schema": {"type": "string"},
                         "description": "the same as the Last-Event-ID header"}])},
        "/v1/tasks/{id}/stats": {"parameters": task_id, "get": op(
            "statistics of the latest run (or `run`) from its recorded DownloadInfo",
            {"200": {"description": "the statistics",
                     "content": {"application/json": {
                         "schema": {"$ref": "#/components/schemas/RunStats"}}}}},
            404, parameters=[RUN])},
        "/metrics": {"get": {**op(
            "Prometheus text format, computed from the store (the same on every server); "
            "an API key, the bearer token CRAWLPLANE_METRICS_TOKEN, or none with "
            "CRAWLPLANE_METRICS_PUBLIC=1",
            {"200": {"description": "metrics", "content": {"text/plain": {
                "schema": {"type": "string"}}}}}),
            "security": [{"header": []}, {"query": []}, {"metricsToken": []}]}},
    }


def schemas() -> dict[str, Any]:
    return {"RunStats": STATS}


SECURITY = {"metricsToken": {"type": "http", "scheme": "bearer",
                             "description": "CRAWLPLANE_METRICS_TOKEN (GET /metrics only)"}}
