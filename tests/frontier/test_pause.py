"""Pause and resume (API.md section 2): a paused run's crawl finishes what is in flight and
exits, nothing is requested while it is paused, and resumed it completes with every item,
each page fetched once; a server stopped with SIGTERM pauses its runs and resumes them."""

from __future__ import annotations

import time
from pathlib import Path

from tests.frontier.conftest import Server, fetched, gen_prefix, gen_scheme, token
from tests.site.fixture import TestSite
from tests.support.server import start_server, wait_gone


def test_pause_then_resume_completes_with_every_page_fetched_once(
        server: Server, site: TestSite) -> None:
    tok = token()
    task = server.create(gen_scheme(site, delay=0.03, concurrency=2, token=tok))
    server.wait(task["id"], lambda t: t["status"] == "running" and t["pages"] >= 20)
    pid = server.crawl_pid(task["id"])
    paused = server.ok("POST", f"/v1/tasks/{task['id']}/pause")
    assert paused["status"] == "paused"
    assert server.call("POST", f"/v1/tasks/{task['id']}/pause").status == 409
    wait_gone(pid)  # it finished what was in flight and exited
    seen = sum(fetched(site, gen_prefix(tok)).values())
    time.sleep(2)
    assert sum(fetched(site, gen_prefix(tok)).values()) == seen  # nothing while paused
    assert server.task(task["id"])["status"] == "paused"
    # The CLI resumes it (POST /v1/tasks/{id}/resume): queued, then on to the end.
    out = server.cli("tasks", "resume", task["id"], "--url", server.url,
                     "--key", server.keys["alice"]).stdout
    assert out.split()[-2:] == [task["id"], "queued"], out
    assert server.call("POST", f"/v1/tasks/{task['id']}/resume").status in (409, 202)
    done = server.wait_status(task["id"], "completed", "error", timeout=120)
    assert done["status"] == "completed" and done["items"] == 200, done
    counts = fetched(site, gen_prefix(tok))
    assert len(counts) == 200 and set(counts.values()) == {1}
    assert server.call("POST", f"/v1/tasks/{task['id']}/resume").status == 409
    assert server.call("POST", f"/v1/tasks/{task['id']}/pause").status == 409


def test_resumed_before_the_paused_crawl_exits_each_page_is_fetched_once(
        server: Server, site: TestSite) -> None:
    # Resume at once: the paused crawl is still finishing what was in flight. The run's next
    # process must wait for it, or both would take the same pages (items twice).
    tok = token()
    task = server.create(gen_scheme(site, delay=0.1, concurrency=1, max_pages=60, token=tok))
    server.wait(task["id"], lambda t: t["status"] == "running" and t["pages"] >= 2)
    assert server.ok("POST", f"/v1/tasks/{task['id']}/pause")["status"] == "paused"
    assert server.ok("POST", f"/v1/tasks/{task['id']}/resume", status=202)["status"] == "queued"
    done = server.wait_status(task["id"], "completed", "error", timeout=120)
    assert done["status"] == "completed" and done["pages"] == 60, done
    items = server.call("GET", f"/v1/tasks/{task['id']}/store?format=jsonl").body.splitlines()
    assert len(items) == len(set(items)) == 60
    counts = fetched(site, gen_prefix(tok))
    assert sum(counts.values()) == 60 and set(counts.values()) == {1}, counts


def test_a_server_stopped_with_sigterm_pauses_its_runs_and_resumes_them(
        tmp_path: Path, site: TestSite) -> None:
    own = start_server(tmp_path / "data")
    try:
        tok = token()
        task = own.create(gen_scheme(site, delay=0.03, concurrency=2, token=tok))
        own.wait(task["id"], lambda t: t["status"] == "running" and t["pages"] >= 20)
        pid = own.crawl_pid(task["id"])
        own.stop()
        wait_gone(pid)
        run = own.latest_run(task["id"])
        assert run is not None and run["status"] == "paused" and run["paused_by"]
        own.start()
        own.wait_log("resumed 1 runs paused when the server stopped")
        done = own.wait_status(task["id"], "completed", "error", timeout=120)
        assert done["status"] == "completed" and done["items"] == 200, done
        counts = fetched(site, gen_prefix(tok))
        assert len(counts) == 200 and set(counts.values()) == {1}
    finally:
        own.stop()
