"""The store's tests run on both backends: a temporary SQLite file and a fresh PostgreSQL
schema (in the session's throwaway database, see tests/conftest.py::postgres_url)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest

from engine.store import Store, store_url

NewUrl = Callable[[], str]


@pytest.fixture(params=["sqlite", "postgresql"])
def new_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[NewUrl]:
    """Makes store URLs of empty databases on the test's backend (files or schemas)."""
    if request.param == "sqlite":
        count = iter(range(1000))
        yield lambda: store_url("", tmp_path / f"db{next(count)}")
        return
    database: str = request.getfixturevalue("postgres_url")
    schemas: list[str] = []

    def new() -> str:
        schemas.append(f"s_{uuid.uuid4().hex[:12]}")
        with psycopg.connect(database, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schemas[-1]}")
        return store_url(f"{database}?options={quote(f'-csearch_path={schemas[-1]}')}",
                         tmp_path)

    yield new
    with psycopg.connect(database, autocommit=True) as conn:
        for schema in schemas:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def store(new_url: NewUrl) -> Iterator[Store]:
    opened = Store(new_url())
    yield opened
    opened.close()
