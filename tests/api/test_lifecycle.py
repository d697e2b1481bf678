"""A task's whole life over real HTTP: create, run, results in five formats, ready, pages,
run again, restart, delete."""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
import uuid
import xml.etree.ElementTree as ET
from typing import Any

import openpyxl
import pytest

from tests.api.conftest import TERMINAL, ApiServer, gen_prefix, gen_scheme
from tests.site.fixture import TestSite
from tests.support.server import wait_gone
from tests.support.wait import wait_until

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
FLAT_COLUMNS = ["text", "author", "tags", "about.url", "about.born"]


def expected_quotes(site: TestSite) -> list[dict[str, Any]]:
    authors = site.truth("authors")
    return [{"text": q["text"], "author": q["author"], "tags": q["tags"],
             "about": {"url": site.abs(q["author_path"]),
                       "born": authors[q["author_slug"]]["born_date"]}}
            for q in site.truth("quotes")]


def flat(quote: dict[str, Any]) -> dict[str, str]:
    return {"text": quote["text"], "author": quote["author"], "tags": "; ".join(quote["tags"]),
            "about.url": quote["about"]["url"], "about.born": quote["about"]["born"]}


@pytest.fixture(scope="module")
def done(api: ApiServer, quotes_scheme: dict[str, Any]) -> dict[str, Any]:
    """A completed quotes task, and what was seen while it ran."""
    created = api.create(quotes_scheme, name="quotes", tag="lifecycle")
    seen = {created["status"]}

    def ended() -> dict[str, Any] | None:
        task: dict[str, Any] = api.ok("GET", f"/v1/tasks/{created['id']}")
        seen.add(task["status"])
        return task if task["status"] in TERMINAL else None

    task = wait_until(ended, 60, 0.02, lambda: f"the quotes task to end (seen {seen})")
    return {"created": created, "task": task, "seen": seen}


def test_create_answers_201_queued_with_location(api: ApiServer, done: dict[str, Any]) -> None:
    created = done["created"]
    assert created["status"] == "queued"
    assert created["id"].startswith("t_")
    assert re.fullmatch(r"[0-9a-f]{32}", created["payload_id"])
    assert created["started_at"] is None and created["ended_at"] is None
    assert created["results"] == [] and created["collected"] is False
    assert STAMP.match(created["created_at"])
    response = api.call("POST", f"/v1/tasks/{created['id']}/info")
    assert response.status == 200 and response.json["id"] == created["id"]


def test_run_completes_with_counters(api: ApiServer, site: TestSite,
                                     done: dict[str, Any]) -> None:
    task = done["task"]
    assert task["status"] == "completed", task
    assert done["seen"] <= {"queued", "running", "completed"}
    # 5 quote pages and the 8 author pages they link to.
    authors = {q["author_slug"] for q in site.truth("quotes")}
    assert task["pages"] == 5 + len(authors)
    assert task["requests"] == task["pages"]
    assert task["items"] == len(site.truth("quotes")) == 50
    assert task["progress"] == {"done": task["pages"], "queued": 0, "failed": 0}
    assert task["error"] is None
    for name in ("created_at", "started_at", "ended_at", "updated_at"):
        assert STAMP.match(task[name]), (name, task[name])
    assert task["created_at"] <= task["started_at"] <= task["ended_at"] <= task["updated_at"]
    assert 0 < task["elapsed"] < 30
    assert [r["format"] for r in task["results"]] == ["jsonl", "csv"]
    for result in task["results"]:
        assert result["quantity"] == 50 and result["size"] > 0
        assert result["file_url"] == (f"{api.url}/v1/tasks/{task['id']}/store"
                                      f"?format={result['format']}")
    assert task["file_size"] == task["results"][0]["size"]


