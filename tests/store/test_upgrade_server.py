"""The real server (`crawlplane serve`) and CLI on a store made by the last release before
migrations (9a7ebdc): the server upgrades it on start, its task reads back and runs again; with
CRAWLPLANE_AUTO_MIGRATE off they refuse until `crawlplane db upgrade`; a newer store is refused.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from engine.store import schema, store_url
from engine.store.tables import metadata
from tests.conftest import in_ci
from tests.site.fixture import TestSite
from tests.store.released.stores import ITEMS, make_store
from tests.support.server import Server

KEY = "cpk_" + "k" * 43


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(the store URL the server is given, "" for SQLite in its data dir; SQLAlchemy's URL)"""
    if request.param == "sqlite":
        yield "", store_url("", tmp_path / "data")
        return
    from tests import pg

    if not pg.available():
        reason = f"PostgreSQL is not reachable at {pg.ADMIN_URL}"
        if in_ci():
            pytest.fail(reason + ", and CI=true", pytrace=False)
        pytest.skip(reason + ": skipped on this machine only")
    with pg.fresh_database() as url:
        yield url, store_url(url, tmp_path)


def scheme(site: TestSite) -> dict[str, object]:
    return {"start_urls": [site.abs("/quotes/page/1/")], "formats": ["jsonl"],
            "item": {"selector": "CSS: div.quote",
                     "fields": [{"name": "text", "selector": "CSS: span.text"}]},
            "politeness": {"obey_robots": False}}


def index_names(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        found = inspect(engine)
        return {ix["name"] for table in found.get_table_names() for ix in found.get_indexes(table)}
    finally:
        engine.dispose()


def wanted_indexes(url: str) -> set[str]:
    """metadata's indexes, less the one of the other dialect (the page URL index)."""
    other = "ix_pages_url_hash" if url.startswith("sqlite") else "ix_pages_task_url"
    return {str(ix.name) for table in metadata.tables.values() for ix in table.indexes} - {other}


def test_server_upgrades_a_released_store_and_serves_it(backend: tuple[str, str],
                                                        site: TestSite, tmp_path: Path) -> None:
    setting, url = backend
    data_dir = tmp_path / "data"
    data_dir.mkdir(exist_ok=True)
    ids = make_store(url, "9a7ebdc", scheme(site), KEY)
    server = Server(data_dir, CRAWLPLANE_STORE_URL=setting)
    server.keys["alice"] = KEY
    server.http.key = "alice"
    server.start()
    try:
        task = server.ok("GET", f"/v1/tasks/{ids['task']}")
        assert (task["status"], task["name"], task["tag"]) == ("completed", "old", "kept")
        assert (task["items"], task["pages"], task["requests"]) == (3, 2, 2)
        pages = server.ok("GET", f"/v1/tasks/{ids['task']}/pages")["data"]
        assert sorted(p["id"] for p in pages) == ["p_old0", "p_old1"]
        stored = server.call("GET", f"/v1/tasks/{ids['task']}/store?format=jsonl")
        assert [json.loads(line) for line in stored.body.splitlines()] == ITEMS

        server.ok("POST", f"/v1/tasks/{ids['task']}/run", status=202)
        again = server.wait(ids["task"])
        assert again["status"] == "completed" and again["ended_at"] != task["ended_at"]
        assert again["items"] == 10  # the quotes page's ten
        assert "alice" in server.cli("keys", "list").stdout
    finally:
        server.kill()
    assert index_names(url) >= wanted_indexes(url)
    assert "ix_pages_task_state" in index_names(url)


def test_auto_migrate_off_refuses_until_db_upgrade(site: TestSite, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    url = store_url("", data_dir)
    make_store(url, "18f2fe2", scheme(site), KEY)
    server = Server(data_dir, CRAWLPLANE_AUTO_MIGRATE="0")
    for args in (["serve"], ["keys", "list"], ["db", "check"]):
        refused = server.cli(*args, check=False)
        assert refused.returncode != 0, args
        assert "before schema migrations; run `crawlplane db upgrade`" in refused.stderr, args
    assert "ix_pages_task_state" not in index_names(url)

    upgraded = server.cli("db", "upgrade")
    assert f"at revision {schema.HEAD} (from no version" in upgraded.stdout
    assert "ix_pages_task_state" in index_names(url)
    assert server.cli("db", "check").returncode == 0
    assert "alice" in server.cli("keys", "list").stdout
    assert "(already)" in server.cli("db", "upgrade").stdout


def test_server_refuses_a_store_newer_than_it(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = Server(data_dir)
    data_dir.mkdir()
    server.cli("db", "upgrade")
    engine = create_engine(store_url("", data_dir))
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    engine.dispose()
    refused = server.cli("serve", check=False)
    assert refused.returncode == 2
    assert "at revision 9999, newer than this Crawlplane knows" in refused.stderr
