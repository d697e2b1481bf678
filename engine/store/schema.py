"""The store's schema version: Alembic migrations (engine/store/migrations/), run in-process.

Servers and the CLI call `upgrade` when they open a store: it brings an empty store, a store of
an older revision and a store made before migrations (Crawlplane's tables, no alembic_version)
to the head revision, under a lock so that processes opening one store at once migrate it once.
Crawl processes call `check` only: one cheap query, no Alembic import, and never a migration
running beside the server's.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

# Every revision, oldest first; tests/store/test_migrations.py checks it against versions/.
REVISIONS: tuple[str, ...] = ("0001", "0002", "0003", "0004", "0005", "0006")
HEAD = REVISIONS[-1]
VERSION_TABLE = "alembic_version"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# pg_advisory_xact_lock key: any constant, the same in every Crawlplane process.
PG_LOCK_KEY = 0x63706C616E65  # "cplane"
UPGRADE_COMMAND = "crawlplane db upgrade"


class SchemaError(RuntimeError):
    """The store's schema is not the one this code needs; the message says what to do."""


def config() -> Any:
    """Alembic's configuration, built here: no alembic.ini to find at run time.
    A new revision: `python -c "from alembic import command; from engine.store.schema import
    config; command.revision(config(), 'what changes', rev_id='0002')"`, then add its id to
    REVISIONS."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("file_template", "r%%(rev)s_%%(slug)s")  # a module name (mypy, ruff)
    return cfg


def current(conn: Connection) -> str | None:
    """The store's revision; None when it has no version table."""
    if not inspect(conn).has_table(VERSION_TABLE):
        return None
    return conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


def _has_store_tables(conn: Connection) -> bool:
    return inspect(conn).has_table("tasks")


def _problem(conn: Connection, where: str) -> str | None:
    """Why this code cannot use the store as it is, or None when it is at the head."""
    version = current(conn)
    if version == HEAD:
        return None
    if version is None:
        if _has_store_tables(conn):
            return (f"the store at {where} was made by a Crawlplane release before schema "
                    f"migrations; run `{UPGRADE_COMMAND}` to bring it to revision {HEAD}")
        return f"the store at {where} has no tables yet; run `{UPGRADE_COMMAND}` to create them"
    if version in REVISIONS:
        return (f"the store at {where} is at revision {version}, this Crawlplane needs {HEAD}; "
                f"run `{UPGRADE_COMMAND}`")
    return newer(version, where)


def newer(version: str, where: str) -> str:
    return (f"the store at {where} is at revision {version}, newer than this Crawlplane knows "
            f"(its newest is {HEAD}): a newer Crawlplane migrated it; upgrade this one too")


def check(engine: Engine) -> None:
    """Raise SchemaError unless the store is at the head revision (crawl processes)."""
    with engine.connect() as conn:
        problem = _problem(conn, _where(engine))
    if problem:
        raise SchemaError(problem)


def upgrade(engine: Engine) -> str | None:
    """Bring the store to the head revision; returns the revision it was at before (None: no
    version table), or HEAD when there was nothing to do. Refuses a newer store."""
    with engine.connect() as conn:
        if current(conn) == HEAD:  # the usual case: no lock, no Alembic
            return HEAD
    # A connection of its own: on SQLite the whole upgrade is one BEGIN IMMEDIATE transaction
    # (pysqlite would start it only at the first write), which the store's engine does not do.
    migrating = create_engine(engine.url, poolclass=NullPool)
    if migrating.dialect.name == "sqlite":
        event.listen(migrating, "connect", _sqlite_autocommit)
        event.listen(migrating, "begin", _sqlite_begin_immediate)
    try:
        with migrating.begin() as conn:
            if conn.dialect.name == "postgresql":
                # Held until commit: a second server waits here, then finds the head below.
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
            before = current(conn)  # again, under the lock
            if before == HEAD:
                return HEAD
            if before is not None and before not in REVISIONS:
                raise SchemaError(newer(before, _where(engine)))
            # The "Running upgrade" lines say what happens; Alembic's plugin set-up does not.
            logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
            from alembic import command

            cfg = config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            return before
    finally:
        migrating.dispose()


def _where(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def _sqlite_autocommit(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # transactions are begun explicitly below
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")  # wait for another process's migration
    cursor.close()


def _sqlite_begin_immediate(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock first: one migrator at a time
