"""Stores as releases before schema migrations made them: `metadata.create_all` of a frozen
tables module, and rows written through its tables (the old code paths), no alembic_version."""

from __future__ import annotations

import hashlib
import time
from types import ModuleType
from typing import Any

from sqlalchemy import create_engine, insert

from tests.store.released import tables_9a7ebdc, tables_18f2fe2

RELEASES: dict[str, ModuleType] = {"9a7ebdc": tables_9a7ebdc, "18f2fe2": tables_18f2fe2}
ITEMS = [{"text": f"quote {n}", "author": None} for n in range(3)]


def make_store(url: str, release: str, scheme: dict[str, Any], key: str) -> dict[str, str]:
    """A store of `release` holding tenant alice (API key `key`), one task with a completed
    run of two pages and three items; returns the ids."""
    tables = RELEASES[release]
    engine = create_engine(url)
    now = time.time()
    ids = {"tenant": "tn_old", "task": "t_old", "run": "r_old"}
    try:
        tables.metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(insert(tables.tenants).values(
                id=ids["tenant"], name="alice", webhook_secret="whsec_old", created_at=now))
            conn.execute(insert(tables.api_keys).values(
                id="k_old", tenant_id=ids["tenant"], name="alice",
                key_hash=hashlib.sha256(key.encode()).hexdigest(), created_at=now))
            conn.execute(insert(tables.tasks).values(
                id=ids["task"], tenant_id=ids["tenant"], name="old", tag="kept", kind="crawl",
                scheme=scheme, payload_id="0" * 32, run_id=ids["run"], created_at=now - 60,
                updated_at=now - 30))
            conn.execute(insert(tables.runs).values(
                id=ids["run"], task_id=ids["task"], status="completed", launcher="local",
                requests=2, pages=2, items=len(ITEMS), queued_at=now - 60,
                started_at=now - 59, ended_at=now - 30))
            conn.execute(insert(tables.pages), [
                {"id": f"p_old{n}", "task_id": ids["task"], "run_id": ids["run"],
                 "url": f"{scheme['start_urls'][0]}?n={n}", "state": "Handled", "depth": 0,
                 "http_status": 200, "created_at": now - 50 + n, "updated_at": now - 40 + n}
                for n in range(2)])
            conn.execute(insert(tables.items), [
                {"run_id": ids["run"], "task_id": ids["task"], "data": item} for item in ITEMS])
    finally:
        engine.dispose()
    return ids
