"""Outcomes you can trust (API.md section 2): a run in which no page succeeded ends `error`
saying why; a run with some failures completes and counts them in `failures`; what matched
nothing or hit a limit is in `warnings`; every page shows its `error`."""

from __future__ import annotations

import json
import socket
from typing import Any

from tests.api.conftest import ApiServer
from tests.site.fixture import TestSite

NO_RETRY = {"timeout_s": 20, "retry": {"policy": "skip"}}
POLITE = {"obey_robots": False}


def closed_port_url() -> str:
    """A loopback URL nothing listens on: a port bound, then closed."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def run(api: ApiServer, scheme: dict[str, Any]) -> dict[str, Any]:
    task = api.create({"politeness": POLITE, "request": NO_RETRY, **scheme})
    return api.wait(task["id"], timeout=60)


def pages(api: ApiServer, task: dict[str, Any]) -> dict[str, dict[str, Any]]:
    rows = api.ok("GET", f"/v1/tasks/{task['id']}/pages?take=100")["data"]
    return {row["url"]: row for row in rows}


def test_a_dead_start_url_ends_error_naming_connection_refused(api: ApiServer) -> None:
    url = closed_port_url()
    task = run(api, {"start_urls": [url]})
    assert task["status"] == "error", task
    assert task["error"] == "all 1 start URLs failed: connection refused", task
    assert task["failures"] == {"connection": 1} and task["requests"] == 0, task
    assert task["kind"] == "task" and task["run_id"].startswith("r_"), task
    assert "Connection refused" in pages(api, task)[url]["error"]


def test_a_404_start_url_ends_error(api: ApiServer, site: TestSite) -> None:
    url = site.abs("/status/404/")
    task = run(api, {"start_urls": [url]})
    assert task["status"] == "error", task
    assert task["error"] == "all 1 start URLs failed: HTTP 404", task
    assert task["failures"] == {"http_404": 1}, task
    page = pages(api, task)[url]
    assert page["http_status"] == 404 and page["error"] == "HTTP 404 Not Found", page


def test_some_failed_pages_complete_with_failures_counted(api: ApiServer, site: TestSite) -> None:
    good, dead = site.abs("/links/1/"), closed_port_url()
    gone = [site.abs("/status/404/"), site.abs("/status/410/")]
    task = run(api, {"start_urls": [good, *gone, dead]})
    assert task["status"] == "completed" and task["error"] is None, task
    assert task["failures"] == {"http_404": 1, "http_410": 1, "connection": 1}, task
    assert task["progress"]["failed"] == 3 and task["requests"] == 1, task
    by_url = pages(api, task)
    assert by_url[good]["error"] is None and by_url[good]["state"] == "Handled"
    assert by_url[gone[1]]["error"] == "HTTP 410 Gone"
    assert "Connection refused" in by_url[dead]["error"], by_url[dead]


def test_a_run_without_failures_has_empty_failures_and_warnings(
        api: ApiServer, quotes_scheme: dict[str, Any]) -> None:
    task = run(api, quotes_scheme)
    assert task["status"] == "completed", task
    assert task["failures"] == {} and task["warnings"] == [], task


def test_an_item_selector_that_never_matches_is_a_warning(api: ApiServer,
                                                          site: TestSite) -> None:
    task = run(api, {"start_urls": [site.abs("/quotes/page/1/")],
                     "item": {"selector": "CSS: div.no-such-thing",
                              "fields": [{"name": "text", "selector": "CSS: span.text"}]}})
    assert task["status"] == "completed" and task["items"] == 0, task
    assert task["warnings"] == ["item selector CSS: div.no-such-thing matched nothing on 1 page"]


def test_a_field_that_never_matches_is_a_warning(api: ApiServer, site: TestSite) -> None:
    task = run(api, {"start_urls": [site.abs("/quotes/page/1/")],
                     "item": {"selector": "CSS: div.quote",
                              "fields": [{"name": "text", "selector": "CSS: span.text"},
                                         {"name": "isbn", "selector": "CSS: span.isbn"}]}})
    assert task["status"] == "completed" and task["items"], task
    assert task["warnings"] == ["field isbn (CSS: span.isbn) matched nothing on 1 page"], task


def test_max_pages_reached_is_a_warning(api: ApiServer,
                                        quotes_scheme: dict[str, Any]) -> None:
    task = run(api, {**quotes_scheme, "limits": {"max_pages": 2}})
    assert task["status"] == "completed" and task["pages"] == 2, task
    assert "limits.max_pages (2) reached: further pages were not crawled" in task["warnings"]


def test_cli_wait_exits_non_zero_and_prints_the_error(api: ApiServer, tmp_path: Any) -> None:
    scheme = tmp_path / "dead.json"
    scheme.write_text(f'{{"start_urls": ["{closed_port_url()}"], '
                      '"request": {"retry": {"policy": "skip"}}}')
    done = api.cli("run", str(scheme), "--wait", "--url", api.url, "--key", api.keys["alice"],
                   "-o", str(tmp_path / "out.jsonl"), check=False)
    assert done.returncode == 1, done
    assert "ended error: all 1 start URLs failed: connection refused" in done.stderr


def test_pages_filter_by_state_still_shows_error(api: ApiServer, site: TestSite) -> None:
    task = run(api, {"start_urls": [site.abs("/status/404/"), site.abs("/links/1/")]})
    rows = api.ok("GET", f"/v1/tasks/{task['id']}/pages?state=Handled")["data"]
    assert sorted(str(row["error"]) for row in rows) == ["HTTP 404 Not Found", "None"]


def test_cli_wait_names_failures_and_warnings_of_a_completed_run(
        api: ApiServer, site: TestSite, tmp_path: Any) -> None:
    scheme = tmp_path / "mixed.json"
    scheme.write_text(json.dumps({
        "start_urls": [site.abs("/links/1/"), site.abs("/status/404/")],
        "item": {"fields": [{"name": "isbn", "selector": "CSS: span.isbn"}]},
        "politeness": POLITE, "request": NO_RETRY}))
    done = api.cli("run", str(scheme), "--wait", "--url", api.url, "--key", api.keys["alice"],
                   "-o", str(tmp_path / "out.csv"), check=False)
    assert done.returncode == 0, done.stderr
    assert "completed with failed pages: http_404 1" in done.stderr, done.stderr
    assert "warning: field isbn (CSS: span.isbn) matched nothing on 1 page" in done.stderr