def test_ready_lists_completed_uncollected_then_store_collects(
        api: ApiServer, site: TestSite, done: dict[str, Any]) -> None:
    task_id = done["task"]["id"]
    ready = api.ok("GET", "/v1/tasks/ready", key="alice")["data"]
    entry = next(r for r in ready if r["id"] == task_id)
    assert set(entry) == {"id", "name", "tag", "ended_at", "results"}
    assert entry["name"] == "quotes" and entry["tag"] == "lifecycle"
    ended = [r["ended_at"] for r in ready]
    assert ended == sorted(ended)  # oldest first
    assert all(r["id"] != task_id for r in api.ok("GET", "/v1/tasks/ready", key="bob")["data"])

    expected = expected_quotes(site)
    response = api.call("GET", f"/v1/tasks/{task_id}/store")  # jsonl by default
    assert response.status == 200
    assert response.content_type == "application/jsonl"
    assert response.headers["content-disposition"] == f'attachment; filename="{task_id}.jsonl"'
    rows = [json.loads(line) for line in response.body.decode().splitlines()]
    assert sorted(rows, key=lambda r: r["text"]) == sorted(expected, key=lambda r: r["text"])

    assert api.ok("GET", f"/v1/tasks/{task_id}")["collected"] is True
    assert all(r["id"] != task_id for r in api.ok("GET", "/v1/tasks/ready")["data"])


def test_every_format_reads_back_as_the_site_truth(api: ApiServer, site: TestSite,
                                                   done: dict[str, Any]) -> None:
    task_id = done["task"]["id"]
    expected = sorted(expected_quotes(site), key=lambda r: r["text"])
    expected_flat = [flat(q) for q in expected]

    def get(fmt: str, content_type: str) -> bytes:
        response = api.call("GET", f"/v1/tasks/{task_id}/store?format={fmt}")
        assert response.status == 200, response
        assert response.content_type == content_type
        assert response.headers["content-disposition"] == (
            f'attachment; filename="{task_id}.{fmt}"')
        return response.body

    data = json.loads(get("json", "application/json"))
    assert sorted(data, key=lambda r: r["text"]) == expected

    lines = get("jsonl", "application/jsonl").decode().splitlines()
    assert sorted((json.loads(x) for x in lines), key=lambda r: r["text"]) == expected

    rows = list(csv.DictReader(io.StringIO(get("csv", "text/csv; charset=utf-8").decode())))
    assert list(rows[0]) == FLAT_COLUMNS
    assert sorted(rows, key=lambda r: r["text"]) == expected_flat

    root = ET.fromstring(get("xml", "application/xml"))
    assert root.tag == "items"
    xml_rows = [{"text": item.findtext("text"), "author": item.findtext("author"),
                 "tags": [v.text for v in item.find("tags") or []],
                 "about": {"url": item.findtext("about/url"),
                           "born": item.findtext("about/born")}} for item in root]
    assert sorted(xml_rows, key=lambda r: r["text"] or "") == expected

    book = openpyxl.load_workbook(io.BytesIO(get(
        "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")))
    sheet_rows = list(book.active.iter_rows(values_only=True))
    assert list(sheet_rows[0]) == FLAT_COLUMNS
    xlsx_rows = [dict(zip(FLAT_COLUMNS, row, strict=True)) for row in sheet_rows[1:]]
    assert sorted(xlsx_rows, key=lambda r: r["text"]) == expected_flat


