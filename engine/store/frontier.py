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

import functools
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, Update, bindparam, delete, func, insert, select, update
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


# The statements every page of a crawl goes through, and the scheduler's polls, built once
# with bound parameters: building one (and its cache key) cost more than running it
# (engine/store/store.py).
_OF_RUN = runs.c.id == bindparam("run_id")
_RUN_PAGES = pages.c.run_id == bindparam("run_id")
_LOCK = update(runs).where(_OF_RUN).values(planned=runs.c.planned)
_PLANNED = select(runs.c.planned).where(_OF_RUN)
_SET_PLANNED = update(runs).where(_OF_RUN).values(planned=bindparam("v_planned"))
_KNOWN = select(pages.c.key).where(_RUN_PAGES, pages.c.key.in_(bindparam("keys", expanding=True)))
_TAKE = update(pages).where(pages.c.id.in_(bindparam("ids", expanding=True))).values(
    state=IN_PROGRESS, worker=bindparam("v_worker"), updated_at=bindparam("v_updated_at"))
_ITEMS = runs.c["items"]  # (runs.c.items is the collection's items())
_LOCK_ITEMS = update(runs).where(_OF_RUN).values(items=_ITEMS)
_KEPT_ITEMS = select(_ITEMS).where(_OF_RUN)
_FINISH_PAGE = update(pages).where(pages.c.id == bindparam("b_id")).values(
    **{name: bindparam(f"b_{name}") for name in RESULT_COLUMNS})
_CREATED = select(pages.c.id).where(_RUN_PAGES, pages.c.state == CREATED).limit(1)
_HELD_BY_OTHERS = select(pages.c.id).where(
    _RUN_PAGES, pages.c.state == IN_PROGRESS, pages.c.worker != bindparam("worker")).limit(1)
_OPEN = select(func.count()).where(_RUN_PAGES, pages.c.state.in_((CREATED, IN_PROGRESS)))


def _lock_run(conn: Connection, run_id: str) -> int:
    """Take the run's row for this transaction; the pages planned so far."""
    conn.execute(_LOCK, {"run_id": run_id})
    return int(conn.execute(_PLANNED, {"run_id": run_id}).scalar() or 0)


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
            for key in conn.execute(_KNOWN, {"run_id": run_id,
                                             "keys": keys[start:start + CHUNK]}).scalars():
                fresh.pop(key, None)
        wanted = list(fresh.values())
        room = len(wanted) if max_pages is None else max(0, max_pages - planned)
        created, refused = wanted[:room], wanted[room:]
        if created:
            conn.execute(insert(pages), [
                {**row, "run_id": run_id, "task_id": task_id, "state": CREATED,
                 "created_at": row.get("created_at", now), "updated_at": now}
                for row in created])
            conn.execute(_SET_PLANNED, {"run_id": run_id, "v_planned": planned + len(created)})
        claimed = _claim(conn, run_id, claim_for, limit) if claim_for is not None else []
    return refused, claimed


def item_room(conn: Connection, run_id: str, max_items: int) -> int:
    """How many more items the run may keep: its row taken for the caller's transaction, so
    processes committing items at once count them exactly (none kept past the limit, and an
    item only counts once committed: a crash in between reserves nothing)."""
    conn.execute(_LOCK_ITEMS, {"run_id": run_id})
    kept = conn.execute(_KEPT_ITEMS, {"run_id": run_id}).scalar()
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
            conn.execute(select(pages.c.id).where(*_job_pages(job)).limit(1))
        if look.first() is None:
            return []
    with store.engine.begin() as conn:
        if conn.dialect.name != "postgresql":
            _lock_run(conn, run_id)
        return _claim(conn, run_id, worker, limit, job)


def _claim(conn: Connection, run_id: str, worker: str, limit: int,
           job: str | None = None) -> list[Row]:
    """`claim`, in the caller's transaction (on SQLite, one that has taken the run's row)."""
    query = _claimable(job is not None, conn.dialect.name == "postgresql")
    rows = [dict(r) for r in conn.execute(query, {"run_id": run_id, "job": job,
                                                  "limit": limit}).mappings()]
    if rows:
        ids, now = [r["id"] for r in rows], time.time()
        if job is None:
            conn.execute(_TAKE, {"ids": ids, "v_worker": worker, "v_updated_at": now})
        else:  # (its pages move to this run)
            conn.execute(update(pages).where(pages.c.id.in_(ids)).values(
                state=IN_PROGRESS, worker=worker, updated_at=now, run_id=run_id))
    return rows


