"""Webhook deliveries, one row per attempt (control_api/background/deliveries.py decides
what to send and when; control_api/background/webhooks.py sends). Pending rows live here so
that retries survive a restart, and servers sharing a store never send the same attempt twice."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, exists, insert, or_, select, update

from engine.ids import new_id
from engine.store.status import TERMINAL_STATUSES
from engine.store.tables import deliveries, runs, tasks

if TYPE_CHECKING:
    from engine.store.store import Store

Row = dict[str, Any]


def add_for_run(store: Store, run_id: str, rows: Sequence[Row]) -> int:
    """Queue a run's deliveries, each with a new delivery id; none when the run has some
    already (idempotent). Returns how many were queued."""
    with store.engine.begin() as conn:
        if conn.execute(select(deliveries.c.id).where(deliveries.c.run_id == run_id)
                        .limit(1)).first() is not None:
            return 0
        for row in rows:
            conn.execute(insert(deliveries).values(delivery_id=new_id("d"), **row))
    return len(rows)


def missed_runs(store: Store, window: float) -> list[str]:
    """Each task's latest run, ended within `window` seconds, whose task wants webhooks and
    which has no deliveries yet."""
    has_hook = or_(tasks.c.callback_url.isnot(None), tasks.c.pingback_url.isnot(None),
                   tasks.c.postback_url.isnot(None))
    with store.engine.connect() as conn:
        return list(conn.execute(
            select(runs.c.id).join(tasks, tasks.c.run_id == runs.c.id)
            .where(runs.c.status.in_(TERMINAL_STATUSES),
                   runs.c.ended_at >= time.time() - window, has_hook,
                   ~exists().where(deliveries.c.run_id == runs.c.id))
        ).scalars())


def claim_due(store: Store, limit: int, lease: float) -> list[Row]:
    """Take up to `limit` attempts that are due: pending ones, and ones another server took
    but never finished (its lease ran out, e.g. it was killed mid-send). Compare-and-set on
    (state, next_attempt_at) so two servers never take the same row."""
    now = time.time()
    due = or_(deliveries.c.state == "pending", deliveries.c.state == "sending")
    with store.engine.connect() as conn:
        candidates = conn.execute(
            select(deliveries).where(due, deliveries.c.next_attempt_at <= now)
            .order_by(deliveries.c.next_attempt_at).limit(limit)
        ).mappings().all()
    claimed = []
    for row in candidates:
        with store.engine.begin() as conn:
            taken = conn.execute(
                update(deliveries)
                .where(and_(deliveries.c.id == row["id"], deliveries.c.state == row["state"],
                            deliveries.c.next_attempt_at == row["next_attempt_at"]))
                .values(state="sending", next_attempt_at=now + lease)
            ).rowcount
        if taken:
            claimed.append(dict(row))
    return claimed


def record(store: Store, row: Row, *, state: str, status_code: int | None, error: str | None,
           at: float, next_at: float | None, collected: bool) -> bool:
    """Store an attempt's outcome; with `next_at`, queue the next attempt; with `collected`,
    mark the task collected if it still shows the attempt's run. False when the row is gone
    (the task was deleted meanwhile)."""
    with store.engine.begin() as conn:
        kept = conn.execute(update(deliveries).where(deliveries.c.id == row["id"]).values(
            state=state, status_code=status_code, error=error, at=at, next_attempt_at=next_at))
        if not kept.rowcount:
            return False
        if next_at is not None:
            following = {k: v for k, v in row.items() if k != "id"}
            conn.execute(insert(deliveries).values(
                **{**following, "attempt": row["attempt"] + 1, "state": "pending",
                   "status_code": None, "error": None, "at": None, "next_attempt_at": next_at}))
        if collected:
            conn.execute(update(tasks).where(tasks.c.id == row["task_id"],
                                             tasks.c.run_id == row["run_id"])
                         .values(collected=True))
    return True


def for_task(store: Store, task_id: str) -> list[Row]:
    """The task's attempts, oldest first."""
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(
            select(deliveries).where(deliveries.c.task_id == task_id)
            .order_by(deliveries.c.id)).mappings()]