def test_pages_lists_download_tasks_with_paging_and_state(api: ApiServer,
                                                          done: dict[str, Any]) -> None:
    task = done["task"]
    seen: list[dict[str, Any]] = []
    chunks: list[list[str]] = []
    url: str | None = f"/v1/tasks/{task['id']}/pages?take=5"
    while url:
        page = api.ok("GET", url)
        assert len(page["data"]) <= 5
        seen += page["data"]
        chunks.append([p["id"] for p in page["data"]])
        url = page["links"]["next"]
    assert len(seen) == task["pages"] and len({p["id"] for p in seen}) == len(seen)
    assert len(chunks) >= 3
    # And back again through links.previous, chunk by chunk.
    back: list[list[str]] = []
    url = f"/v1/tasks/{task['id']}/pages?take=5&from={chunks[-1][0]}"
    while url:
        page = api.ok("GET", url)
        back.append([p["id"] for p in page["data"]])
        url = page["links"]["previous"]
    assert back == chunks[::-1]
    first = [p for p in seen if p["depth"] == 0]
    assert len(first) == 1 and first[0]["parent_id"] is None
    assert all(p["state"] == "Handled" and p["http_status"] == 200 for p in seen)
    assert {p["parent_id"] for p in seen if p["depth"] > 0} <= {p["id"] for p in seen}
    handled = api.ok("GET", f"/v1/tasks/{task['id']}/pages?state=Handled&take=100")["data"]
    assert len(handled) == len(seen)
    assert api.ok("GET", f"/v1/tasks/{task['id']}/pages?state=Created")["data"] == []
    assert api.call("GET", f"/v1/tasks/{task['id']}/pages?state=bogus").status == 400


def test_scheme_is_served_as_stored(api: ApiServer, quotes_scheme: dict[str, Any],
                                    done: dict[str, Any]) -> None:
    stored = api.ok("GET", f"/v1/tasks/{done['task']['id']}/scheme")
    assert stored["start_urls"] == quotes_scheme["start_urls"]
    assert stored["item"]["fields"][3]["follow"]["fields"][0]["name"] == "born"
    assert stored["formats"] == ["jsonl", "csv"]


def test_run_false_waits_initialized_until_run(api: ApiServer, site: TestSite) -> None:
    scheme = gen_scheme(site, max_pages=5)
    task = api.create(scheme, run=False, name="later")
    assert task["status"] == "initialized"
    assert api.call("GET", f"/v1/tasks/{task['id']}/store").status == 409
    assert api.call("POST", f"/v1/tasks/{task['id']}/cancel").status == 409
    # A barrier instead of a pause: a task created after it runs to its end, so the launcher
    # has claimed work since, and left this one alone.
    later = api.create(gen_scheme(site, max_pages=1), name="after-later")
    assert api.wait(later["id"])["status"] == "completed"
    assert api.ok("GET", f"/v1/tasks/{task['id']}")["status"] == "initialized"
    started = api.ok("POST", f"/v1/tasks/{task['id']}/run", status=202)
    assert started["status"] in ("queued", "running")
    finished = api.wait(task["id"])
    assert finished["status"] == "completed" and finished["items"] == 5


def test_run_again_after_completion_and_409_while_running(api: ApiServer,
                                                          site: TestSite) -> None:
    task = api.create(gen_scheme(site, max_pages=20, delay=0.05, concurrency=1))
    conflict = api.call("POST", f"/v1/tasks/{task['id']}/run")
    assert conflict.status == 409
    assert "already" in conflict.json["detail"]
    first = api.wait(task["id"])
    assert first["status"] == "completed" and first["items"] == 20
    again = api.ok("POST", f"/v1/tasks/{task['id']}/run", status=202)
    assert again["status"] in ("queued", "running")
    assert again["results"] == [] and again["items"] in (0, None)
    second = api.wait(task["id"])
    assert second["status"] == "completed" and second["items"] == 20
    assert second["started_at"] > first["ended_at"]
    lines = api.call("GET", f"/v1/tasks/{task['id']}/store").body.splitlines()
    assert len(lines) == 20


def test_restart_clears_results_and_runs_again(api: ApiServer, site: TestSite) -> None:
    task = api.create(gen_scheme(site, max_pages=10))
    first = api.wait(task["id"])
    assert first["status"] == "completed"
    api.call("GET", f"/v1/tasks/{task['id']}/store")  # collected
    restarted = api.ok("PUT", f"/v1/tasks/{task['id']}", status=202)
    assert restarted["status"] in ("queued", "running")
    assert restarted["collected"] is False and restarted["results"] == []
    second = api.wait(task["id"])
    assert second["status"] == "completed" and second["items"] == 10
    assert second["id"] == task["id"]
    pages = api.ok("GET", f"/v1/tasks/{task['id']}/pages?take=100")["data"]
    assert len(pages) == 10  # the first run's pages are gone
    lines = api.call("GET", f"/v1/tasks/{task['id']}/store").body.splitlines()
    assert len(lines) == 10


