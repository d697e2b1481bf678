"""Schema migrations (engine/store/schema.py): a fresh store, stores of releases made before
migrations, a store newer than the code, crawl processes that only check, concurrent opens."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, text

from engine.store import SchemaError, Store, schema
from engine.store.tables import metadata
from tests.store.conftest import NewUrl
from tests.store.released.stores import ITEMS, RELEASES, make_store

SCHEME = {"start_urls": ["https://example.com/"], "formats": ["jsonl"],
          "item": {"fields": [{"name": "text", "selector": "CSS: title"}]}}


def describe(url: str) -> dict[str, Any]:
    """Everything the database says about Crawlplane's tables (not alembic_version)."""
    engine = create_engine(url)
    try:
        found = inspect(engine)
        tables = sorted(set(found.get_table_names()) - {schema.VERSION_TABLE})
        return {table: {
            "columns": [(c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
                        for c in found.get_columns(table)],
            "primary key": found.get_pk_constraint(table)["constrained_columns"],
            "indexes": sorted(
                (ix["name"], tuple(ix["column_names"]), bool(ix["unique"]),
                 str(ix.get("dialect_options", {}).get("postgresql_using", "")))
                for ix in found.get_indexes(table)),
            "unique": sorted(tuple(u["column_names"]) for u in found.get_unique_constraints(table)),
            "foreign keys": sorted(
                (tuple(fk["constrained_columns"]), fk["referred_table"],
                 tuple(fk["referred_columns"]), fk["options"].get("ondelete"))
                for fk in found.get_foreign_keys(table)),
        } for table in tables}
    finally:
        engine.dispose()


def described_by_metadata(new_url: NewUrl) -> dict[str, Any]:
    """The schema `metadata` (engine/store/tables.py) describes, as this backend makes it."""
    url = new_url()
    engine = create_engine(url)
    metadata.create_all(engine)
    engine.dispose()
    return describe(url)


def revision(url: str) -> str | None:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return schema.current(conn)
    finally:
        engine.dispose()


def test_revisions_listed_are_the_scripts() -> None:
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(schema.config())
    assert scripts.get_current_head() == schema.HEAD
    ids = [script.revision for script in scripts.walk_revisions()]  # newest first
    assert tuple(reversed(ids)) == schema.REVISIONS


def test_fresh_store_is_at_head_with_exactly_the_schema_of_metadata(new_url: NewUrl) -> None:
    url = new_url()
    Store(url).close()
    assert revision(url) == schema.HEAD
    assert describe(url) == described_by_metadata(new_url)
    Store(url, migrate=False).close()  # what a crawl process does: check, fine


@pytest.mark.parametrize("release", sorted(RELEASES))
def test_store_of_a_release_before_migrations_is_brought_to_head(new_url: NewUrl,
                                                                 release: str) -> None:
    url = new_url()
    ids = make_store(url, release, SCHEME, "cpk_old")
    before = describe(url)
    with pytest.raises(SchemaError, match="before schema migrations.*crawlplane db upgrade"):
        Store(url, migrate=False)  # a crawl process never migrates

    store = Store(url)
    try:
        assert revision(url) == schema.HEAD
        task = store.get_task(ids["task"])
        assert task is not None and task["scheme"] == SCHEME and task["tag"] == "kept"
        assert task["formats"] == SCHEME["formats"]  # (0006: kept beside the scheme)
        assert list(store.iter_items(ids["run"])) == ITEMS
        queued = store.queue_run(ids["task"], launcher="scrapyd:" + "n" * 80)  # wider now
        assert store.get_run(queued["id"]) is not None
    finally:
        store.close()

    after, wanted = describe(url), described_by_metadata(new_url)
    if release == "18f2fe2":  # what it lacked: the later tables and indexes
        assert {"deliveries", "schedules"} - set(before) == {"deliveries", "schedules"}
        assert "ix_pages_task_state" not in str(before["pages"]["indexes"])
        assert "ix_pages_task_state" in str(after["pages"]["indexes"])
        if url.startswith("sqlite"):  # SQLite enforces no VARCHAR length: left as declared
            runs = after["runs"]["columns"]
            runs[[c[0] for c in runs].index("launcher")] = ("launcher", "VARCHAR(100)",
                                                             True, "None")
    assert after == wanted


def test_store_newer_than_the_code_is_refused(new_url: NewUrl) -> None:
    url = new_url()
    Store(url).close()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    for migrate in (True, False):
        with pytest.raises(SchemaError, match="at revision 9999, newer than this Crawlplane"):
            Store(url, migrate=migrate)
    assert revision(url) == "9999"


def test_checking_an_empty_store_creates_nothing(new_url: NewUrl) -> None:
    url = new_url()
    with pytest.raises(SchemaError, match="no tables yet; run `crawlplane db upgrade`"):
        Store(url, migrate=False)
    assert describe(url) == {} and revision(url) is None


def test_concurrent_first_opens_migrate_once(new_url: NewUrl) -> None:
    url = new_url()
    code = "import sys; from engine.store import Store; Store(sys.argv[1]).close()"
    procs = [subprocess.Popen([sys.executable, "-c", code, url], stderr=subprocess.PIPE,
                              text=True) for _ in range(4)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    assert revision(url) == schema.HEAD
    assert describe(url) == described_by_metadata(new_url)
