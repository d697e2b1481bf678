"""Task queries: a task joined with its latest run (`run_<column>` keys), listings, and the
writes that concern the task row itself (clearing its runs, marking it collected)."""

from __future__ import annotations

import functools
import json
import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, String, Text, and_, bindparam, cast, delete, select, update
from sqlalchemy.engine import Row as SqlRow

from engine.store.keys import Key, key_by_hash
from engine.store.status import COMPLETED, INITIALIZED
from engine.store.tables import api_keys, deliveries, runs, tasks

if TYPE_CHECKING:
    from engine.store.store import Store

Row = dict[str, Any]
RUN_COLUMNS = ("status", "error", "requests", "pages", "failed", "queued", "items",
               "started_at", "ended_at", "heartbeat_at", "cancel_requested", "launcher",
               "handle", "failures", "warnings", "result_sizes")


# A lean row's JSON values, as their text (`decode` turns them into values).
LEAN_JSON = ("formats", "run_failures", "run_warnings", "run_result_sizes")
# What a lean row leaves out: what no task object shows (each column is read, hashed and
# compared for every task of a listing: control_api/web/views.py).
NOT_SHOWN = ("scheme", "tenant_id", "run_cancel_requested", "run_launcher", "run_handle")


def _joined(lean: bool = False) -> Select[Any]:
    """Tasks joined with their latest runs. `lean` (the API's reads): with the task's
    `formats` column (all a task object shows of its scheme) and without the scheme, which may
    list thousands of URLs, or any other column no task object shows (NOT_SHOWN); JSON values
    as their text (LEAN_JSON): a lean row is hashable, and the API knows a task object it has
    made before by its row (control_api/web/views.py)."""
    run_columns = [runs.c[name].label(f"run_{name}") for name in RUN_COLUMNS]
    if not lean:
        return select(tasks, *run_columns).join(runs, runs.c.id == tasks.c.run_id,
                                                isouter=True)
    columns = [c for c in [*tasks.c, *run_columns] if c.name not in NOT_SHOWN]
    return select(*(cast(c, Text).label(c.name) if c.name in LEAN_JSON else c for c in columns)
                  ).join(runs, runs.c.id == tasks.c.run_id, isouter=True)


# Built once (`get` is asked after every change a task takes through the API).
_GET = _joined().where(tasks.c.id == bindparam("task_id"),
                       tasks.c.tenant_id == bindparam("tenant_id"))


def decode(row: SqlRow[Any]) -> Row:
    """A lean row as a full row has it: a dict, its JSON values as values."""
    full = row._asdict()
    for name in LEAN_JSON:
        full[name] = None if full[name] is None else json.loads(full[name])
    return full


def joined(task: Row, run: Row) -> Row:
    """A task row as `get` joins it, with `run` (any of its runs) as its latest."""
    return {**task, **{f"run_{c}": run[c] for c in RUN_COLUMNS}, "run_id": run["id"]}


def get(store: Store, tenant_id: str, task_id: str) -> Row | None:
    """The tenant's task joined with its latest run, or None."""
    with store.engine.connect() as conn:
        row = conn.execute(_GET, {"task_id": task_id, "tenant_id": tenant_id}).mappings().first()
    return dict(row) if row else None


# A read by key (the API's hot path): the task joined with its latest run, and with the
# caller's key when it is valid and of the task's tenant. One statement, built once: the key
# check rides on the read, so a revoked key fails on its next request.
_BY_KEY = _joined(lean=True).add_columns(
    api_keys.c.id.label("key_id"), api_keys.c.tenant_id.label("key_tenant_id"),
).join(api_keys, and_(api_keys.c.tenant_id == tasks.c.tenant_id,
                      api_keys.c.key_hash == bindparam("key_hash"),
                      api_keys.c.revoked_at.is_(None))
       ).where(tasks.c.id == bindparam("task_id"))


def get_by_key(store: Store, key_hash: str, task_id: str
               ) -> tuple[Key | None, SqlRow[Any] | None]:
    """The caller's key (None: not valid) and its tenant's task joined with its latest run as
    a lean row (None: no such task for that tenant), in one store round trip (a second
    statement only when the first finds nothing, to tell a bad key from a missing task)."""
    with store.reads.connect() as conn:
        found = conn.execute(_BY_KEY, {"key_hash": key_hash, "task_id": task_id}).first()
        if found is None:
            return key_by_hash(conn, key_hash), None
    return (found.key_id, found.key_tenant_id), found


