"""Shared fixtures: the test website (a child process on loopback) and a scratch data dir."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.site.fixture import TestSite


@pytest.fixture(scope="session")
def site() -> Iterator[TestSite]:
    with TestSite.start(gen_pages=200) as running:
        yield running