def test_delete_answers_204_then_404_everywhere(api: ApiServer, site: TestSite) -> None:
    task = api.create(gen_scheme(site, max_pages=5), name="doomed")
    api.wait(task["id"])
    response = api.call("DELETE", f"/v1/tasks/{task['id']}")
    assert response.status == 204 and response.body == b""
    base = f"/v1/tasks/{task['id']}"
    for method, path in [("GET", base), ("POST", base + "/info"), ("POST", base + "/run"),
                         ("POST", base + "/cancel"), ("PUT", base), ("DELETE", base),
                         ("GET", base + "/scheme"), ("GET", base + "/store"),
                         ("GET", base + "/pages")]:
        gone = api.call(method, path)
        assert gone.status == 404, (method, path, gone)
        assert gone.json["detail"] == f"task {task['id']} not found"
    names = [t["name"] for t in api.ok("GET", "/v1/tasks?take=100&name=doomed")["data"]]
    assert names == []


def test_delete_removes_the_crawl_logs_of_every_run(api: ApiServer, site: TestSite) -> None:
    """A run's log tells what it crawled: it goes with the task, for each of its runs."""
    task = api.create(gen_scheme(site, max_pages=3))
    api.wait(task["id"])
    api.ok("POST", f"/v1/tasks/{task['id']}/run", status=202)
    assert api.wait(task["id"])["status"] == "completed"
    with sqlite3.connect(api.data_dir / "crawlplane.db") as db:
        runs = [row[0] for row in db.execute(
            "SELECT id FROM runs WHERE task_id = ? ORDER BY queued_at", (task["id"],))]
    assert len(runs) == 2
    logs = [api.data_dir / "logs" / f"{run_id}.log" for run_id in runs]
    assert all(log.exists() for log in logs), logs
    assert api.call("DELETE", f"/v1/tasks/{task['id']}").status == 204
    assert [log for log in logs if log.exists()] == []


def test_delete_while_running_terminates_the_crawl(api: ApiServer, site: TestSite) -> None:
    token = uuid.uuid4().hex
    task = api.create(gen_scheme(site, delay=0.1, concurrency=1, token=token))
    api.wait(task["id"], lambda t: t["status"] == "running" and t["pages"] >= 2)
    pid = api.crawl_pid(task["id"])
    assert api.call("DELETE", f"/v1/tasks/{task['id']}").status == 204
    assert api.call("GET", f"/v1/tasks/{task['id']}").status == 404
    # The crawl noticed and stopped: its process exits long before it could have requested
    # every page (200 at 0.1 s each), and nothing of this crawl is requested after that.
    wait_gone(pid)
    requested = len(site.log(path_prefix=gen_prefix(token)))
    assert 2 <= requested < 200
    assert api.call("GET", f"/v1/tasks/{task['id']}").status == 404
    assert len(site.log(path_prefix=gen_prefix(token))) == requested
    # Nothing of it stays in the store, not even what the crawl wrote after the delete: the
    # server drops those late writes once it has seen the process end (a barrier, not a sleep).
    def left_in_store() -> dict[str, int]:
        with sqlite3.connect(api.data_dir / "crawlplane.db") as db:
            return {table: db.execute(f"SELECT count(*) FROM {table} WHERE task_id = ?",
                                      (task["id"],)).fetchone()[0]
                    for table in ("items", "pages", "runs")}

    wait_until(lambda: not any(left_in_store().values()), 30, 0.1,
               "the deleted task's late writes to be dropped")
