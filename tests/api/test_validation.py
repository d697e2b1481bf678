"""Bad input refused at creation (API.md sections 1 and 3): header names and values that
would break every request, and one bound per quantity, each answered 422 with its path.
Also the served spec and routing agreeing with what the server does."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import ApiServer

URL = "http://127.0.0.1:9/"  # never fetched: every task here is created with "run": false


def refused(api: ApiServer, scheme: dict[str, Any]) -> dict[str, list[str]]:
    answer = api.call("POST", "/v1/tasks", {"scheme": scheme, "run": False})
    assert answer.status == 422, (answer.status, answer.body[:300])
    errors: dict[str, list[str]] = answer.json["errors"]
    return errors


@pytest.mark.parametrize("headers", [
    {"X-Bad\r\nInjected": "1"}, {"X Space": "1"}, {"": "1"}, {"Na:me": "1"},
    {"X-Ok": "a\r\nInjected: 1"}, {"X-Ok": "a\nb"}, {"X-Ok": "nul\u0000"},
])
def test_bad_header_names_and_values_are_422(api: ApiServer,
                                             headers: dict[str, str]) -> None:
    errors = refused(api, {"start_urls": [URL], "request": {"headers": headers}})
    assert any(path.startswith("scheme.request.headers") for path in errors), errors


def test_good_headers_are_kept(api: ApiServer) -> None:
    headers = {"Accept-Language": "en, de;q=0.5", "X-Token_1.v2": "a\tb"}
    task = api.ok("POST", "/v1/tasks", {"scheme": {"start_urls": [URL],
                                                   "request": {"headers": headers}},
                                        "run": False}, 201)
    assert api.ok("GET", f"/v1/tasks/{task['id']}/scheme")["request"]["headers"] == headers


@pytest.mark.parametrize("part, path", [
    ({"politeness": {"crawl_delay": 3601}}, "scheme.politeness.crawl_delay"),
    ({"politeness": {"crawl_delay": "99999999-999999999"}}, "scheme.politeness.crawl_delay"),
    ({"politeness": {"crawl_delay": "5-1"}}, "scheme.politeness.crawl_delay"),
    ({"politeness": {"host_delays": {"a.example": "99999999"}}},
     "scheme.politeness.host_delays.a.example"),
    ({"politeness": {"host_delays": {"a.example": "1-99999999"}}},
     "scheme.politeness.host_delays.a.example"),
    ({"politeness": {"host_delays": {"a.example": "9-1"}}},
     "scheme.politeness.host_delays.a.example"),
    ({"request": {"timeout_s": 1e-300}}, "scheme.request.timeout_s"),
    ({"request": {"timeout_s": 0.05}}, "scheme.request.timeout_s"),
    ({"limits": {"timeout_s": 1e-300}}, "scheme.limits.timeout_s"),
    ({"limits": {"timeout_s": 0.5}}, "scheme.limits.timeout_s"),
    ({"limits": {"max_items": 10**18}}, "scheme.limits.max_items"),
    # JSON's types as the spec states them: false is not 0, "1" is not 1 (found by fuzzing).
    ({"request": {"max_redirects": False}}, "scheme.request.max_redirects"),
    ({"request": {"cookies": "yes"}}, "scheme.request.cookies"),
    ({"limits": {"max_pages": "10"}}, "scheme.limits.max_pages"),
])
def test_out_of_range_numbers_are_422(api: ApiServer, part: dict[str, Any], path: str) -> None:
    assert path in refused(api, {"start_urls": [URL], **part})


def test_bounds_are_inclusive(api: ApiServer) -> None:
    scheme = {"start_urls": [URL], "request": {"timeout_s": 0.1},
              "limits": {"timeout_s": 1, "max_items": 10_000_000},
              "politeness": {"crawl_delay": "0-3600", "host_delays": {"a.example": "3600"}}}
    api.ok("POST", "/v1/tasks", {"scheme": scheme, "run": False}, 201)


def test_ready_is_not_a_task_id(api: ApiServer) -> None:
    options = api.call("OPTIONS", "/v1/tasks/ready", check_spec=False)
    allowed = {m.strip() for m in options.headers.get("allow", "").split(",")}
    assert "GET" in allowed and not allowed & {"PUT", "DELETE", "POST"}, options.headers
    for method in ("DELETE", "PUT"):
        answer = api.call(method, "/v1/tasks/ready", check_spec=False)
        assert answer.status == 405, (method, answer.status)
        allowed = {m.strip() for m in answer.headers["allow"].split(",")}
        assert "GET" in allowed and not allowed & {"PUT", "DELETE", "POST"}, answer.headers


def test_pages_take_is_1_to_100_as_documented(api: ApiServer) -> None:
    task = api.ok("POST", "/v1/tasks", {"scheme": {"start_urls": [URL]}, "run": False}, 201)
    api.ok("GET", f"/v1/tasks/{task['id']}/pages?take=100")
    assert api.call("GET", f"/v1/tasks/{task['id']}/pages?take=101").status == 400
    assert api.spec is not None
    take = next(p for p in api.spec["paths"]["/v1/tasks/{id}/pages"]["get"]["parameters"]
                if p["name"] == "take")
    assert take["schema"]["maximum"] == 100


def test_spec_states_what_the_server_refuses(api: ApiServer) -> None:
    spec = api.ok("GET", "/openapi.json", key=None)
    schemas, paths = spec["components"]["schemas"], spec["paths"]
    assert schemas["Scheme"]["properties"]["start_urls"]["items"]["minLength"] == 1
    # A field's selector may be null (a markdown field's main content), else a selector.
    field_selector = schemas["FieldRule"]["properties"]["selector"]["anyOf"]
    assert field_selector[0]["minLength"] == 1 and "[Jj][Mm]" in field_selector[0]["pattern"]
    assert field_selector[1] == {"type": "null"}
    assert schemas["ScrapeParam"]["properties"]["selector"]["minLength"] == 1
    assert schemas["JobConfig"]["additionalProperties"] is False
    params = {p["name"]: p["schema"] for p in paths["/v1/tasks/{id}/pages"]["get"]["parameters"]}
    assert "Handled" in params["state"]["enum"] and "nonsense" not in params["state"]["enum"]
    assert "ready" in paths["/v1/tasks/{id}"]["parameters"][0]["description"]
    task = api.ok("POST", "/v1/tasks", {"scheme": {"start_urls": [URL]}, "run": False}, 201)
    assert api.call("GET", f"/v1/tasks/{task['id']}/pages?state=nonsense").status == 400
    assert api.call("GET", f"/v1/tasks/{task['id']}/pages?state=").status == 200

