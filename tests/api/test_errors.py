"""Every error status of API.md section 1, as problem+json with the right status line, and the
served OpenAPI document (every answer in these tests is also checked against it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import ApiServer, find_operation, start_server, validate_schema
from tests.site.fixture import TestSite


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """A server with a small body limit and ready rate limit."""
    server = start_server(Path(tmp_path_factory.mktemp("limited")),
                          CRAWLPLANE_BODY_LIMIT="2000", CRAWLPLANE_READY_RATE_LIMIT="3")
    yield server
    server.stop()


def scheme(site: TestSite, **extra: Any) -> dict[str, Any]:
    return {"start_urls": [site.abs("/gen/0.html")],
            "item": {"fields": [{"name": "title", "selector": "CSS: h2"}]}, **extra}


def test_health_openapi_and_docs_need_no_key(api: ApiServer) -> None:
    assert api.ok("GET", "/health", key=None) == {"status": "ok"}
    health = api.call("GET", "/health", key=None)  # its length told, not sent chunked
    assert health.headers["content-length"] == str(len(health.body))
    assert "transfer-encoding" not in health.headers
    spec = api.ok("GET", "/openapi.json", key=None)
    assert spec["openapi"].startswith("3.1")
    assert spec["servers"] == [{"url": api.url}]
    for path in ("/v1/tasks", "/v1/tasks/{id}", "/v1/tasks/ready", "/v1/tasks/{id}/store",
                 "/v1/tasks/{id}/pages", "/v1/tasks/{id}/run", "/v1/tasks/{id}/cancel"):
        assert path in spec["paths"], path
    docs = api.call("GET", "/docs", key=None)  # Swagger UI, from a Python package
    assert docs.status == 200 and docs.content_type.startswith("text/html")
    assert b"/docs/static/swagger-ui-bundle.js" in docs.body
    plain = api.call("GET", "/docs/plain", key=None)  # the same, without script
    assert b"/v1/tasks/{id}/store" in plain.body and b"<script src=" not in plain.body


def test_401_missing_wrong_and_revoked_keys(api: ApiServer) -> None:
    for key in (None, "cpk_wrong"):
        response = api.call("GET", "/v1/tasks", key=key)
        assert response.status == 401
        assert response.json["title"] == "Unauthorized"
        assert "www-authenticate" in response.headers
    key = api.create_key("short-lived")
    assert api.call("GET", "/v1/tasks", key=key).status == 200
    out = api.cli("keys", "revoke", "short-lived")
    assert "revoked 1" in out.stdout
    assert api.call("GET", "/v1/tasks", key=key).status == 401
    listing = api.cli("keys", "list").stdout
    assert "short-lived" in listing and "revoked" in listing
    assert api.cli("keys", "revoke", "no-such-key", check=False).returncode == 1


def test_key_in_header_any_case_or_query(api: ApiServer) -> None:
    key = api.keys["alice"]
    assert api.call("GET", "/v1/tasks", key=None, headers={"x-api-key": key}).status == 200
    assert api.call("GET", "/v1/tasks", key=None, headers={"X-Api-Key": key}).status == 200
    assert api.call("GET", f"/v1/tasks?api_key={key}", key=None).status == 200
    assert api.call("GET", "/v1/tasks?api_key=nope", key=None).status == 401


def test_400_bad_json_and_bad_query(api: ApiServer) -> None:
    bad = api.call("POST", "/v1/tasks", data=b'{"scheme": ', headers={
        "Content-Type": "application/json"})
    assert bad.status == 400 and "JSON" in bad.json["detail"]
    assert api.call("POST", "/v1/tasks", data=b"\xff\xfe", headers={
        "Content-Type": "application/json"}).status == 400
    assert api.call("GET", "/v1/tasks?take=1000").status == 400


def test_a_form_body_is_a_body_that_is_not_json(api: ApiServer) -> None:
    """The API reads JSON bodies only: a form or multipart body is not parsed into query
    arguments (where bad bytes were blamed on the query string, and a bad multipart body on
    the headers), it is a body that is not JSON."""
    form = api.call("POST", "/v1/tasks", data=b"scheme=%FF", headers={
        "Content-Type": "application/x-www-form-urlencoded"})
    assert form.status == 400 and "not valid JSON" in form.json["detail"], form.json
    multipart = api.call("POST", "/v1/tasks", data=b"--x\r\nbroken", headers={
        "Content-Type": "multipart/form-data; boundary=x"})
    assert multipart.status == 400 and "not valid JSON" in multipart.json["detail"], \
        multipart.json


def test_404_unknown_id_and_route(api: ApiServer) -> None:
    response = api.call("GET", "/v1/tasks/t_nope")
    assert response.status == 404 and response.json["title"] == "Not Found"
    assert response.json["detail"] == "task t_nope not found"
    assert api.call("GET", "/v1/nothing-here").status == 404


def test_405_wrong_method_with_allow(api: ApiServer) -> None:
    response = api.call("PATCH", "/v1/tasks/t_x")
    assert response.status == 405 and response.json["title"] == "Method Not Allowed"
    assert "GET" in response.headers["allow"] and "PUT" in response.headers["allow"]
    assert api.call("DELETE", "/v1/tasks").status == 405
    assert api.call("POST", "/health", key=None).status == 405


def test_409_store_before_results(api: ApiServer, site: TestSite) -> None:
    task = api.create(scheme(site), run=False)
    response = api.call("GET", f"/v1/tasks/{task['id']}/store")
    assert response.status == 409 and response.json["title"] == "Conflict"
    assert api.ok("GET", f"/v1/tasks/{task['id']}")["collected"] is False


@pytest.mark.parametrize(("body", "path"), [
    ({"scheme": {"start_urls": ["http://x/"],
                 "item": {"fields": [{"name": "a", "selector": "CSS:"}]}}},
     "scheme.item.fields[0].selector"),
    ({"scheme": {"start_urls": ["http://x/"],
                 "item": {"fields": [{"name": "a", "selector": "XPATH: //[["}]}}},
     "scheme.item.fields[0].selector"),
    ({"scheme": {"start_urls": ["ftp://x/"], "item": {"fields": [
        {"name": "a", "selector": "CSS: a"}]}}}, "scheme.start_urls[0]"),
    ({"scheme": {"start_urls": ["http://x/"], "item": {"fields": [
        {"name": "a", "selector": "CSS: a"}]}, "colour": 1}}, "scheme.colour"),
    ({"scheme": {"start_urls": ["http://x/"], "item": {"fields": [
        {"name": "a", "selector": "CSS: a"}]}, "politeness": {"concurrency": 0}}},
     "scheme.politeness.concurrency"),
    ({"scheme": {"start_urls": ["http://x/"], "item": {"fields": [
        {"name": "a", "selector": "CSS: a"}]}}, "extra": True}, "extra"),
    ({"name": "no scheme"}, "scheme"),
])
def test_422_names_every_bad_path(api: ApiServer, body: dict[str, Any], path: str) -> None:
    response = api.call("POST", "/v1/tasks", body)
    assert response.status == 422, response
    problem = response.json
    assert problem["title"] == "Unprocessable Entity"
    assert path in problem["errors"], problem["errors"]
    assert all(isinstance(m, str) for m in problem["errors"][path])


def test_422_for_json_that_is_not_an_object(api: ApiServer) -> None:
    assert api.call("POST", "/v1/tasks", [1, 2]).status == 422


def test_413_body_over_the_limit(limited: ApiServer, site: TestSite) -> None:
    small = limited.call("POST", "/v1/tasks", {"scheme": scheme(site), "run": False})
    assert small.status == 201
    big = {"scheme": scheme(site), "name": "x" * 400, "tag": "y" * 2000, "run": False}
    response = limited.call("POST", "/v1/tasks", big)
    assert response.status == 413
    assert response.json["title"] in ("Content Too Large", "Request Entity Too Large")


def test_429_ready_rate_limit_with_retry_after(limited: ApiServer) -> None:
    for _ in range(3):
        assert limited.call("GET", "/v1/tasks/ready").status == 200
    response = limited.call("GET", "/v1/tasks/ready")
    assert response.status == 429 and response.json["title"] == "Too Many Requests"
    assert 1 <= int(response.headers["retry-after"]) <= 60
    assert limited.call("GET", "/v1/tasks/ready", key="bob").status == 200  # per key
    assert limited.call("GET", "/v1/tasks").status == 200  # other endpoints are not limited


def test_status_lines_carry_the_reason(api: ApiServer) -> None:
    import http.client
    from urllib.parse import urlsplit

    host = urlsplit(api.url)
    conn = http.client.HTTPConnection(host.hostname or "", host.port)
    conn.request("POST", "/v1/tasks", body=b"[]", headers={"X-API-KEY": api.keys["alice"]})
    answer = conn.getresponse()
    assert (answer.status, answer.reason) == (422, "Unprocessable Entity")
    conn.close()


def test_spec_describes_the_task_object(api: ApiServer, site: TestSite) -> None:
    assert api.spec is not None
    task = api.create(scheme(site), run=False)
    operation = find_operation(api.spec, "GET", f"/v1/tasks/{task['id']}")
    assert operation is not None
    validate_schema(api.spec, operation["responses"]["200"]["content"]["application/json"]
                    ["schema"], api.ok("GET", f"/v1/tasks/{task['id']}"))
    with pytest.raises(Exception, match="required"):
        validate_schema(api.spec, {"$ref": "#/components/schemas/Task"}, {"id": "t_x"})


@pytest.mark.parametrize("url", [
    "file:///etc/passwd", "FILE:///etc/passwd", "file://localhost/etc/passwd",
    "data:text/plain,secret", "ftp://127.0.0.1/x", "s3://bucket/key", "http:///etc/passwd",
    "http:/etc/passwd", "//127.0.0.1/x", "\\\\127.0.0.1\\x", "http:\\\\127.0.0.1\\x",
    " file:///etc/passwd",
])
def test_422_for_a_start_url_that_is_not_http_with_a_host(api: ApiServer, url: str) -> None:
    response = api.call("POST", "/v1/tasks", {"scheme": {"start_urls": [url]}})
    assert response.status == 422, response
    assert "scheme.start_urls[0]" in response.json["errors"], response.json["errors"]


def test_upper_case_http_start_url_is_crawled(api: ApiServer, site: TestSite) -> None:
    url = site.abs("/links/1/").replace("http://", "HTTP://")
    task = api.create({"start_urls": [url], "politeness": {"obey_robots": False}})
    final = api.wait(task["id"])
    assert final["status"] == "completed" and final["pages"] == 1, final
    (page,) = api.ok("GET", f"/v1/tasks/{task['id']}/pages")["data"]
    assert page["url"] == site.abs("/links/1/") and page["http_status"] == 200
