"""A run's crawl delay across its crawl processes: when each host was last sent a request, kept
in the store (`host_sends`), so that N processes on one run do not visit a host N times as often.

    claim_send   a send time for the next request to a host, `delay` seconds after the one
                 before it (whichever process sent that): max(now, sent_at + delay), which
                 becomes the host's sent_at
    restamp      a request sent later than its claimed time moves the host's sent_at to now,
                 if no process claimed a time after it meanwhile (else it must claim again)

One statement reads and writes the row, so two processes never get the same time. "Now" is the
database's clock, read as the statement runs: crawl processes on several machines need not agree
on the time, and the time a request is given is not earlier than the moment it is told.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Float, cast, func, literal, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from engine.store.tables import host_sends

if TYPE_CHECKING:
    from engine.store.store import Store


def _now(conn: Connection) -> Any:
    """The database's time in epoch seconds, the same throughout one statement."""
    if conn.dialect.name == "postgresql":
        return cast(func.extract("epoch", func.statement_timestamp()), Float)
    return (func.julianday("now") - literal(2440587.5)) * literal(86400.0)


def claim_send(store: Store, run_id: str, host: str, delay: float) -> tuple[float, float]:
    """Seconds from now until a request to `host` may be sent (0: at once), and that time as
    the store keeps it (for `restamp`)."""
    with store.engine.begin() as conn:
        now = _now(conn)
        if conn.dialect.name == "postgresql":
            upsert: Any = postgresql.insert(host_sends)
            latest: Any = func.greatest
        else:
            upsert = sqlite.insert(host_sends)
            latest = func.max  # SQLite's scalar max(a, b)
        query = upsert.values(run_id=run_id, host=host, sent_at=now).on_conflict_do_update(
            index_elements=[host_sends.c.run_id, host_sends.c.host],
            set_={"sent_at": latest(now, host_sends.c.sent_at + float(delay))},
        ).returning(host_sends.c.sent_at, now)
        sent_at, at = conn.execute(query).one()
    return max(0.0, float(sent_at) - float(at)), float(sent_at)


def restamp(store: Store, run_id: str, host: str, claimed: float) -> bool:
    """The host's sent_at, still `claimed` (no claim since), is now; False if another request
    claimed a time after it."""
    with store.engine.begin() as conn:
        return bool(conn.execute(
            update(host_sends).where(host_sends.c.run_id == run_id, host_sends.c.host == host,
                                     host_sends.c.sent_at == claimed)
            .values(sent_at=_now(conn))).rowcount)
