"""Task queries and the task object of API.md section 2 (synchronous; the API runs these in
its thread pool). A task's status and counters are those of its latest run."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Select, delete, func, select, update

from control_api import results
from control_api.errors import Conflict, TaskNotFound
from engine.store import ACTIVE_STATUSES, TERMINAL_STATUSES, Row, Store
from engine.store.tables import deliveries, pages, runs, tasks

READY_WINDOW = 3 * 24 * 3600
READY_LIMIT = 1000
RUN_COLUMNS = ("status", "error", "requests", "pages", "failed", "queued", "items",
               "started_at", "ended_at", "heartbeat_at", "cancel_requested", "launcher",
               "handle")


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def _joined() -> Select[Any]:
    return select(tasks, *(runs.c[name].label(f"run_{name}") for name in RUN_COLUMNS)).join(
        runs, runs.c.id == tasks.c.run_id, isouter=True)


def status_of(row: Row) -> str:
    return row["run_status"] or "initialized"


def get(store: Store, tenant_id: str, task_id: str, data_dir: Path | None = None) -> Row:
    """The task joined with its latest run (404 for another tenant's task); with `data_dir`,
    the files of an ended run are rendered first, so that its view can show their sizes."""
    with store.engine.connect() as conn:
        row = conn.execute(
            _joined().where(tasks.c.id == task_id, tasks.c.tenant_id == tenant_id)
        ).mappings().first()
    if row is None:
        raise TaskNotFound(task_id)
    if data_dir is not None:
        results.ensure(store, data_dir, [dict(row)])
    return dict(row)


def view(row: Row, base_url: str, data_dir: Path) -> dict[str, Any]:
    """The task object: every key always present, null where unknown."""
    started, ended = row["run_started_at"], row["run_ended_at"]
    # The task or its run changed last: crawl processes write the run, not the task.
    updated = max(t for t in (row["updated_at"], started, ended, row["run_heartbeat_at"])
                  if t is not None)
    status = status_of(row)
    elapsed = None
    if started is not None:
        elapsed = round((ended if ended is not None else time.time()) - started, 3)
    result_list = []
    if status in TERMINAL_STATUSES:
        for fmt in row["scheme"].get("formats", ["jsonl"]):
            result_list.append({
                "format": fmt,
                "file_url": f"{base_url}/v1/tasks/{row['id']}/store?format={fmt}",
                "quantity": row["run_items"],
                "size": results.file_size(data_dir, row["run_id"], fmt),
            })
    return {
        "id": row["id"],
        "name": row["name"],
        "tag": row["tag"],
        "status": status,
        "payload_id": row["payload_id"],
        "requests": row["run_requests"],
        "pages": row["run_pages"],
        "items": row["run_items"],
        "file_size": result_list[0]["size"] if result_list else None,
        "progress": {"done": row["run_pages"] or 0, "queued": row["run_queued"] or 0,
                     "failed": row["run_failed"] or 0},
        "error": row["run_error"],
        "created_at": iso(row["created_at"]),
        "started_at": iso(started),
        "ended_at": iso(ended),
        "updated_at": iso(updated),
        "elapsed": elapsed,
        "results": result_list,
        "collected": bool(row["collected"]),
        "callback_url": row["callback_url"],
        "pingback_url": row["pingback_url"],
        "postback_url": row["postback_url"],
        "postback_format": row["postback_format"],
    }


def list_page(store: Store, tenant_id: str, *, status: str | None, tag: str | None,
              name: str | None, take: int, start: str | None, order: str,
              data_dir: Path | None = None) -> tuple[list[Row], str | None, str | None]:
    """One page of tasks from the cursor `start` (a task id, inclusive), and the cursors of the
    next and previous pages."""
    query = _joined().where(tasks.c.tenant_id == tenant_id)
    if status == "initialized":
        query = query.where(tasks.c.run_id.is_(None))
    elif status:
        query = query.where(runs.c.status == status)
    if tag is not None:
        query = query.where(tasks.c.tag == tag)
    if name is not None:
        query = query.where(tasks.c.name == name)
    forward = order == "asc"
    key = tasks.c.id
    with store.engine.connect() as conn:
        page_query = query.order_by(key if forward else key.desc()).limit(take + 1)
        if start:
            page_query = page_query.where(key >= start if forward else key <= start)
        rows = [dict(r) for r in conn.execute(page_query).mappings()]
        previous = None
        if start:
            back = query.order_by(key.desc() if forward else key).limit(take)
            back = back.where(key < start if forward else key > start)
            before = conn.execute(back).mappings().all()
            previous = before[-1]["id"] if before else None
    following = rows[take]["id"] if len(rows) > take else None
    if data_dir is not None:
        results.ensure(store, data_dir, rows[:take])
    return rows[:take], following, previous


def ready(store: Store, tenant_id: str, data_dir: Path | None = None) -> list[Row]:
    """Completed tasks not yet collected, finished within the last 3 days, oldest first."""
    query = (
        _joined()
        .where(tasks.c.tenant_id == tenant_id, runs.c.status == "completed",
               tasks.c.collected.is_(False), runs.c.ended_at >= time.time() - READY_WINDOW)
        .order_by(runs.c.ended_at)
        .limit(READY_LIMIT)
    )
    with store.engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(query).mappings()]
    if data_dir is not None:
        results.ensure(store, data_dir, rows)
    return rows


def queue_run(store: Store, tenant_id: str, task_id: str) -> Row:
    """Queue a new run unless one is queued or running (409)."""
    row = get(store, tenant_id, task_id)
    if status_of(row) in ACTIVE_STATUSES:
        raise Conflict(f"task {task_id} is already {status_of(row)}")
    store.queue_run(task_id)
    return get(store, tenant_id, task_id)


def cancel_run(store: Store, tenant_id: str, task_id: str, *, strict: bool = True) -> Row | None:
    """Mark the active run cancelled (its data is kept); returns the run, or None if there was
    no active run (409 when `strict`)."""
    row = get(store, tenant_id, task_id)
    if status_of(row) not in ACTIVE_STATUSES:
        if strict:
            raise Conflict(f"task {task_id} is {status_of(row)}, not queued or running")
        return None
    now = time.time()
    changed = store.update_run(row["run_id"], only_if=ACTIVE_STATUSES, status="cancelled",
                               cancel_requested=True, ended_at=now)
    if not changed and strict:  # it finished meanwhile
        raise Conflict(f"task {task_id} is no longer running")
    return store.get_run(row["run_id"])


def run_ids(store: Store, task_id: str) -> list[str]:
    with store.engine.connect() as conn:
        return list(conn.execute(select(runs.c.id).where(runs.c.task_id == task_id)).scalars())


def clear(store: Store, task_id: str, *, delete_task: bool) -> list[str]:
    """Remove every run of the task with all its data (and the task itself when asked)."""
    ids = run_ids(store, task_id)
    with store.begin() as conn:
        store.delete_run_data(conn, ids)
        conn.execute(delete(runs).where(runs.c.task_id == task_id))
        conn.execute(delete(deliveries).where(deliveries.c.task_id == task_id))
        if delete_task:
            conn.execute(delete(tasks).where(tasks.c.id == task_id))
        else:
            conn.execute(update(tasks).where(tasks.c.id == task_id)
                         .values(run_id=None, collected=False, updated_at=time.time()))
    return ids


def results_run(store: Store, tenant_id: str, task_id: str) -> tuple[Row, Row]:
    """The task, and its latest run that has ended, whose results `store` serves (409 if none
    has)."""
    task = get(store, tenant_id, task_id)
    with store.engine.connect() as conn:
        run = conn.execute(
            select(runs).where(runs.c.task_id == task_id, runs.c.status.in_(TERMINAL_STATUSES))
            .order_by(runs.c.queued_at.desc()).limit(1)
        ).mappings().first()
    if run is None:
        raise Conflict(f"task {task_id} has no results yet")
    return task, dict(run)


def mark_collected(store: Store, task_id: str) -> None:
    with store.begin() as conn:
        conn.execute(update(tasks).where(tasks.c.id == task_id).values(collected=True))


def list_pages(store: Store, tenant_id: str, task_id: str, *, state: str | None, take: int,
               start: str | None) -> tuple[list[Row], str | None, str | None]:
    """One page of download tasks from the cursor `start` (a page id, inclusive), in creation
    order, and the cursors of the next and previous pages."""
    row = get(store, tenant_id, task_id)
    query = select(pages.c.id, pages.c.url, pages.c.state, pages.c.depth, pages.c.parent_id,
                   pages.c.http_status).where(pages.c.task_id == task_id)
    if row["run_id"] and row["kind"] == "crawl":
        query = query.where(pages.c.run_id == row["run_id"])
    if state:
        query = query.where(func.lower(pages.c.state) == state.lower())
    with store.engine.connect() as conn:
        forward = query.where(pages.c.id >= start) if start else query
        rows = [dict(r) for r in conn.execute(forward.order_by(pages.c.id).limit(take + 1))
                .mappings()]
        before = conn.execute(query.where(pages.c.id < start).order_by(pages.c.id.desc())
                              .limit(take)).mappings().all() if start else []
    previous = before[-1]["id"] if before else None
    return rows[:take], (rows[take]["id"] if len(rows) > take else None), previous


def orphaned_runs(store: Store, launcher: str) -> list[Row]:
    """Active runs that a launcher had taken: to adopt or settle after a restart."""
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(
            select(runs).where(runs.c.launcher == launcher,
                               runs.c.status.in_(ACTIVE_STATUSES))).mappings()]