def _job_pages(job: str | ColumnElement[Any]) -> tuple[ColumnElement[bool], ...]:
    """An interactive job's Created pages (those of its task, whichever run made them)."""
    return pages.c.state == CREATED, pages.c.task_id == job


@functools.lru_cache(maxsize=4)
def _claimable(job: bool, postgresql: bool) -> Select[Any]:
    """The oldest Created pages of the run (`run_id`), or of an interactive job (`job`: its
    task id, with its cached body's validators), `limit` of them; built once per kind."""
    query = (select(*REQUEST_COLUMNS, *(JOB_COLUMNS if job else ()))
             .select_from(pages.outerjoin(page_bodies, page_bodies.c.page_id == pages.c.id)
                          if job else pages)
             .where(*_job_pages(bindparam("job")) if job else
                    (pages.c.state == CREATED, _RUN_PAGES))
             .order_by(pages.c.created_at, pages.c.id).limit(bindparam("limit")))
    if postgresql:
        query = query.with_for_update(of=pages, skip_locked=True)
    return query


def release(target: Store | Connection, run_id: str, worker: str | None = None,
            ids: Sequence[str] | None = None) -> int:
    """Pages of the run InProgress (for `worker`, or for anyone; only `ids` when given) back
    to Created."""
    look, give_back = _held(worker is not None, ids is not None)
    params = {"p_run_id": run_id, "p_worker": worker, "p_ids": None if ids is None else list(ids)}
    if isinstance(target, Connection):
        return int(target.execute(give_back, {**params, "v_updated_at": time.time()}).rowcount)
    with target.engine.connect() as conn:  # a look first: (a new run's) nothing writes nothing
        if conn.execute(look, params).first() is None:
            return 0
    with target.engine.begin() as conn:
        return int(conn.execute(give_back, {**params, "v_updated_at": time.time()}).rowcount)


@functools.lru_cache(maxsize=4)
def _held(by_worker: bool, by_ids: bool) -> tuple[Select[Any], Update]:
    """`release`'s look and its write, for the conditions it has (built once each)."""
    # (an UPDATE's parameters are not named as its table's columns)
    held = [pages.c.run_id == bindparam("p_run_id"), pages.c.state == IN_PROGRESS]
    if by_worker:
        held.append(pages.c.worker == bindparam("p_worker"))
    if by_ids:
        held.append(pages.c.id.in_(bindparam("p_ids", expanding=True)))
    return (select(pages.c.id).where(*held).limit(1),
            update(pages).where(*held).values(state=CREATED, worker=None,
                                              updated_at=bindparam("v_updated_at")))


def waiting(store: Store, run_id: str, worker: str) -> bool:
    """Whether the run has pages to claim, or pages other processes hold (which may add
    more)."""
    with store.engine.connect() as conn:
        if conn.execute(_CREATED, {"run_id": run_id}).first() is not None:
            return True
        return conn.execute(_HELD_BY_OTHERS, {"run_id": run_id, "worker": worker}
                            ).first() is not None


def open_pages(target: Store | Connection, run_id: str) -> int:
    """Pages created and not finished yet (waiting or in flight)."""
    if isinstance(target, Connection):
        return int(target.execute(_OPEN, {"run_id": run_id}).scalar_one())
    with target.engine.connect() as conn:
        return int(conn.execute(_OPEN, {"run_id": run_id}).scalar_one())


def commit(conn: Connection, page_rows: Sequence[Row], pending_rows: Sequence[Row],
           resolved: Sequence[str]) -> None:
    """Finished pages (their outcome, and a detail page's fields), the items that wait for
    detail pages, and the waiting items that became items: in the caller's transaction, with
    the items themselves."""
    if page_rows:
        conn.execute(_FINISH_PAGE, [{"b_id": row["id"], **{f"b_{n}": row.get(n)
                                                           for n in RESULT_COLUMNS}}
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
