"""Shared fixtures: the test website (a child process on loopback) and a scratch data dir."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.site.fixture import TestSite


@pytest.fixture(scope="session")
def site() -> Iterator[TestSite]:
    with TestSite.start(gen_pages=200) as running:
        yield running


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh database in the local PostgreSQL cluster for this test session, dropped after."""
    from tests import pg

    if not pg.available():
        pytest.skip(f"PostgreSQL is not reachable at {pg.ADMIN_URL}")
    with pg.fresh_database() as url:
        yield url
