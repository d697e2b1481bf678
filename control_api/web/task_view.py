"""Task queries and the task object of API.md section 2 (synchronous; the API runs these in
its thread pool). A task's status and counters are those of its latest run. The SQL is in
`engine.store.tasks`; this module adds the API's errors and the task object."""

from __future__ import annotations

import functools
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Row as SqlRow

from control_api import results
from control_api.web.errors import Conflict, TaskNotFound
from engine.outcome import page_error
from engine.store import Row, Store, runs
from engine.store import pages as page_queries
from engine.store import tasks as task_queries
from engine.store.keys import Key
from engine.store.status import ACTIVE_STATUSES, INITIALIZED, PAUSED, TERMINAL_STATUSES
from engine.store.tasks import RUN_COLUMNS

__all__ = ["RUN_COLUMNS", "cancel_run", "clear", "get", "get_by_key", "iso",
           "list_pages", "mark_collected", "queue_run", "ready", "results_run", "status_of", "view"]
READY_WINDOW = 3 * 24 * 3600
READY_LIMIT = 1000


@functools.lru_cache(maxsize=8192)  # a listing polled again shows the same times (2 µs each)
def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def status_of(row: Row) -> str:
    return row["run_status"] or INITIALIZED


def get_by_key(store: Store, key_hash: str, task_id: str
               ) -> tuple[Key | None, SqlRow[Any] | None]:
    """The caller's key (None: not valid, 401) and the task as `get` has it (None: 404), for
    the caller whose key hashes to `key_hash`, in one store round trip."""
    return task_queries.get_by_key(store, key_hash, task_id)


def get(store: Store, tenant_id: str, task_id: str) -> Row:
    """The task joined with its latest run (404 for another tenant's task). A read: it never
    renders results (the run's end does, or `/store` on demand)."""
    row = task_queries.get(store, tenant_id, task_id)
    if row is None:
        raise TaskNotFound(task_id)
    return row


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
        # Sizes as recorded on the run by whoever rendered its files (engine/results.py); a
        # stat only for runs rendered before the store kept them (or not rendered yet).
        sizes = row.get("run_result_sizes")
        for fmt in row["formats"] or ["jsonl"]:
            result_list.append({
                "format": fmt,
                "file_url": f"{base_url}/v1/tasks/{row['id']}/store?format={fmt}",
                "quantity": row["run_items"],
                "size": sizes.get(fmt) if sizes is not None
                else results.file_size(data_dir, row["run_id"], fmt),
            })
    return {
        "id": row["id"],
        "name": row["name"],
        "tag": row["tag"],
        "status": status,
        "kind": "job" if row["kind"] == "job" else "task",  # the store's "crawl" is a task
        "run_id": row["run_id"],
        "payload_id": row["payload_id"],
        "requests": row["run_requests"],
        "pages": row["run_pages"],
        "items": row["run_items"],
        "file_size": result_list[0]["size"] if result_list else None,
        "progress": {"done": row["run_pages"] or 0, "queued": row["run_queued"] or 0,
                     "failed": row["run_failed"] or 0},
        "error": row["run_error"],
        "failures": row["run_failures"] or {},
        "warnings": row["run_warnings"] or [],
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


def ready(store: Store, tenant_id: str) -> list[Row]:
    """Completed tasks not yet collected, finished within the last 3 days, oldest first."""
    return task_queries.ready(store, tenant_id, READY_WINDOW, READY_LIMIT)


def queue_run(store: Store, tenant_id: str, task_id: str) -> Row:
    """Queue a new run unless one is queued or running (409)."""
    row = get(store, tenant_id, task_id)
    if status_of(row) in (*ACTIVE_STATUSES, PAUSED):
        raise Conflict(f"task {task_id} is already {status_of(row)}"
                       + (" (resume it, or restart it with PUT)" if status_of(row) == PAUSED
                          else ""))
    store.queue_run(task_id)
    return get(store, tenant_id, task_id)


def pause_run(store: Store, tenant_id: str, task_id: str) -> Row:
    """Pause the queued or running run (409 otherwise); returns the run."""
    row = get(store, tenant_id, task_id)
    if status_of(row) not in ACTIVE_STATUSES or not runs.pause(store, row["run_id"]):
        raise Conflict(f"task {task_id} is {status_of(get(store, tenant_id, task_id))}, "
                       "not queued or running")
    run = store.get_run(row["run_id"])
    assert run is not None
    return run


def resume_run(store: Store, tenant_id: str, task_id: str) -> Row:
    """Queue the paused run again (409 unless paused); returns the task."""
    row = get(store, tenant_id, task_id)
    if status_of(row) != PAUSED or not runs.resume(store, row["run_id"]):
        raise Conflict(f"task {task_id} is {status_of(get(store, tenant_id, task_id))}, "
                       "not paused")
    return get(store, tenant_id, task_id)


def cancel_run(store: Store, tenant_id: str, task_id: str, *, strict: bool = True) -> Row | None:
    """Mark the active run cancelled (its data is kept); returns the run, or None if there was
    no active run (409 when `strict`)."""
    row = get(store, tenant_id, task_id)
    if status_of(row) not in ACTIVE_STATUSES:
        if strict:
            raise Conflict(f"task {task_id} is {status_of(row)}, not queued or running")
        return None
    changed = runs.cancel(store, row["run_id"])
    if not changed and strict:  # it finished meanwhile
        raise Conflict(f"task {task_id} is no longer running")
    return store.get_run(row["run_id"])


def clear(store: Store, task_id: str, *, delete_task: bool) -> list[str]:
    """Remove every run of the task with all its data (and the task itself when asked)."""
    ids = runs.run_ids(store, task_id)
    task_queries.clear(store, task_id, ids, delete_task=delete_task)
    return ids


def results_run(store: Store, tenant_id: str, task_id: str) -> tuple[Row, Row]:
    """The task, and its latest run that has ended, whose results `store` serves (409 if none
    has)."""
    task = get(store, tenant_id, task_id)
    run = runs.latest_ended(store, task_id)
    if run is None:
        raise Conflict(f"task {task_id} has no results yet")
    return task, run


def mark_collected(store: Store, task_id: str) -> None:
    task_queries.mark_collected(store, task_id)


def list_pages(store: Store, tenant_id: str, task_id: str, *, state: str | None, take: int,
               start: str | None) -> tuple[list[Row], str | None, str | None]:
    """One page of download tasks from the cursor `start` (a page id, inclusive), in creation
    order, and the cursors of the next and previous pages (a crawl task: its latest run's)."""
    row = get(store, tenant_id, task_id)
    run_id = row["run_id"] if row["run_id"] and row["kind"] == "crawl" else None
    rows, following, previous = page_queries.list_page(store, task_id, run_id=run_id,
                                                       state=state, take=take, start=start)
    return [{**r, "error": page_error(r)} for r in rows], following, previous
