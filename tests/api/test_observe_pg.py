"""tests/api/test_observe.py again with the store on PostgreSQL: the log, the event stream,
/stats and /metrics read the store with their own SQL (percentiles, per-host groups, the
collector's counts), which must answer the same on both stores."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

# The same tests, collected again in this module, where `api` is the PostgreSQL server.
from tests.api.test_observe import (  # noqa: F401
    TOKEN,
    test_a_quiet_stream_gets_heartbeats,
    test_events_of_a_running_crawl_show_progress,
    test_log_tail_and_ranges,
    test_stats_and_metrics_move_by_the_crawl,
    test_the_event_stream_delivers_a_crawl_and_resumes,
)
from tests.support.server import Server, start_server


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, postgres_url: str) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("observe-pg"),
                          CRAWLPLANE_STORE_URL=postgres_url, CRAWLPLANE_EVENTS_INTERVAL="0.2",
                          CRAWLPLANE_EVENTS_HEARTBEAT="1", CRAWLPLANE_METRICS_TOKEN=TOKEN)
    yield server
    server.stop()
