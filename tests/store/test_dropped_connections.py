"""A PostgreSQL store's pooled connections that the database server ended (as a restart does)
while they sat idle for PING_IDLE_AFTER are found out as they are checked out and replaced
(engine/store/store.py): the next statement runs, on the API's reads and on the store's writes
alike, instead of failing on a dead connection."""

from __future__ import annotations

import time

from sqlalchemy import text

from engine.store import Store, store_url
from engine.store.store import PING_IDLE_AFTER
from tests import pg


def test_connections_ended_while_idle_are_replaced_before_a_statement_uses_them(
        postgres_url: str) -> None:
    with pg.fresh_database() as url:  # (its own: its connections are ended)
        store = Store(store_url(url, "."))
        try:
            for engine in (store.reads, store.engine):
                with engine.connect() as conn:  # a connection in the pool, used a moment ago
                    assert conn.execute(text("SELECT 1")).scalar() == 1
                pg.end_connections(url)
                time.sleep(PING_IDLE_AFTER + 0.2)
                with engine.connect() as conn:
                    assert conn.execute(text("SELECT 2")).scalar() == 2
        finally:
            store.close()