def list_page_by_key(store: Store, key_hash: str, *, status: str | None, tag: str | None,
                     name: str | None, take: int, start: str | None, order: str
                     ) -> tuple[Key | None, tuple[list[SqlRow[Any]], str | None, str | None]]:
    """The caller's key and, when it is valid, one page of its tenant's tasks as lean rows
    from the cursor `start` (a task id, inclusive), and the cursors of the next and previous
    pages; on one connection."""
    with store.reads.connect() as conn:
        key = key_by_hash(conn, key_hash)
        if key is None:
            return None, ([], None, None)
        page, back = _listing(INITIALIZED if status == INITIALIZED else bool(status),
                              tag is not None, name is not None, order == "asc", bool(start))
        params = {"tenant_id": key[1], "status": status, "tag": tag, "name": name,
                  "start": start, "take": take, "take_one_more": take + 1}
        rows = list(conn.execute(page, params).all())
        previous = None
        if back is not None:  # the previous page's cursor: ids only, from (tenant_id, id)
            before = conn.execute(back, params).scalars().all()
            previous = before[-1] if before else None
    following = rows[take].id if len(rows) > take else None
    return key, (rows[:take], following, previous)


@functools.lru_cache(maxsize=64)
def _listing(status: str | bool, tag: bool, name: bool, forward: bool, start: bool
             ) -> tuple[Select[Any], Select[Any] | None]:
    """A listing's statements by the filters it has (their values are parameters): the page
    (`take` + 1 rows) and, from a cursor, the previous page's ids. Built once each."""
    query = _joined(lean=True).where(tasks.c.tenant_id == bindparam("tenant_id"))
    if status == INITIALIZED:
        query = query.where(tasks.c.run_id.is_(None))
    elif status:
        query = query.where(runs.c.status == bindparam("status"))
    if tag:
        query = query.where(tasks.c.tag == bindparam("tag"))
    if name:
        query = query.where(tasks.c.name == bindparam("name"))
    key, cursor = tasks.c.id, bindparam("start", type_=String)
    page = query.order_by(key if forward else key.desc()).limit(bindparam("take_one_more"))
    if not start:
        return page, None
    page = page.where(key >= cursor if forward else key <= cursor)
    back = (query.with_only_columns(key).order_by(key.desc() if forward else key)
            .limit(bindparam("take")).where(key < cursor if forward else key > cursor))
    return page, back


def ready(store: Store, tenant_id: str, window: float, limit: int) -> list[Row]:
    """Completed tasks not yet collected, finished within `window` seconds, oldest first."""
    query = (
        _joined()
        .where(tasks.c.tenant_id == tenant_id, runs.c.status == COMPLETED,
               tasks.c.collected.is_(False), runs.c.ended_at >= time.time() - window)
        .order_by(runs.c.ended_at)
        .limit(limit)
    )
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def latest_run_id(store: Store, task_id: str) -> tuple[bool, str | None]:
    """Whether the task exists, and its latest run's id."""
    with store.engine.connect() as conn:
        row = conn.execute(select(tasks.c.run_id).where(tasks.c.id == task_id)).first()
    return (False, None) if row is None else (True, row.run_id)


def clear(store: Store, task_id: str, run_ids: list[str], *, delete_task: bool) -> None:
    """Remove the task's runs with all their data (and the task itself when asked)."""
    with store.engine.begin() as conn:
        store.delete_run_data(conn, run_ids)
        conn.execute(delete(runs).where(runs.c.task_id == task_id))
        conn.execute(delete(deliveries).where(deliveries.c.task_id == task_id))
        if delete_task:
            conn.execute(delete(tasks).where(tasks.c.id == task_id))
        else:
            conn.execute(update(tasks).where(tasks.c.id == task_id)
                         .values(run_id=None, collected=False, updated_at=time.time()))


def mark_collected(store: Store, task_id: str, run_id: str | None = None) -> None:
    """The task's results were taken (with `run_id`: only if that run is still its latest)."""
    query = update(tasks).where(tasks.c.id == task_id)
    if run_id is not None:
        query = query.where(tasks.c.run_id == run_id)
    with store.engine.begin() as conn:
        conn.execute(query.values(collected=True))
