"""tests/api/test_bad_input.py again with the store on PostgreSQL, where text cannot hold a NUL
(psycopg raises DataError): both stores must answer the same."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api.conftest import ApiServer, start_server

# The same tests, collected again in this module, where `api` is the PostgreSQL server.
from tests.api.test_bad_input import (  # noqa: F401
    test_a_cron_that_never_fires_is_422_and_creates_nothing,
    test_deeply_nested_json_is_400,
    test_empty_path_segments_are_404,
    test_invalid_utf8_in_path_or_query_is_400,
    test_invalid_utf8_in_the_api_key_query_is_400,
    test_invalid_utf8_in_the_host_header_is_400,
    test_nul_in_a_path_id_is_404,
    test_nul_in_a_query_value_is_400,
    test_nul_in_body_strings_is_422_with_the_path,
)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, postgres_url: str) -> Iterator[ApiServer]:
    server = start_server(tmp_path_factory.mktemp("bad-input-pg"),
                          CRAWLPLANE_STORE_URL=postgres_url)
    yield server
    server.stop()
