"""The store, the same code on SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
import time
import zlib

from sqlalchemy import select

from control_api.background.scheduler import fire
from control_api.launchers.local import claim
from control_api.web.schedules import CreateSchedule, create, get
from engine.store import Store, frontier
from engine.store import tasks as task_queries
from engine.store.tables import pages, runs

SCHEME = {"start_urls": ["https://example.com/"], "formats": ["jsonl"],
          "item": {"fields": [{"name": "title", "selector": "CSS: title"}]}}


def page(run: dict[str, str], page_id: str, url: str) -> dict[str, object]:
    now = time.time()
    return {"id": page_id, "task_id": run["task_id"], "run_id": run["id"], "url": url,
            "state": "Handled", "depth": 0, "parent_id": None, "http_status": 200,
            "content_type": "text/html", "error": None, "created_at": now, "updated_at": now}


def test_dialect_is_what_the_url_says(store: Store) -> None:
    assert store.engine.dialect.name in ("sqlite", "postgresql")
    assert store.url.startswith(("sqlite:///", "postgresql+psycopg://"))


def test_tasks_and_runs(store: Store) -> None:
    task, run = store.create_task("tn_1", SCHEME, "a" * 32, name="n", tag="t")
    assert run is not None
    stored = store.get_task(task["id"])
    assert stored is not None and stored["run_id"] == run["id"]
    assert stored["scheme"] == SCHEME and stored["collected"] is False
    assert store.get_task(task["id"], tenant_id="tn_other") is None
    assert store.update_run(run["id"], only_if=("queued",), status="running")
    assert not store.update_run(run["id"], only_if=("queued",), status="error")
    assert store.get_run(run["id"])["status"] == "running"  # type: ignore[index]
    taken = store.queue_run(task["id"], launcher="external")
    assert store.get_run(taken["id"])["launcher"] == "external"  # type: ignore[index]


def test_a_run_value_set_to_none_is_sqls_null(store: Store) -> None:
    """A run's updates are built once per shape with bound values (engine/store/runs.py); a
    JSON column's bound None would be the JSON text 'null', where `.values(x=None)` is NULL."""
    task, run = store.create_task("tn_1", SCHEME, "a" * 32)
    assert run is not None
    assert store.update_run(run["id"], warnings=["one"], error="e", result_sizes={"jsonl": 3})
    assert store.get_run(run["id"])["warnings"] == ["one"]  # type: ignore[index]
    assert store.update_run(run["id"], warnings=None, error=None, result_sizes=None)
    with store.engine.connect() as conn:
        nulls = conn.execute(select(runs.c.warnings.is_(None), runs.c.error.is_(None),
                                    runs.c.result_sizes.is_(None))
                             .where(runs.c.id == run["id"])).one()
    assert tuple(nulls) == (True, True, True)


def test_claim_takes_each_queued_run_once(store: Store) -> None:
    queued = [store.create_task("tn_1", SCHEME, "a" * 32)[1] for _ in range(5)]
    first = claim(store, "scrapyd:" + "h" * 60, 3)  # names longer than 40 characters fit
    second = claim(store, "local:other", 10)
    assert len(first) == 3 and len(second) == 2
    assert {r["id"] for r in first} | {r["id"] for r in second} == {r["id"] for r in queued if r}
    assert claim(store, "local:other", 10) == []
    assert store.runs_with_status("queued", launcher="local:other")[0]["launcher"] == \
        "local:other"


def test_batches_items_pages_and_bodies(store: Store) -> None:
    task, run = store.create_task("tn_1", SCHEME, "a" * 32)
    assert run is not None
    run["task_id"] = task["id"]
    long_url = "https://example.com/search?q=" + secrets.token_hex(3000)  # over a btree limit
    body = zlib.compress(b"<html>" + bytes(range(256)) + b"</html>")
    items = [{"title": f"t{i}", "nested": {"list": [1, "é", None]}, "nul": "a\u0000b"}
             for i in range(2500)]
    store.write_batch(
        page_rows=[page(run, "p_1", "https://example.com/"), page(run, "p_2", long_url)],
        info_rows=[{"page_id": "p_1", "attempt": 1, "info": {"Url": "b"}},
                   {"page_id": "p_1", "attempt": 0, "info": {"Url": "a"}}],
        body_rows=[{"page_id": "p_1", "url": "https://example.com/", "encoding": "utf-8",
                    "etag": None, "last_modified": None, "body": body}],
        item_rows=[{"run_id": run["id"], "task_id": task["id"], "data": d} for d in items],
        run_id=run["id"], progress={"pages": 2, "items": len(items), "status": "completed"},
    )
    assert list(store.iter_items(run["id"], batch=1000)) == items
    assert store.count_items(run["id"]) == len(items)
    assert store.page_infos("p_1") == [{"Url": "a"}, {"Url": "b"}]
    stored_body = store.page_body("p_1")
    assert stored_body is not None and bytes(stored_body["body"]) == body
    assert store.get_page("p_2")["url"] == long_url  # type: ignore[index]
    with store.engine.connect() as conn:
        found = conn.execute(select(pages.c.id).where(pages.c.task_id == task["id"],
                                                      pages.c.url == long_url)).scalar()
    assert found == "p_2"
    assert store.get_run(run["id"])["items"] == len(items)  # type: ignore[index]

    with store.begin() as conn:
        store.delete_run_data(conn, [run["id"]])
    assert store.count_items(run["id"]) == 0 and store.get_page("p_1") is None
    assert store.page_infos("p_1") == [] and store.page_body("p_1") is None


def test_runs_ordered_by_queue_time(store: Store) -> None:
    task, _ = store.create_task("tn_1", SCHEME, "a" * 32, run=False)
    ids = [store.queue_run(task["id"])["id"] for _ in range(3)]
    assert [r["id"] for r in store.runs_with_status("queued")] == ids
    with store.engine.connect() as conn:
        assert conn.execute(select(runs.c.queued_at).where(runs.c.id == ids[0])).scalar() > 0


def test_schedules_fire_once_per_time(store: Store) -> None:
    task, _ = store.create_task("tn_1", SCHEME, "a" * 32, run=False)
    row = create(store, "tn_1", CreateSchedule(cron="*/5 * * * *", task_id=task["id"]),
                 1_800_000_000.0)
    assert fire(store, row, row["next_at"] + 1) is not None
    assert fire(store, row, row["next_at"] + 1) is None
    fired = get(store, "tn_1", row["id"])
    assert fired["fired"] == 1 and fired["next_at"] == row["next_at"] + 300


def test_clearing_a_task_drops_its_runs_waiting_items(store: Store) -> None:
    """Restarting (runs cleared, task kept) and deleting a task leave no `pending_items` of
    its runs: items that waited for detail pages go with the run's other data."""
    for delete_task in (False, True):
        task, run = store.create_task("tn_1", SCHEME, "a" * 32)
        other_task, other = store.create_task("tn_1", SCHEME, "a" * 32)
        assert run is not None and other is not None
        with store.begin() as conn:
            frontier.commit(conn, [], [
                {"id": f"pi_{r['id']}", "run_id": r["id"], "data": {"title": "t"},
                 "links": [["https://example.com/d", "detail", None]]}
                for r in (run, other)], [])
        assert len(frontier.waiting_items(store, run["id"])) == 1
        task_queries.clear(store, task["id"], [run["id"]], delete_task=delete_task)
        assert frontier.waiting_items(store, run["id"]) == []
        assert len(frontier.waiting_items(store, other["id"])) == 1  # another task's stay
        assert (store.get_task(task["id"]) is None) is delete_task
