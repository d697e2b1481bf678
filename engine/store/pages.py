"""Listing a task's download tasks (its pages), newest run only for a crawl task."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from engine.store.tables import pages

if TYPE_CHECKING:
    from engine.store.store import Store

Row = dict[str, Any]


def list_page(store: Store, task_id: str, *, run_id: str | None, state: str | None, take: int,
              start: str | None) -> tuple[list[Row], str | None, str | None]:
    """One page of the task's download tasks (of run `run_id` only, when given) from the cursor
    `start` (a page id, inclusive), in creation order, and the next and previous cursors."""
    query = select(pages.c.id, pages.c.url, pages.c.state, pages.c.depth, pages.c.parent_id,
                   pages.c.http_status, pages.c.error).where(pages.c.task_id == task_id)
    if run_id is not None:
        query = query.where(pages.c.run_id == run_id)
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
