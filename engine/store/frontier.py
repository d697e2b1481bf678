"""A stored run's frontier: its pages as rows, from Created to a final state (DESIGN.md 7).

    add       new pages, unique by key per run, within limits.max_pages (counted here), and
              (for the crawl that made them) its next batch claimed in the same transaction
    claim     Created -> InProgress, taken by one crawl process (`worker`), a batch at a time
              (an interactive job's pages too: the API adds them, engine/frontier/jobs.py)
    commit    InProgress -> final state, with the page's items, in the caller's transaction
    item_room how many more items limits.max_items lets the run keep (in that transaction)
    release   InProgress -> Created: pages a process took but did not finish (it stopped, or
              died: the launcher releases them for it)

Each write takes the run's row first (an UPDATE): on SQLite that is the one write lock, on
PostgreSQL a row lock, so that processes adding to one run count its budget exactly; claims on
PostgreSQL skip rows other processes hold (`FOR UPDATE SKIP LOCKED`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from engine.store.status import CREATED, IN_PROGRESS
from engine.store.tables import page_bodies, pages, pending_items, runs

if TYPE_CHECKING:
    from engine.store.store import Store

Row = dict[str, Any]
CHUNK = 500  # keys per IN (...) query
REQUEST_COLUMNS = (pages.c.id, pages.c.url, pages.c.depth, pages.c.parent_id, pages.c.page_no,
                   pages.c.follow_depth, pages.c.detail, pages.c.created_at)
JOB_COLUMNS = (page_bodies.c.etag, page_bodies.c.last_modified)
RESULT_COLUMNS = ("state", "http_status", "content_type", "error", "updated_at", "detail_value")


def _lock_run(conn: Connection, run_id: str) -> int:
    """Take the run's row for this transaction; the pages planned so far."""
    conn.execute(update(runs).where(runs.c.id == run_id).values(planned=runs.c.planned))
    return int(conn.execute(select(runs.c.planned).where(runs.c.id == run_id)).scalar() or 0)


def add(store: Store, run_id: str, task_id: str, rows: Sequence[Row], max_pages: int | None,
        claim_for: str | None = None, limit: int = 0) -> tuple[list[Row], list[Row]]:
    """Create pages for `rows` (id, key, url, depth, parent_id, page_no, follow_depth, detail)
    whose key the run has not seen; returns those refused for the budget and, with
    `claim_for` (a worker), up to `limit` Created pages claimed for it in the same transaction
    (a crawl adds what it found and takes its next batch: one write, not two)."""
    fresh: dict[str, Row] = {}
    for row in rows:
        fresh.setdefault(row["key"], row)
    if not fresh and claim_for is None:
        return [], []
    now = time.time()
    with store.engine.begin() as conn:
        planned = _lock_run(conn, run_id)
        keys = list(fresh)
        for start in range(0, len(keys), CHUNK):
            for key in conn.execute(select(pages.c.key).where(
                    pages.c.run_id == run_id, pages.c.key.in_(keys[start:start + CHUNK]))
                    ).scalars():
                fresh.pop(key, None)
        wanted = list(fresh.values())
        room = len(wanted) if max_pages is None else max(0, max_pages - planned)
        created, refused = wanted[:room], wanted[room:]
        if created:
            conn.execute(insert(pages), [
                {**row, "run_id": run_id, "task_id": task_id, "state": CREATED,
                 "created_at": row.get("created_at", now), "updated_at": now}
                for row in created])
            conn.execute(update(runs).where(runs.c.id == run_id)
                         .values(planned=planned + len(created)))
        claimed = _claim(conn, run_id, claim_for, limit) if claim_for is not None else []
    return refused, claimed


def item_room(conn: Connection, run_id: str, max_items: int) -> int:
    """How many more items the run may keep: its row taken for the caller's transaction, so
    processes committing items at once count them exactly (none kept past the limit, and an
    item only counts once committed: a crash in between reserves nothing)."""
    count = runs.c["items"]  # (runs.c.items is the collection's items())
    conn.execute(update(runs).where(runs.c.id == run_id).values(items=count))
    kept = conn.execute(select(count).where(runs.c.id == run_id)).scalar()
    return max(0, max_items - int(kept or 0))


def claim(store: Store, run_id: str, worker: str, limit: int,
          job: str | None = None) -> list[Row]:
    """Up to `limit` Created pages of the run, oldest first, now InProgress for `worker`.

    An interactive job's frontier is the job's (`job`: its task id): the API creates its pages
    under whichever run was active, and a Continue restart makes pages of earlier runs Created
    again; claimed, they move to this run. Its rows carry their cached body's validators
    (`etag`, `last_modified`) for a conditional request."""
    with store.engine.connect() as conn:  # a look first: a poll that finds nothing writes nothing
        look = conn.execute(_CREATED, {"run_id": run_id}) if job is None else \
            conn.execute(select(pages.c.id).where(*_claimable(run_id, job)).limit(1))
        if look.first() is None:
            return []
    with store.engine.begin() as conn:
        if conn.dialect.name != "postgresql":
            _lock_run(conn, run_id)
        return _claim(conn, run_id, worker, limit, job)


