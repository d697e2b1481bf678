"""A store that is down a while loses nothing of a crawl: PostgreSQL refuses the run's database
for a few seconds mid-crawl (it is renamed away, every connection to it ended), and the run
completes with every page and every item once. What a flush could not write goes with the next
one (engine/extensions/recorder.py); new pages the store did not take wait in the scheduler
(engine/frontier/scheduler.py)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from engine.store.tables import items
from tests import pg
from tests.frontier.conftest import gen_prefix, gen_scheme, open_store, run_id, token
from tests.site.fixture import TestSite
from tests.support.server import start_server, wait_gone
from tests.support.wait import wait_until

PAGES = 40


def database_away(url: str, seconds: float) -> None:
    """The database of `url` unreachable for `seconds`: renamed, its connections ended."""
    with pg.unreachable(url):
        time.sleep(seconds)


def test_a_crawl_loses_nothing_while_its_store_is_down(
        tmp_path: Path, site: TestSite, postgres_url: str) -> None:
    with pg.fresh_database() as url:  # (its own: the session's is shared; postgres_url: the
        run_through_outage(tmp_path, site, url)  # failure in CI when PostgreSQL is missing)


def run_through_outage(tmp_path: Path, site: TestSite, postgres_url: str) -> None:
    server = start_server(tmp_path / "data", CRAWLPLANE_STORE_URL=postgres_url)
    try:
        tok = token()
        scheme = gen_scheme(site, concurrency=2, delay=0.1, max_pages=PAGES, token=tok)
        task = server.create(scheme)
        wait_until(lambda: (server.task(task["id"])["pages"] or 0) >= 5, 30,
                   message="the crawl under way")
        database_away(postgres_url, 3.0)
        done = server.wait_status(task["id"], "completed", "error", timeout=120)
        assert done["status"] == "completed", done
        assert done["pages"] == PAGES and done["items"] == PAGES, done
        store = open_store(server)
        try:
            with store.engine.connect() as conn:
                rows = conn.execute(select(items.c.data).where(
                    items.c.run_id == run_id(server, task["id"]))).scalars().all()
        finally:
            store.close()
        titles = Counter(row["title"] for row in rows)
        assert len(titles) == PAGES and set(titles.values()) == {1}, titles
        log = server.call("GET", f"/v1/tasks/{task['id']}/log").body.decode()
        assert "store flush failed" in log  # (the outage did meet the crawl)
        # In one go: not a crawl that lost a batch and was retried to fetch its pages again.
        run = server.latest_run(task["id"])
        assert run is not None and run["tries"] == 0, run
        fetched = Counter(e["path"] for e in site.log(path_prefix=gen_prefix(tok)))
        assert len(fetched) == PAGES and set(fetched.values()) == {1}, fetched
    finally:
        server.stop()


def test_a_crawl_whose_store_stays_down_ends(
        tmp_path: Path, site: TestSite, postgres_url: str) -> None:
    """It keeps what the store does not take for CRAWLPLANE_STORE_GIVE_UP seconds, then ends:
    its process exits instead of waiting for the store forever, and once the store is back its
    launcher takes the run back as a crashed one's, and a new process completes it."""
    with pg.fresh_database() as url:
        server = start_server(tmp_path / "data", CRAWLPLANE_STORE_URL=url,
                              CRAWLPLANE_STORE_GIVE_UP="2")
        try:
            task = server.create(gen_scheme(site, concurrency=2, delay=0.2, max_pages=PAGES,
                                            token=token()))
            wait_until(lambda: (server.task(task["id"])["pages"] or 0) >= 3, 30,
                       message="the crawl under way")
            pid = server.crawl_pid(task["id"])
            outage = threading.Thread(target=database_away, args=(url, 8.0))
            outage.start()
            try:
                wait_gone(pid, timeout=7)  # (2 s of failed flushes, then it closes)
            finally:
                outage.join()
            log = server.call("GET", f"/v1/tasks/{task['id']}/log").body.decode()
            assert "the store took no write for 2 s; closing the crawl" in log
            done = server.wait_status(task["id"], "completed", "error", timeout=90)
            assert done["status"] == "completed" and done["pages"] == PAGES, done
            run = server.latest_run(task["id"])
            assert run is not None and run["tries"] == 1, run
        finally:
            server.stop()
