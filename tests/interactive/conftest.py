"""The interactive tests' server (`crawlplane serve`, short job idle timeout) and the client
that drives `/api/v2` as a Web Data Source client does: it repeats a call while the answer is
202. Both live in tests/support; their old names stay importable from here."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.client import Client
from tests.support.client import Response as Answer
from tests.support.server import CRAWLPLANE, Server
from tests.support.server import start_server as _start

__all__ = ["CRAWLPLANE", "Answer", "Client", "Server", "start_server", "stop_server"]


def start_server(data_dir: Path, **env: str) -> Server:
    """A started server without keys (tests make their own with `server.client(name)`)."""
    return _start(data_dir, keys=(), **{"CRAWLPLANE_RATE_LIMIT": "0", **env})


def stop_server(server: Server) -> None:
    server.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("interactive"),
                           CRAWLPLANE_JOB_IDLE_TIMEOUT="2", CRAWLPLANE_MAX_PROCESSES="4")
    try:
        yield running
    finally:
        running.stop()
