"""Hostile input answers a 4xx problem+json, never a 500 or a dropped connection: deeply nested
JSON, invalid UTF-8 and NUL characters in paths, queries and bodies, a cron that never fires,
`//` in a path, an over-long request line. Raw requests go through http.client so the bytes
on the wire are exactly those written here (urllib would normalise them).

tests/api/test_bad_input_pg.py runs the same tests with the store on PostgreSQL."""

from __future__ import annotations

import http.client
import json
import socket
import uuid
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.api.conftest import ApiServer, Response

SCHEME = {"start_urls": ["http://127.0.0.1:9/"],
          "item": {"fields": [{"name": "title", "selector": "CSS: h2"}]}}
DEEP = 10_000
DEEP_BODIES = [
    "[" * DEEP + "]" * DEEP,
    '{"a": ' * DEEP + "1" + "}" * DEEP,
    '{"scheme": ' + "[" * DEEP + "]" * DEEP + "}",
    # Parses with json.loads (under its recursion limit), still deeper than any request needs.
    '{"scheme": {"start_urls": ' + "[" * 500 + "]" * 500 + "}}",
]


def raw(api: ApiServer, method: str, target: str, body: bytes | str | None = None,
        key: str | None = "alice", headers: dict[str, str] | None = None) -> Response:
    """One request with `target` sent exactly as written; a 4xx must be problem+json."""
    where = urlsplit(api.url)
    conn = http.client.HTTPConnection(where.hostname or "", where.port, timeout=30)
    sent = dict(headers or {})
    if key is not None:
        sent["X-API-KEY"] = api.keys[key]
    data = body.encode() if isinstance(body, str) else body
    if data is not None:
        sent["Content-Type"] = "application/json"
    try:
        conn.request(method, target, body=data, headers=sent)
        answer = conn.getresponse()
        response = Response(answer.status, {k.lower(): v for k, v in answer.getheaders()},
                            answer.read())
    finally:
        conn.close()
    if response.status >= 400:
        assert response.content_type == "application/problem+json", response
        assert response.json["status"] == response.status, response
    return response


def json_endpoints(api: ApiServer) -> list[str]:
    return ["/v1/tasks", "/v1/schedules", "/api/v2/jobs/deep/start",
            "/api/v2/tasks/p_none/scrape-multiple"]


def test_deeply_nested_json_is_400(api: ApiServer) -> None:
    for path in json_endpoints(api):
        for body in DEEP_BODIES:
            response = raw(api, "POST", path, body)
            assert response.status == 400, (path, body[:20], response)
            assert "nested" in response.json["detail"], response.json
    assert api.call("GET", "/health", key=None).status == 200


@pytest.mark.parametrize("target", [
    "/v1/tasks/%FF", "/v1/tasks/%FF/pages", "/api/v2/tasks/%FF/info", "/v1/schedules/%FF",
    "/v1/tasks?name=%FF", "/v1/tasks?%FF=1", "/v1/tasks/t_x/pages?state=%FF",
    "/api/v2/tasks/p_x/scrape?selector=%FF",
    "/api/v2/tasks/p_x/scrape-multiple?scrapeParams[0].name=%FF&scrapeParams[0].selector=h1",
    "/v1/schedules?x=%C3%28", "/health?x=%FF", "/v1/tasks/caf%C3%A9%FF",
])
def test_invalid_utf8_in_path_or_query_is_400(api: ApiServer, target: str) -> None:
    response = raw(api, "GET", target)
    assert response.status == 400, response
    assert "UTF-8" in response.json["detail"]


def test_invalid_utf8_in_the_api_key_query_is_400(api: ApiServer) -> None:
    assert raw(api, "GET", "/v1/tasks?api_key=%FF", key=None).status == 400


def test_invalid_utf8_in_the_host_header_is_400(api: ApiServer) -> None:
    where = urlsplit(api.url)
    with socket.create_connection((where.hostname or "", where.port or 80), timeout=30) as s:
        s.sendall(b"GET /v1/tasks HTTP/1.1\r\nHost: \xff\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 "), answer
    assert b"application/problem+json" in head and json.loads(body)["status"] == 400


def count_tasks(api: ApiServer, name: str) -> int:
    return len(api.ok("GET", f"/v1/tasks?name={name}&take=100")["data"])


