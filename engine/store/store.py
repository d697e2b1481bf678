"""The store: the single source of truth shared by the API and every crawl process.

Synchronous SQLAlchemy Core; the API calls it from a thread pool, crawl processes call it from
their own batching recorder. SQLite (WAL) by default, PostgreSQL by URL, one code path.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Engine,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import InvalidatePoolError

from engine.ids import new_id
from engine.store import frontier, jobpages, schema
from engine.store import runs as run_states
from engine.store.status import ACTIVE_STATUSES, TERMINAL_STATUSES
from engine.store.tables import (
    download_infos,
    host_sends,
    items,
    page_bodies,
    pages,
    pending_items,
    runs,
    tasks,
)

Row = dict[str, Any]
# Point reads every run makes several of (its crawl and the server), built once: building the
# statement and its cache key each time cost more than running it (a run read by id: 170-200 µs
# built each time, 60-80 µs built once, on SQLite).
_TASK = select(tasks).where(tasks.c.id == bindparam("id"))
_TENANT_TASK = _TASK.where(tasks.c.tenant_id == bindparam("tenant_id"))
_RUN = select(runs).where(runs.c.id == bindparam("id"))
_ITEMS_AFTER = (select(items.c.id, items.c.data)
                .where(items.c.run_id == bindparam("run_id"), items.c.id > bindparam("last"))
                .order_by(items.c.id).limit(bindparam("batch")))
POOL_SIZE = 10  # connections kept open (more are opened, and closed after use, when needed)
PING_IDLE_AFTER = 1.0  # seconds a PostgreSQL connection may sit in the pool unchecked
__all__ = ["ACTIVE_STATUSES", "TERMINAL_STATUSES", "Row", "Store", "store_url"]


def store_url(url: str | None, data_dir: str | Path) -> str:
    """The SQLAlchemy URL for a store setting: SQLite in the data directory when unset."""
    if not url:
        path = Path(data_dir).expanduser().resolve() / "crawlplane.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}"
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def preload_dialect() -> None:
    """Import the default store's dialect now (a warm worker's idle time), not in its run."""
    from sqlalchemy.dialects import sqlite  # noqa: F401


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # The busy timeout first: switching a new file to WAL waits for other processes too.
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _ping_when_idle(engine: Engine) -> None:
    """A database server that restarts drops its connections (a SQLite file never does): a
    connection idle for PING_IDLE_AFTER is pinged as it is checked out, and replaced if dead.
    One in use within that time is not: SQLAlchemy's pre-ping of every checkout cost a round
    trip per read (GET /v1/tasks/{id} on PostgreSQL: 9% more answers a second without it).
    A connection dropped less than that after its last use fails its next statement, which
    answers 503 (control_api/web/problems.py), and SQLAlchemy then replaces the whole pool."""

    @event.listens_for(engine, "checkin")
    def checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["checked_in"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("checked_in")  # (none: a new connection)
        if since is None or time.monotonic() - since < PING_IDLE_AFTER:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            # As SQLAlchemy's pre-ping does: the checkout is made again on a new connection,
            # and the pool's other connections, as old, are replaced as they are checked out.
            raise InvalidatePoolError(f"the connection was dropped: {exc}") from exc


class Store:
    def __init__(self, url: str, *, migrate: bool = True):
        """Open the store at `url`. With `migrate` (servers, the CLI, tests), bring its schema
        to the head revision first; without (crawl processes), only check that it is there:
        raises `SchemaError` with what to run (engine/store/schema.py)."""
        self.url = url
        # The pool keeps a connection for each of the reactor's pool threads (Twisted's default
        # 10): with SQLAlchemy's 5, reads under load opened and closed one per request.
        self.engine: Engine = create_engine(url, future=True, pool_size=POOL_SIZE)
        # The API's hot reads (a task, a listing, a key): each statement its own transaction. On
        # PostgreSQL (READ COMMITTED: every statement of a transaction sees its own snapshot
        # anyway) that spares a BEGIN and a ROLLBACK round trip per read; SQLite's driver
        # begins no transaction for a read.
        self.reads: Engine = self.engine
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            self.reads = self.engine.execution_options(isolation_level="AUTOCOMMIT")
            _ping_when_idle(self.engine)
        try:
            if migrate:
                schema.upgrade(self.engine)
            else:
                schema.check(self.engine)
        except BaseException:
            self.engine.dispose()
            raise

    def close(self) -> None:
        self.engine.dispose()

    def begin(self) -> Any:
        return self.engine.begin()

    # -- tasks and runs ---------------------------------------------------------------------

    def get_task(self, task_id: str, tenant_id: str | None = None) -> Row | None:
        if tenant_id is None:
            query, params = _TASK, {"id": task_id}
        else:
            query, params = _TENANT_TASK, {"id": task_id, "tenant_id": tenant_id}
        with self.engine.connect() as conn:
            row = conn.execute(query, params).mappings().first()
        return dict(row) if row else None

    def create_task(
        self,
        tenant_id: str,
        scheme: Mapping[str, Any],
        payload_id: str,
        *,
        run: bool = True,
        kind: str = "crawl",
        **fields: Any,
    ) -> tuple[Row, Row | None]:
        """Insert a task, and its first queued run when `run`, in one transaction."""
        now = time.time()
        task: Row = {
            "id": new_id("t"),
            "tenant_id": tenant_id,
            "kind": kind,
            "scheme": dict(scheme),
            "formats": scheme.get("formats"),
            "payload_id": payload_id,
            "collected": False,
            "created_at": now,
            "updated_at": now,
            "run_id": None,
            **fields,
        }
        with self.engine.begin() as conn:
            conn.execute(insert(tasks).values(**task))  # (an unknown field is an error)
            queued = run_states.queue(conn, task["id"]) if run else None
        if queued:
            task["run_id"] = queued["id"]
        return task, queued

    def queue_run(self, task_id: str, launcher: str | None = None) -> Row:
        """Queue a run; with `launcher`, one already taken (no launcher will claim it)."""
        return run_states.queue(self, task_id, launcher)

    def get_run(self, run_id: str) -> Row | None:
        with self.engine.connect() as conn:
            row = conn.execute(_RUN, {"id": run_id}).mappings().first()
        return dict(row) if row else None

    def update_run(self, run_id: str, *, only_if: Sequence[str] = (), **values: Any) -> bool:
        """Update a run, optionally only while its status is one of `only_if`; True if it did.
        (Status changes go through `engine.store.runs`, one function per transition.)"""
        with self.engine.begin() as conn:
            return run_states.update_run(conn, run_id, only_if, **values)

    def runs_with_status(self, *statuses: str, launcher: str | None = None) -> list[Row]:
        query = select(runs).where(runs.c.status.in_(statuses)).order_by(runs.c.queued_at)
        if launcher is not None:
            query = query.where(runs.c.launcher == launcher)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    # -- what a crawl writes ------------------------------------------------------------------

    def write_batch(
        self,
        *,
        page_rows: Sequence[Row] = (),
        info_rows: Sequence[Row] = (),
        body_rows: Sequence[Row] = (),
        item_rows: Sequence[Row] = (),
        run_id: str | None = None,
        progress: Mapping[str, Any] | None = None,
        update_pages: bool = False,
        pending_rows: Sequence[Row] = (),
        resolved: Sequence[str] = (),
        added: Mapping[str, int] | None = None,
        added_failures: Mapping[str, int] | None = None,
        max_items: int | None = None,
        items_warning: str | None = None,
        release_worker: str | None = None,
    ) -> None:
        """One transaction for everything a crawl process gathered since its last flush.
        With `update_pages` (an interactive job), the pages exist already and are updated.
        With `added` (the durable frontier), the pages exist too (engine/store/frontier.py),
        and the run's counters and failures are increments; with `max_items` too, items past
        the run's limits.max_items (counted over all its processes) are not kept, and the run's
        warnings say so (`items_warning`) in whichever write reaches the limit or follows it:
        decided here, with the run's row taken, as every process's write replaces them. With
        `release_worker` (a crawl's last write), the pages that process still holds go back to
        Created once its finished ones are in: in this transaction, as on SQLite every write
        transaction waits for the store's one lock."""
        with self.engine.begin() as conn:
            if added is not None and run_id:  # first: takes the run's row (one writer)
                if max_items:
                    room = frontier.item_room(conn, run_id, max_items)
                    warnings = list((progress or {}).get("warnings") or [])
                    if items_warning and len(item_rows) >= room and items_warning not in warnings:
                        progress = {**(progress or {}), "warnings": [*warnings, items_warning]}
                    item_rows = list(item_rows)[:room]
                    added = {**added, "items": len(item_rows)}
                run_states.add_progress(conn, run_id, added, added_failures or {})
                frontier.commit(conn, page_rows, pending_rows, resolved)
                page_rows = ()
            if update_pages:
                jobpages.write(conn, page_rows, info_rows, body_rows)
                page_rows = info_rows = body_rows = ()
            if page_rows:
                conn.execute(insert(pages), list(page_rows))
            if info_rows:
                conn.execute(insert(download_infos), list(info_rows))
            if body_rows:
                conn.execute(insert(page_bodies), list(body_rows))
            if item_rows:
                conn.execute(insert(items), list(item_rows))
            if run_id and progress:
                run_states.set_run(conn, run_id, progress)
            if run_id and release_worker is not None:
                frontier.release(conn, run_id, release_worker)

    def iter_items(self, run_id: str, batch: int = 1000) -> Iterator[Any]:
        """The run's items in the order they were scraped, read in keyset-paged batches."""
        last = 0
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(_ITEMS_AFTER, {"run_id": run_id, "last": last,
                                                   "batch": batch}).all()
            for row in rows:
                yield row.data
            if len(rows) < batch:  # the last batch: no need to ask again
                return
            last = rows[-1].id

    def count_items(self, run_id: str) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(select(func.count()).where(items.c.run_id == run_id)).scalar_one()
            )

    def get_page(self, page_id: str) -> Row | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(pages).where(pages.c.id == page_id)).mappings().first()
        return dict(row) if row else None

    def page_infos(self, page_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(download_infos.c.info)
                .where(download_infos.c.page_id == page_id)
                .order_by(download_infos.c.attempt)
            ).all()
        return [r.info for r in rows]

    def page_body(self, page_id: str) -> Row | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(page_bodies).where(page_bodies.c.page_id == page_id))
                .mappings()
                .first()
            )
        return dict(row) if row else None

    def delete_run_data(self, conn: Connection, run_ids: Sequence[str]) -> None:
        """Remove everything the given runs produced: pages, their attempts and bodies, items
        (and those still waiting for detail pages)."""
        if not run_ids:
            return
        page_ids = select(pages.c.id).where(pages.c.run_id.in_(run_ids)).scalar_subquery()
        conn.execute(delete(download_infos).where(download_infos.c.page_id.in_(page_ids)))
        conn.execute(delete(page_bodies).where(page_bodies.c.page_id.in_(page_ids)))
        conn.execute(delete(pages).where(pages.c.run_id.in_(run_ids)))
        conn.execute(delete(items).where(items.c.run_id.in_(run_ids)))
        conn.execute(delete(pending_items).where(pending_items.c.run_id.in_(run_ids)))
        conn.execute(delete(host_sends).where(host_sends.c.run_id.in_(run_ids)))
