"""Observing runs against the real server and test site: the crawl log, the event stream
(progress, page failures, the end, resumption), per-run statistics and /metrics."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from control_api.cli_tasks import Client as CliClient
from tests.site.fixture import TestSite
from tests.support.server import Server, start_server
from tests.support.wait import wait_until

TOKEN = "metrics-token-for-tests"
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of its own: /metrics counts everything in its store."""
    server = start_server(tmp_path_factory.mktemp("observe"), CRAWLPLANE_EVENTS_INTERVAL="0.2",
                          CRAWLPLANE_EVENTS_HEARTBEAT="1", CRAWLPLANE_METRICS_TOKEN=TOKEN)
    yield server
    server.stop()


def scheme(site: TestSite, pages: int = 12, delay: float = 0.05,
           extra: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "start_urls": [site.abs("/gen/0.html"), *(site.abs(u) for u in extra)],
        "item": {"selector": "CSS: div.item", "fields": [{"name": "title", "selector": "CSS: h2"}]},
        "follow": [{"selector": "CSS: li a", "max_depth": 100}],
        "limits": {"max_pages": pages},
        "request": {"retry": {"policy": "skip"}},
        "politeness": {"obey_robots": False, "concurrency": 1, "crawl_delay": delay},
    }


def events(api: Server, task_id: str, last_id: str | None = None,
           timeout: float = 60) -> tuple[int, list[dict[str, Any]]]:
    """Read the task's event stream to its end: the status and the events in order."""
    headers = {"X-API-KEY": api.keys["alice"], "Accept": "text/event-stream"}
    if last_id:
        headers["Last-Event-ID"] = last_id
    request = urllib.request.Request(f"{api.url}/v1/tasks/{task_id}/events", headers=headers)
    got: list[dict[str, Any]] = []
    with _opener.open(request, timeout=timeout) as answer:
        if answer.status == 204:
            return 204, []
        assert answer.headers["Content-Type"].startswith("text/event-stream")
        event: dict[str, Any] = {}
        for raw in answer:
            line = raw.decode().rstrip("\n")
            if not line:
                if event:
                    got.append(event)
                event = {}
            elif line.startswith(":"):
                got.append({"comment": line})
            else:
                name, _, value = line.partition(": ")
                event[name] = json.loads(value) if name == "data" else value
    return 200, got


def metrics(api: Server, **headers: str) -> tuple[int, dict[str, float]]:
    request = urllib.request.Request(f"{api.url}/metrics",
                                     headers=headers or {"Authorization": f"Bearer {TOKEN}"})
    try:
        with _opener.open(request, timeout=30) as answer:
            assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            text = answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, {}
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}"] = sample.value
    return 200, samples


def test_the_event_stream_delivers_a_crawl_and_resumes(api: Server, site: TestSite) -> None:
    task = api.create(scheme(site, extra=("/status/404/",)))
    status, got = events(api, task["id"])
    assert status == 200
    real = [e for e in got if "event" in e]
    assert all(e.get("id") for e in real), real
    kinds = [e["event"] for e in real]
    assert kinds[-1] == "end" and kinds.count("end") == 1, kinds
    end = real[-1]["data"]
    assert end["status"] == "completed" and end["id"] == task["id"], end
    assert end["pages"] == 12 and end["failures"] == {"http_404": 1}, end
    progress = [e["data"] for e in real if e["event"] == "progress"]
    assert progress and progress[-1]["done"] == 12, progress
    assert [p["done"] for p in progress] == sorted(p["done"] for p in progress)
    statuses = [e["data"]["status"] for e in real if e["event"] == "status"]
    assert statuses[-1] == "completed", statuses
    failed = [e["data"] for e in real if e["event"] == "page_failed"]
    assert [(f["reason"], f["url"]) for f in failed] == [("http_404",
                                                         site.abs("/status/404/"))]
    # Resuming after the page failure: nothing up to it again, the rest up to the end.
    cut = next(i for i, e in enumerate(real) if e["event"] == "page_failed")
    status, again = events(api, task["id"], real[cut]["id"])
    later = [e for e in again if "event" in e]
    assert status == 200 and later[-1]["event"] == "end", later
    assert "page_failed" not in [e["event"] for e in later], later
    # After the end: 204, an EventSource stops reconnecting.
    assert events(api, task["id"], real[-1]["id"])[0] == 204


