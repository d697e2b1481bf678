"""The sizes of a run's results files, kept on the run (`runs.result_sizes`, {format: bytes})
by whoever renders them (engine/results.py), so that reading a task never stats a file."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select, update

from engine.store.tables import runs

if TYPE_CHECKING:
    from engine.store.store import Store


def record(store: Store, run_id: str, sizes: dict[str, int]) -> None:
    """Merge `sizes` into the run's recorded sizes (one transaction)."""
    with store.engine.begin() as conn:
        current = conn.execute(select(runs.c.result_sizes)
                               .where(runs.c.id == run_id)).scalar()
        merged = {**(current or {}), **sizes}
        conn.execute(update(runs).where(runs.c.id == run_id).values(result_sizes=merged))
