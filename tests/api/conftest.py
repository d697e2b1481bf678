"""The API tests' fixtures: one server shared by the session (keys `alice` and `bob`), the
quotes and generated-pages schemes. The server wrapper and the client live in tests/support;
their old names stay importable from here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.site.fixture import TestSite
from tests.support.client import (
    TERMINAL,
    Response,
    check_against_spec,
    find_operation,
    validate_schema,
)
from tests.support.server import CRAWLPLANE, START_TIMEOUT, server_env, start_server
from tests.support.server import Server as ApiServer

__all__ = ["CRAWLPLANE", "START_TIMEOUT", "TERMINAL", "ApiServer", "Response",
           "check_against_spec", "find_operation", "gen_prefix", "gen_scheme", "server_env",
           "start_server", "validate_schema"]


@pytest.fixture(scope="session")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    server = start_server(tmp_path_factory.mktemp("api"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def quotes_scheme(site: TestSite) -> dict[str, Any]:
    """The quotes pages (5, paginated) with each quote's author page followed."""
    return {
        "start_urls": [site.abs("/quotes/page/1/")],
        "item": {"selector": "CSS: div.quote", "fields": [
            {"name": "text", "selector": "CSS: span.text"},
            {"name": "author", "selector": "CSS: small.author"},
            {"name": "tags", "selector": "CSS: a.tag", "many": True},
            {"name": "about", "selector": "CSS: small.author + a", "attr": "href",
             "follow": {"fields": [{"name": "born", "selector": "CSS: .author-born-date"}]}},
        ]},
        "paginate": {"selector": "CSS: li.next a"},
        "formats": ["jsonl", "csv"],
        "politeness": {"obey_robots": False, "concurrency": 8},
    }


def gen_scheme(site: TestSite, *, delay: float = 0, concurrency: int = 8,
               max_pages: int = 10_000, depth: int = 100,
               token: str | None = None) -> dict[str, Any]:
    """The generated pages from /gen/0.html, following their links; with a `token`, the same
    pages under /gen/~<token>/ (see `gen_prefix`), so the site's log shows this crawl alone."""
    return {
        "start_urls": [site.abs(gen_prefix(token) + "0.html")],
        "item": {"selector": "CSS: div.item", "fields": [
            {"name": "title", "selector": "CSS: h2"},
            {"name": "price", "selector": "CSS: span.price"},
        ]},
        "follow": [{"selector": "CSS: li a", "max_depth": depth}],
        "limits": {"max_pages": max_pages},
        "politeness": {"obey_robots": False, "concurrency": concurrency, "crawl_delay": delay},
    }


def gen_prefix(token: str | None = None) -> str:
    """The path prefix of the generated pages, of one test's crawl with a `token`."""
    return f"/gen/~{token}/" if token else "/gen/"
