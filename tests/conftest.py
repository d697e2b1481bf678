"""Shared fixtures: the test website (a child process on loopback) and a scratch data dir."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.site.fixture import TestSite


@pytest.fixture(scope="session")
def site() -> Iterator[TestSite]:
    with TestSite.start(gen_pages=200) as running:
        yield running


def in_ci() -> bool:
    """CI sets CI=true: there, every test must run, PostgreSQL ones included."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh database in the local PostgreSQL cluster for this test session, dropped after.

    Without PostgreSQL the tests that need it fail in CI (CI=true) and are skipped, saying so,
    only on a developer's machine."""
    from tests import pg

    if not pg.available():
        if in_ci():
            pytest.fail(f"PostgreSQL is not reachable at {pg.ADMIN_URL}, and CI=true: the "
                        "PostgreSQL tests must run in CI (start it, or set CRAWLPLANE_TEST_PG)",
                        pytrace=False)
        pytest.skip(f"PostgreSQL is not reachable at {pg.ADMIN_URL}: skipped on this machine "
                    "only (with CI=true this fails); start it or set CRAWLPLANE_TEST_PG")
    with pg.fresh_database() as url:
        yield url
