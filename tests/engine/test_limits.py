"""`limits`: max_pages, max_items and timeout_s stop a crawl where the scheme says."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from tests.api.conftest import gen_prefix
from tests.engine.conftest import crawl
from tests.site.fixture import TestSite

# This module's own generated pages: other tests' crawls of /gen/ on the shared site (an API
# test's run may still be going) are not counted as this crawl's.
PREFIX = gen_prefix(uuid.uuid4().hex[:12])


def gen_scheme(base: str, **limits: Any) -> dict[str, Any]:
    """The generated pages link to each other without end: only the limits stop this crawl."""
    return {
        "start_urls": [f"{base}{PREFIX}0.html"],
        "item": {"selector": "CSS: div.item", "fields": [{"name": "title", "selector": "CSS: h2"}]},
        "follow": [{"selector": "CSS: li a", "max_depth": 100}],
        "limits": limits,
    }


def test_max_pages(site: TestSite, tmp_path: Path) -> None:
    result = crawl(site, gen_scheme(site.url, max_pages=15), tmp_path)
    assert result.returncode == 0, result.log[-3000:]
    gen = [p for p in result.paths() if p.startswith(PREFIX)]
    assert len(gen) == len(set(gen)) == 15
    assert len(result.items()) == 15


def test_max_items(site: TestSite, tmp_path: Path) -> None:
    result = crawl(site, gen_scheme(site.url, max_items=7), tmp_path)
    assert result.returncode == 0, result.log[-3000:]
    assert len(result.items()) == 7  # not one more, though more pages were in flight
    assert "closespider_itemcount" in result.log


def test_timeout(site: TestSite, tmp_path: Path) -> None:
    scheme = gen_scheme(site.url, timeout_s=1.5)
    scheme["politeness"] = {"crawl_delay": 0.1}  # about 10 pages a second, 200 pages in all
    result = crawl(site, scheme, tmp_path)
    assert result.returncode == 0, result.log[-3000:]
    assert "closespider_timeout" in result.log
    # It stopped on the clock, far short of the 200 pages (requests already handed to the
    # downloader, up to 16, still go out after the close). No wall-clock bound: a loaded
    # machine only makes the crawl slower, never longer than its own timeout says.
    assert 1 <= len(result.items()) <= 40