def test_events_of_a_running_crawl_show_progress(api: Server, site: TestSite) -> None:
    task = api.create(scheme(site, pages=30, delay=0.1))
    status, got = events(api, task["id"])
    real = [e for e in got if "event" in e]
    progress = [e for e in real if e["event"] == "progress"]
    assert len(progress) >= 3, real  # seen while it ran, not only at the end
    assert any(e["data"]["requests_per_s"] > 0 for e in progress), progress
    # Resuming from the middle gives only what came after it.
    middle = progress[len(progress) // 2]
    _, again = events(api, task["id"], middle["id"])
    resumed = [e["data"]["done"] for e in again if e.get("event") == "progress"]
    assert all(done > middle["data"]["done"] for done in resumed), (middle, resumed)


def test_log_tail_and_ranges(api: Server, site: TestSite) -> None:
    task = api.create(scheme(site, pages=3, delay=0))
    api.wait(task["id"])
    path = f"/v1/tasks/{task['id']}/log"
    whole = api.call("GET", path)
    assert whole.status == 200 and whole.content_type == "text/plain; charset=utf-8"
    assert b"Spider opened" in whole.body or b"spider_opened" in whole.body.lower(), whole.body
    tail = api.call("GET", path, params={"tail": "2"})
    assert tail.body == b"".join(whole.body.splitlines(keepends=True)[-2:])
    part = api.call("GET", path, headers={"Range": "bytes=0-9"})
    assert part.status == 206 and part.body == whole.body[:10]
    assert part.headers["content-range"] == f"bytes 0-9/{len(whole.body)}"
    suffix = api.call("GET", path, headers={"Range": "bytes=-5"})
    assert suffix.status == 206 and suffix.body == whole.body[-5:]
    beyond = api.call("GET", path, headers={"Range": f"bytes={len(whole.body)}-"})
    assert beyond.status == 416 and beyond.headers["content-range"] == \
        f"bytes */{len(whole.body)}"
    same = api.call("GET", path, params={"run": task["run_id"]})
    assert same.status == 200 and same.body.startswith(whole.body[:100])
    assert api.call("GET", path, params={"run": "r_nope"}).status == 404
    idle = api.create(scheme(site), run=False)
    assert api.call("GET", f"/v1/tasks/{idle['id']}/log").status == 404
    assert api.call("GET", path, key="bob").status == 404


def test_crawl_processes_run_no_remote_control_server(api: Server, site: TestSite) -> None:
    """Scrapy 2.19's RemoteControl (Python run from a localhost HTTP port) is on by default:
    neither a crawl of its own process nor a small run in a shared one starts it."""
    small = {"start_urls": [site.abs("/gen/1.html")], "politeness": {"obey_robots": False},
             "item": {"selector": "CSS: div.item",
                      "fields": [{"name": "t", "selector": "CSS: h2"}]}}
    for body in (scheme(site, pages=2, delay=0), small):
        task = api.create(body)
        assert api.wait(task["id"])["status"] == "completed"
        log = api.call("GET", f"/v1/tasks/{task['id']}/log").body
        assert b"Enabled extensions" in log, log[:500]
        assert b"Remote control HTTP server" not in log, log  # (its line when it listens)
        assert b"remote_control.RemoteControl" not in log, log  # (not an enabled extension)
        assert b"DeprecationWarning" not in log, log  # what users read starts clean
        assert b"WARNING" not in log, log  # (no line for each component a run does not use)


def test_stats_and_metrics_move_by_the_crawl(api: Server, site: TestSite) -> None:
    assert metrics(api, **{"X-Nothing": "1"})[0] == 401
    assert metrics(api, **{"X-API-KEY": api.keys["alice"]})[0] == 200
    _, before = metrics(api)
    task = api.create(scheme(site, pages=6, delay=0, extra=("/redirect/2/",)))
    done = api.wait(task["id"])
    assert done["status"] == "completed", done
    stats = api.ok("GET", f"/v1/tasks/{task['id']}/stats")
    assert stats["run_id"] == done["run_id"] and stats["pages"] == 6, stats
    # 6 pages: 5 generated ones and the redirect's target, after 2 hops.
    assert stats["attempts"] == 8 and stats["redirects"] == 2 and stats["retries"] == 0, stats
    assert stats["status_codes"] == {"200": 6, "302": 2}, stats
    assert stats["bytes"] > 0 and stats["download_time"]["p50"] is not None, stats
    host = site.abs("/").split("/")[2]
    assert stats["hosts"][host]["attempts"] == 8, stats
    time_out = 3.0

    def moved() -> dict[str, float] | None:
        samples = metrics(api)[1]
        return samples if samples["crawlplane_runs_ended_total{outcome=completed}"] > \
            before["crawlplane_runs_ended_total{outcome=completed}"] else None

    after = wait_until(moved, time_out, 0.2, "/metrics to count the run")

    def delta(name: str) -> float:
        return after[name] - before.get(name, 0)

    assert delta("crawlplane_runs_ended_total{outcome=completed}") == 1
    assert delta("crawlplane_runs_started_total{}") == 1
    assert delta("crawlplane_pages_total{}") == 6
    assert delta("crawlplane_items_total{}") == done["items"]
    assert delta("crawlplane_responses_total{class=2xx}") == 6
    assert delta("crawlplane_responses_total{class=3xx}") == 2
    assert delta("crawlplane_redirects_total{}") == 2
    assert delta("crawlplane_download_seconds_count{}") == 8
    assert delta("crawlplane_response_bytes_total{}") == stats["bytes"]
    assert after["crawlplane_runs{status=running}"] >= 0
    assert "crawlplane_queue_depth{}" in after and "crawlplane_launcher_slots{}" in after


def test_cli_wait_follows_the_event_stream(api: Server, site: TestSite, tmp_path: Path) -> None:
    env = {**api.env, "CRAWLPLANE_URL": api.url, "CRAWLPLANE_API_KEY": api.keys["alice"]}
    good = tmp_path / "good.json"
    good.write_text(json.dumps(scheme(site, pages=5, delay=0)))
    done = api.cli("run", str(good), "--wait", "-o", str(tmp_path / "out.jsonl"), env=env,
                   check=False)
    assert done.returncode == 0, done.stderr
    assert "items written" in done.stderr and "pages" in done.stderr, done.stderr
    task_id = done.stderr.split()[1]
    assert f"/v1/tasks/{task_id}/events" in api.log_since_start()
    dead = tmp_path / "dead.json"
    dead.write_text(json.dumps({**scheme(site, pages=1, delay=0),
                                "start_urls": [site.abs("/status/404/")]}))
    failed = api.cli("run", str(dead), "--wait", env=env, check=False)
    assert failed.returncode == 1 and "ended error: all 1 start URLs failed: HTTP 404" in \
        failed.stderr, failed.stderr


def test_cli_follow_gives_up_on_a_server_without_a_stream() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert CliClient(f"http://127.0.0.1:{port}", "key").follow("t_x", display=None) is None


def test_a_quiet_stream_gets_heartbeats(api: Server, site: TestSite) -> None:
    # A task that does not run: after its status nothing changes, so only pings keep the
    # connection alive (the server's heartbeat is 1 s here).
    task = api.create(scheme(site), run=False)
    headers = {"X-API-KEY": api.keys["alice"], "Accept": "text/event-stream"}
    request = urllib.request.Request(f"{api.url}/v1/tasks/{task['id']}/events", headers=headers)
    with _opener.open(request, timeout=10) as answer:
        lines = (raw.decode().rstrip("\n") for raw in answer)
        pings = 0
        for line in lines:
            pings += line == ": ping"
            if pings == 2:
                break
    assert pings == 2
