"""Two real Scrapyd nodes with this project's egg, the real PostgreSQL, and a server using them.

Shared by the module's tests: Scrapyd takes a few seconds to start and to list the spider.
Node `b` wants basic auth, as the server's node URL says.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scrapyd.nodes import ScrapydNode, build_egg
from tests.support.server import Server, start_server


@pytest.fixture(scope="module")
def egg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_egg(tmp_path_factory.mktemp("egg"))


@pytest.fixture(scope="module")
def nodes(egg: Path) -> Iterator[list[ScrapydNode]]:
    started = [ScrapydNode("a"), ScrapydNode("b", auth=("crawl", "s3cret"))]
    try:
        for node in started:
            node.start()
            assert node.deploy(egg)["spiders"] == 1
        yield started
    finally:
        for node in started:
            node.close()


@pytest.fixture(scope="module")
def server(nodes: list[ScrapydNode], postgres_url: str,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(
        tmp_path_factory.mktemp("scrapyd-server"), keys=("tester",),
        CRAWLPLANE_STORE_URL=postgres_url,
        CRAWLPLANE_SCRAPYD_NODES=",".join(node.config_url for node in nodes),
        CRAWLPLANE_SCRAPYD_DEAD_AFTER="3")
    try:
        yield running
    finally:
        running.stop()
