"""A server shared by the webhook tests (private targets allowed, fast retries), a receiver per
test, and a fresh tenant per test so that ready lists do not mix."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import Server
from tests.webhooks.receiver import Receiver
from tests.webhooks.server import webhook_env

_names = itertools.count()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(tmp_path_factory.mktemp("webhooks"), **webhook_env()).start()
    yield running
    running.stop()


@pytest.fixture
def key(server: Server) -> str:
    return server.create_key(f"hooks{next(_names)}")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path
