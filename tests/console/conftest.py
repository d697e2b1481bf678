"""The console tests' fixtures: one server for the module (keys `alice` and `bob`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.server import Server, start_server


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("console"))
    yield server
    server.stop()
