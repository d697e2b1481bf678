"""`"processes": N`: N crawl processes on one run's frontier, on SQLite and on PostgreSQL;
every page fetched once, limits.max_pages exact, the run ends once the frontier is empty and
all its processes are done, and no later."""

from __future__ import annotations

from tests.frontier.conftest import (
    Server,
    fetched,
    gen_prefix,
    gen_scheme,
    page_rows,
    run_id,
    token,
)
from tests.site.fixture import TestSite
from tests.support.wait import wait_until


def test_two_processes_share_one_frontier_with_exact_limits(backend: Server,
                                                            site: TestSite) -> None:
    tok = token()
    scheme = {**gen_scheme(site, delay=0.01, concurrency=4, max_pages=150, token=tok),
              "processes": 2}
    task = backend.create(scheme)
    done = backend.wait_status(task["id"], "completed", "error", timeout=120)
    assert done["status"] == "completed", done
    assert done["pages"] == 150 and done["items"] == 150
    counts = fetched(site, gen_prefix(tok))
    assert len(counts) == 150 and set(counts.values()) == {1}  # each page once, in all
    rows = page_rows(backend, run_id(backend, task["id"]))
    assert len(rows) == 150 and {r["state"] for r in rows} == {"Handled"}
    workers = {r["worker"] for r in rows}
    assert len(workers) == 2, workers  # both processes took pages
    assert any("limits.max_pages (150) reached" in w for w in done["warnings"]), done


def test_two_processes_keep_exactly_max_items(backend: Server, site: TestSite) -> None:
    # Both processes extract at once; each alone would stop only at the limit (its own count):
    # the store keeps the run's first 40 items and no more (engine/store/frontier.item_room).
    # A crawl delay (shared by the processes) spreads the 40 items over some 4 s, so that the
    # second process, forked a little later on a loaded machine, is extracting too.
    tok = token()
    scheme = gen_scheme(site, delay=0.1, concurrency=4, max_pages=150, token=tok)
    scheme = {**scheme, "processes": 2, "limits": {**scheme["limits"], "max_items": 40}}
    task = backend.create(scheme)
    done = backend.wait_status(task["id"], "completed", "error", timeout=120)
    assert done["status"] == "completed", done
    assert done["items"] == 40, done
    body = backend.call("GET", f"/v1/tasks/{task['id']}/store?format=jsonl").body
    lines = body.splitlines()
    assert len(lines) == len(set(lines)) == 40
    assert "limits.max_items (40) reached: the crawl was stopped" in done["warnings"], done
    rows = page_rows(backend, run_id(backend, task["id"]))
    assert len({r["worker"] for r in rows if r["state"] == "Handled"}) == 2, rows


def test_a_process_that_waited_on_another_ends_with_the_run(backend: Server,
                                                            site: TestSite) -> None:
    # One page, answered after 2 s: one process fetches it and ends the run, the other waits
    # for it to be done (it might fail and go back to the frontier). Scrapy's engine checks on
    # its own whether it is idle every 5 s only: the waiting process must see the page done
    # and end then, not hold a crawl process's place for 4 s more.
    scheme = {"start_urls": [site.abs(f"/slow/?delay=2&t={token()}")], "processes": 2,
              "item": {"fields": [{"name": "value", "selector": "CSS: p.value"}]}}
    task = backend.create(scheme)
    done = backend.wait_status(task["id"], "completed", "error", timeout=60)
    assert done["status"] == "completed" and done["items"] == 1, done
    log = backend.data_dir / "logs" / f"{run_id(backend, task['id'])}.log"
    assert log.read_text().count("Spider opened") == 2  # (both processes ran)
    wait_until(lambda: log.read_text().count("Spider closed (finished)") == 2, timeout=2,
               message="the waiting process to end with the run")