def test_a_cron_that_never_fires_is_422_and_creates_nothing(api: ApiServer) -> None:
    name = f"never-{uuid.uuid4().hex[:8]}"
    for cron in ("0 0 31 2 *", "0 0 30 2 *"):
        response = api.call("POST", "/v1/schedules",
                            {"cron": cron, "scheme": SCHEME, "name": name})
        assert response.status == 422, response
        assert "cron" in response.json["errors"], response.json
    assert count_tasks(api, name) == 0
    schedules = api.ok("GET", "/v1/schedules")["data"]
    assert not [s for s in schedules if s["name"] == name]


@pytest.mark.parametrize("target", [
    "//v1/tasks", "/v1//tasks", "//v1/schedules", "/v1/schedules//x", "/api/v2//tasks/x/info",
    "//api/v2/tasks/x/info", "//health",
])
def test_empty_path_segments_are_404(api: ApiServer, target: str) -> None:
    response = raw(api, "GET", target)
    assert response.status == 404, response
    assert "location" not in response.headers


@pytest.mark.parametrize("size", [20_000, 100_000])
def test_an_over_long_request_line_is_414(api: ApiServer, size: int) -> None:
    response = raw(api, "GET", "/v1/tasks?name=" + "a" * size)
    assert response.status == 414, response
    assert response.headers.get("connection") == "close"


def test_an_over_long_header_is_431(api: ApiServer) -> None:
    response = raw(api, "GET", "/v1/tasks", headers={"X-Long": "a" * 20_000})
    assert response.status == 431, response


# -- NUL characters: PostgreSQL text cannot hold them; both stores answer alike ---------------

def test_nul_in_body_strings_is_422_with_the_path(api: ApiServer) -> None:
    cases: list[tuple[str, Any, str]] = [
        ("/v1/tasks", {"scheme": SCHEME, "name": "a\u0000b"}, "name"),
        ("/v1/tasks", {"scheme": SCHEME, "tag": "\u0000"}, "tag"),
        ("/v1/tasks", {"scheme": {**SCHEME, "start_urls": ["http://a\u0000.test/"]}},
         "scheme.start_urls[0]"),
        ("/v1/tasks", {"scheme": SCHEME, "run": False, "na\u0000me": 1}, "na\\u0000me"),
        ("/v1/schedules", {"cron": "@daily", "scheme": SCHEME, "name": "a\u0000"}, "name"),
        ("/v1/schedules", {"cron": "@daily", "task_id": "t_\u0000"}, "task_id"),
        ("/api/v2/jobs/nul/start", {"StartUrls": ["http://127.0.0.1:9/\u0000"]},
         "StartUrls[0]"),
        ("/api/v2/tasks/p_x/scrape-multiple",
         [{"name": "a\u0000", "selector": "CSS: h1"}], "[0].name"),
    ]
    name = f"nul-{uuid.uuid4().hex[:8]}"
    for path, body, where in cases:
        if isinstance(body, dict) and path == "/v1/schedules":
            body = {**body, "tag": name}
        response = api.call("POST", path, data=json.dumps(body).encode(),
                            headers={"Content-Type": "application/json"})
        assert response.status == 422, (path, body, response)
        assert where in response.json["errors"], (where, response.json)
        assert "NUL" in response.json["errors"][where][0]
    assert not [s for s in api.ok("GET", "/v1/schedules")["data"] if s["tag"] == name]


@pytest.mark.parametrize("target", [
    "/v1/tasks/t_a%00b", "/v1/tasks/%00/pages", "/v1/tasks/%00/scheme", "/api/v2/tasks/%00/info",
    "/v1/schedules/s_%00", "/api/v2/tasks/p%00/scrape?selector=h1",
])
def test_nul_in_a_path_id_is_404(api: ApiServer, target: str) -> None:
    assert raw(api, "GET", target).status == 404
    assert raw(api, "POST", "/api/v2/jobs/a%00b/start", "{}").status == 404
    assert raw(api, "DELETE", "/v1/tasks/t_%00").status == 404


@pytest.mark.parametrize("target", [
    "/v1/tasks?name=a%00b", "/v1/tasks?tag=%00", "/v1/tasks?from=t_%00",
    "/v1/tasks?api_key=%00", "/v1/tasks/t_x/pages?from=%00", "/v1/tasks?%00=1",
])
def test_nul_in_a_query_value_is_400(api: ApiServer, target: str) -> None:
    response = raw(api, "GET", target)
    assert response.status == 400, response
    assert "NUL" in response.json["detail"]


def test_the_spec_documents_400_and_414_everywhere(api: ApiServer) -> None:
    assert api.spec is not None
    for path, item in api.spec["paths"].items():
        for method, operation in item.items():
            if method != "parameters":
                assert {"400", "414"} <= set(operation["responses"]), (method, path)
