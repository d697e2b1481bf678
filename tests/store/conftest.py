"""The store's tests run on both backends: a temporary SQLite file and a fresh PostgreSQL
schema (in the session's throwaway database, see tests/conftest.py::postgres_url)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest

from engine.store import Store, store_url


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        opened = Store(store_url("", tmp_path))
        yield opened
        opened.close()
        return
    database: str = request.getfixturevalue("postgres_url")
    schema = f"s_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    opened = Store(store_url(f"{database}?options={quote(f'-csearch_path={schema}')}",
                             tmp_path))
    try:
        yield opened
    finally:
        opened.close()
        with psycopg.connect(database, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
