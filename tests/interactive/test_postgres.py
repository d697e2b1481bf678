"""The same client-driven crawl and revalidation with the store on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.interactive import test_cache, test_walk
from tests.interactive.conftest import Server, start_server, stop_server
from tests.site.fixture import TestSite


@pytest.fixture(scope="module")
def pg_server(tmp_path_factory: pytest.TempPathFactory, postgres_url: str) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("interactive-pg"),
                           CRAWLPLANE_STORE_URL=postgres_url, CRAWLPLANE_JOB_IDLE_TIMEOUT="2",
                           CRAWLPLANE_MAX_PROCESSES="4")
    try:
        yield running
    finally:
        stop_server(running)


def test_catalog_walk_on_postgres(pg_server: Server, site: TestSite) -> None:
    test_walk.test_catalog_walk(pg_server, site)


def test_revalidation_on_postgres(pg_server: Server, site: TestSite) -> None:
    test_cache.test_continue_revalidates_and_from_scratch_starts_over(pg_server, site)


def test_idle_and_relaunch_on_postgres(pg_server: Server, site: TestSite) -> None:
    test_cache.test_idle_job_closes_and_relaunches_on_new_work(pg_server, site)
