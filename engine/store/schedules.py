"""Scheduled crawls' rows (control_api/web/schedules.py has the cron logic and the clock)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select, update

from engine.store.tables import schedules

if TYPE_CHECKING:
    from engine.store.store import Store

Row = dict[str, Any]


def add(store: Store, row: Row) -> None:
    with store.engine.begin() as conn:
        conn.execute(insert(schedules).values(**row))


def get(store: Store, tenant_id: str, schedule_id: str) -> Row | None:
    with store.engine.connect() as conn:
        row = conn.execute(select(schedules).where(
            schedules.c.id == schedule_id, schedules.c.tenant_id == tenant_id)).mappings().first()
    return dict(row) if row else None


def list_all(store: Store, tenant_id: str) -> list[Row]:
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(
            select(schedules).where(schedules.c.tenant_id == tenant_id)
            .order_by(schedules.c.created_at, schedules.c.id)).mappings()]


def remove(store: Store, schedule_id: str) -> None:
    with store.engine.begin() as conn:
        conn.execute(delete(schedules).where(schedules.c.id == schedule_id))


def due(store: Store, now: float) -> list[Row]:
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(
            select(schedules).where(schedules.c.next_at <= now)
            .order_by(schedules.c.next_at)).mappings()]


def take(store: Store, row: Row, following: float, now: float) -> bool:
    """Move a due schedule on to its next time, unless another server did first (compare and
    set on `next_at`) or it was deleted; True when this caller fires it."""
    with store.engine.begin() as conn:
        return bool(conn.execute(
            update(schedules)
            .where(schedules.c.id == row["id"], schedules.c.next_at == row["next_at"])
            .values(next_at=following, last_at=now)
        ).rowcount)


def fired(store: Store, schedule_id: str, run_id: str | None, error: str | None) -> None:
    """What a firing did: the run it queued, or why it queued none."""
    values: dict[str, Any] = {"last_error": error}
    if run_id is not None:
        values.update(last_run_id=run_id, fired=schedules.c.fired + 1)
    with store.engine.begin() as conn:
        conn.execute(update(schedules).where(schedules.c.id == schedule_id).values(**values))