def _claim(conn: Connection, run_id: str, worker: str, limit: int,
           job: str | None = None) -> list[Row]:
    """`claim`, in the caller's transaction (on SQLite, one that has taken the run's row)."""
    query = (select(*REQUEST_COLUMNS, *(JOB_COLUMNS if job is not None else ()))
             .select_from(pages.outerjoin(page_bodies, page_bodies.c.page_id == pages.c.id)
                          if job is not None else pages)
             .where(*_claimable(run_id, job))
             .order_by(pages.c.created_at, pages.c.id).limit(limit))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(of=pages, skip_locked=True)
    rows = [dict(r) for r in conn.execute(query).mappings()]
    if rows:
        moved = {"run_id": run_id} if job is not None else {}
        conn.execute(update(pages).where(pages.c.id.in_([r["id"] for r in rows]))
                     .values(state=IN_PROGRESS, worker=worker, updated_at=time.time(),
                             **moved))
    return rows


def _claimable(run_id: str, job: str | None) -> tuple[ColumnElement[bool], ...]:
    """Created pages of the run (of the job's task, for an interactive job)."""
    scope = pages.c.task_id == job if job is not None else pages.c.run_id == run_id
    return pages.c.state == CREATED, scope


def release(target: Store | Connection, run_id: str, worker: str | None = None,
            ids: Sequence[str] | None = None) -> int:
    """Pages of the run InProgress (for `worker`, or for anyone; only `ids` when given) back
    to Created."""
    held = [pages.c.run_id == run_id, pages.c.state == IN_PROGRESS]
    if worker is not None:
        held.append(pages.c.worker == worker)
    if ids is not None:
        held.append(pages.c.id.in_(list(ids)))
    query = update(pages).where(*held)
    if isinstance(target, Connection):
        return int(target.execute(query.values(state=CREATED, worker=None,
                                               updated_at=time.time())).rowcount)
    with target.engine.connect() as conn:  # a look first: (a new run's) nothing writes nothing
        if conn.execute(select(pages.c.id).where(*held).limit(1)).first() is None:
            return 0
    with target.engine.begin() as conn:
        return int(conn.execute(query.values(state=CREATED, worker=None,
                                             updated_at=time.time())).rowcount)


# The scheduler's polls, built once (engine/store/store.py says why).
_CREATED = select(pages.c.id).where(
    pages.c.run_id == bindparam("run_id"), pages.c.state == CREATED).limit(1)
_HELD_BY_OTHERS = select(pages.c.id).where(
    pages.c.run_id == bindparam("run_id"), pages.c.state == IN_PROGRESS,
    pages.c.worker != bindparam("worker")).limit(1)
_OPEN = select(func.count()).where(
    pages.c.run_id == bindparam("run_id"), pages.c.state.in_((CREATED, IN_PROGRESS)))


def waiting(store: Store, run_id: str, worker: str) -> bool:
    """Whether the run has pages to claim, or pages other processes hold (which may add
    more)."""
    with store.engine.connect() as conn:
        if conn.execute(_CREATED, {"run_id": run_id}).first() is not None:
            return True
        return conn.execute(_HELD_BY_OTHERS, {"run_id": run_id, "worker": worker}
                            ).first() is not None


def open_pages(store: Store, run_id: str) -> int:
    """Pages created and not finished yet (waiting or in flight)."""
    with store.engine.connect() as conn:
        return int(conn.execute(_OPEN, {"run_id": run_id}).scalar_one())


def commit(conn: Connection, page_rows: Sequence[Row], pending_rows: Sequence[Row],
           resolved: Sequence[str]) -> None:
    """Finished pages (their outcome, and a detail page's fields), the items that wait for
    detail pages, and the waiting items that became items: in the caller's transaction, with
    the items themselves."""
    if page_rows:
        conn.execute(
            update(pages).where(pages.c.id == bindparam("b_id"))
            .values(**{name: bindparam(f"b_{name}") for name in RESULT_COLUMNS}),
            [{"b_id": row["id"], **{f"b_{n}": row.get(n) for n in RESULT_COLUMNS}}
             for row in page_rows])
    if pending_rows:
        conn.execute(insert(pending_items), list(pending_rows))
    if resolved:
        conn.execute(delete(pending_items).where(pending_items.c.id.in_(list(resolved))))


def waiting_items(store: Store, run_id: str) -> list[Row]:
    """Items of the run that wait for detail pages (to carry on after a restart)."""
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(
            select(pending_items).where(pending_items.c.run_id == run_id)).mappings()]


def detail_values(store: Store, run_id: str) -> list[Row]:
    """The handled detail pages of the run: url, field and the fields found there."""
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(
            select(pages.c.url, pages.c.detail, pages.c.detail_value)
            .where(pages.c.run_id == run_id, pages.c.detail.is_not(None),
                   pages.c.state.not_in((CREATED, IN_PROGRESS)))).mappings()]
