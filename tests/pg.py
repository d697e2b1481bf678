"""A throwaway PostgreSQL database in the `test` cluster (127.0.0.1:5432, trust auth)."""

from __future__ import annotations

import getpass
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from tests.support.wait import wait_until

ADMIN_URL = os.environ.get("CRAWLPLANE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def available() -> bool:
    try:
        with psycopg.connect(ADMIN_URL, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


@contextmanager
def fresh_database(prefix: str = "crawlplane_test") -> Iterator[str]:
    """Create a uniquely named database, yield its URL, drop it afterwards."""
    name = f"{prefix}_{getpass.getuser()}_{uuid.uuid4().hex[:10]}".lower()
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def end_connections(url: str) -> None:
    """End every connection to the database of `url` (as a restart of the server would)."""
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE datname = %s AND pid <> pg_backend_pid()", (url.rsplit("/", 1)[1],))


@contextmanager
def unreachable(url: str) -> Iterator[None]:
    """The database of `url` unreachable inside: renamed away, its connections ended."""
    name = url.rsplit("/", 1)[1]
    away = f"{name}_away"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        def renamed() -> bool:  # (a connection may come back between the two statements)
            end_connections(url)
            try:
                admin.execute(f'ALTER DATABASE "{name}" RENAME TO "{away}"')
            except psycopg.errors.ObjectInUse:
                return False
            return True

        wait_until(renamed, 10, interval=0.05, message="the database renamed away")
        try:
            yield
        finally:
            admin.execute(f'ALTER DATABASE "{away}" RENAME TO "{name}"')
