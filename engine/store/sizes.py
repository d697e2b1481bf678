"""The sizes of a run's results files, kept on the run (`runs.result_sizes`, {format: bytes})
by whoever renders them (engine/results.py), so that reading a task never stats a file."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import bindparam, select, update

from engine.store.tables import runs

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from engine.store.store import Store


_SIZES = select(runs.c.result_sizes).where(runs.c.id == bindparam("run_id"))


def record(store: Store, run_id: str, sizes: dict[str, int]) -> None:
    """Merge `sizes` into the run's recorded sizes (one transaction)."""
    with store.engine.begin() as conn:
        conn.execute(update(runs).where(runs.c.id == run_id)
                     .values(result_sizes=merged(conn, run_id, sizes)))


def merged(conn: Connection, run_id: str, sizes: dict[str, int]) -> dict[str, int]:
    """The run's recorded sizes with `sizes` over them, read in the caller's transaction."""
    current = conn.execute(_SIZES, {"run_id": run_id}).scalar()
    return {**(current or {}), **sizes}
