"""What the event stream (control_api/web/events.py) reads: every watched task's latest run in
one query, a run's failed pages in a stable order, and which run of a task an endpoint means."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, or_, select

from engine.store.status import GATES_EXHAUSTED, HANDLED, ROBOTS_DENIED
from engine.store.tables import pages, runs, tasks

if TYPE_CHECKING:
    from engine.store.store import Store

Row = dict[str, Any]
WATCH_COLUMNS = ("status", "error", "requests", "pages", "failed", "queued", "items",
                 "started_at", "ended_at")


def watch(store: Store, task_ids: Sequence[str]) -> dict[str, Row]:
    """Each task's id, latest run id and that run's status and counters (`run_<column>`), in
    one query; a deleted task is missing."""
    if not task_ids:
        return {}
    query = (select(tasks.c.id, tasks.c.run_id,
                    *(runs.c[name].label(f"run_{name}") for name in WATCH_COLUMNS))
             .join(runs, runs.c.id == tasks.c.run_id, isouter=True)
             .where(tasks.c.id.in_(list(task_ids))))
    with store.engine.connect() as conn:
        return {row["id"]: dict(row) for row in conn.execute(query).mappings()}


def _failed() -> Any:
    """A failed page, as engine.outcome.failure_key decides (SQL of the same rule)."""
    success = or_(and_(pages.c.http_status >= 200, pages.c.http_status < 300),
                  pages.c.http_status == 304)
    return or_(pages.c.state.in_((ROBOTS_DENIED, GATES_EXHAUSTED)),
               pages.c.error.is_not(None),
               and_(pages.c.http_status.is_not(None), ~success),
               and_(pages.c.state == HANDLED, pages.c.http_status.is_(None)))


def failed_pages(store: Store, task_id: str, run_id: str, offset: int, limit: int) -> list[Row]:
    """The run's failed pages from the `offset`-th on, in the order they failed (last update,
    then id): a page fails once, so the position of a failure never changes."""
    query = (select(pages.c.id, pages.c.url, pages.c.state, pages.c.depth, pages.c.http_status,
                    pages.c.error)
             .where(pages.c.task_id == task_id, pages.c.run_id == run_id, _failed())
             .order_by(pages.c.updated_at, pages.c.id).offset(offset).limit(limit))
    with store.engine.connect() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]


def task_run(store: Store, task_id: str, run_id: str | None = None) -> Row | None:
    """The task's run `run_id`, or its latest run; None when there is none (or `run_id` is not
    one of this task's)."""
    query = select(runs).where(runs.c.task_id == task_id)
    if run_id is None:
        query = query.where(runs.c.id == select(tasks.c.run_id).where(tasks.c.id == task_id)
                            .scalar_subquery())
    else:
        query = query.where(runs.c.id == run_id)
    with store.engine.connect() as conn:
        row = conn.execute(query).mappings().first()
    return dict(row) if row else None
