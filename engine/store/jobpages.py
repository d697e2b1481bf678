"""Download tasks of interactive jobs (API.md section 4) as the crawl process sees them.

The API creates a job's pages in state `Created`: they are the job's frontier, claimed
(`InProgress`, with its run id) by the same query as a stored run's (`frontier.claim`). When
they finish, the crawl updates those same rows in place: the new attempts replace the earlier
ones, a new body replaces the cached one, and a 304 keeps it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from engine.store.runs import transaction
from engine.store.status import ACTIVE_STATUSES, QUEUED
from engine.store.tables import download_infos, page_bodies, pages, runs

if TYPE_CHECKING:
    from engine.store.store import Store

Row = dict[str, Any]
CREATED = "Created"
IN_PROGRESS = "InProgress"
NOT_MODIFIED = 304


def runs_waiting(store: Store) -> bool:
    """Whether queued runs wait that no launcher took (it had no free process for them)."""
    with store.engine.connect() as conn:
        return conn.execute(
            select(runs.c.id).where(runs.c.status == QUEUED, runs.c.launcher.is_(None))
            .limit(1)
        ).first() is not None


def release_orphans(target: Store | Connection, task_id: str, run_id: str | None = None) -> int:
    """Pages left InProgress by runs that are over (or by `run_id`, which is) back to Created."""
    active = select(runs.c.id).where(runs.c.task_id == task_id,
                                     runs.c.status.in_(ACTIVE_STATUSES))
    query = update(pages).where(pages.c.task_id == task_id, pages.c.state == IN_PROGRESS)
    if run_id is not None:
        query = query.where(pages.c.run_id == run_id)
    else:
        query = query.where(pages.c.run_id.not_in(active))
    with transaction(target) as conn:
        return int(conn.execute(query.values(state=CREATED, updated_at=time.time())).rowcount)


def write(conn: Connection, page_rows: Sequence[Row], info_rows: Sequence[Row],
          body_rows: Sequence[Row]) -> None:
    """A job run's finished pages: only rows this run claimed (a page deleted or given to
    another run meanwhile is left alone)."""
    done: dict[str, Row] = {}
    for row in page_rows:
        values = {k: row[k] for k in ("state", "http_status", "error", "updated_at")}
        if row["http_status"] != NOT_MODIFIED:  # a 304 has no content type of its own
            values["content_type"] = row["content_type"]
        changed = conn.execute(
            update(pages).where(pages.c.id == row["id"], pages.c.run_id == row["run_id"],
                                pages.c.state == IN_PROGRESS).values(**values)
        ).rowcount
        if changed:
            done[row["id"]] = row
    if not done:
        return
    conn.execute(delete(download_infos).where(download_infos.c.page_id.in_(list(done))))
    infos = [r for r in info_rows if r["page_id"] in done]
    if infos:
        conn.execute(insert(download_infos), infos)
    # A new response replaces the cached body; a 304 or a failure keeps it.
    bodies = [r for r in body_rows
              if r["page_id"] in done and done[r["page_id"]]["http_status"] != NOT_MODIFIED]
    replaced = [pid for pid, row in done.items()
                if row["http_status"] is not None and 200 <= row["http_status"] < 300]
    stale = list({*replaced, *(r["page_id"] for r in bodies)})
    if stale:
        conn.execute(delete(page_bodies).where(page_bodies.c.page_id.in_(stale)))
    if bodies:
        conn.execute(insert(page_bodies), bodies)
