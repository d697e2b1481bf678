"""Tenants and their API keys (stored as hashes) and webhook secrets."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Connection

from engine.ids import new_id
from engine.store.tables import api_keys, tenants

if TYPE_CHECKING:
    from engine.store.store import Store

Row = dict[str, Any]


def ensure_tenant(store: Store, name: str, secret: str) -> Row:
    """The tenant named `name`, created (with webhook secret `secret`) if there is none."""
    with store.engine.begin() as conn:
        row = conn.execute(select(tenants).where(tenants.c.name == name)).mappings().first()
        if row:
            return dict(row)
        tenant = {"id": new_id("tn"), "name": name, "webhook_secret": secret,
                  "created_at": time.time()}
        conn.execute(insert(tenants).values(**tenant))
        return tenant


def add_key(store: Store, record: Row) -> None:
    with store.engine.begin() as conn:
        conn.execute(insert(api_keys).values(**record))


def list_keys(store: Store) -> list[Row]:
    query = (
        select(api_keys.c.id, api_keys.c.name, tenants.c.name.label("tenant"),
               api_keys.c.created_at, api_keys.c.revoked_at)
        .join(tenants, tenants.c.id == api_keys.c.tenant_id)
        .order_by(api_keys.c.created_at)
    )
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def revoke_key(store: Store, key_id_or_name: str) -> int:
    """Revoke keys by id or name; returns how many were revoked."""
    with store.engine.begin() as conn:
        result = conn.execute(
            update(api_keys)
            .where((api_keys.c.id == key_id_or_name) | (api_keys.c.name == key_id_or_name))
            .where(api_keys.c.revoked_at.is_(None))
            .values(revoked_at=time.time())
        )
    return int(result.rowcount)


Key = tuple[str, str]  # (key id, tenant id)
# Built once: every authenticated request asks (engine/store/store.py says why).
_KEY = select(api_keys.c.id, api_keys.c.tenant_id).where(
    api_keys.c.key_hash == bindparam("key_hash"), api_keys.c.revoked_at.is_(None))


def find_key(store: Store, key_hash: str) -> Key | None:
    """The (key id, tenant id) of a key that is not revoked, by its hash."""
    with store.reads.connect() as conn:
        return key_by_hash(conn, key_hash)


def key_by_hash(conn: Connection, key_hash: str) -> Key | None:
    """`find_key` on a connection the caller has (a read that checks the key on its way)."""
    row = conn.execute(_KEY, {"key_hash": key_hash}).first()
    return (row.id, row.tenant_id) if row else None


def find_tenant(store: Store, name: str) -> Row | None:
    with store.engine.connect() as conn:
        row = conn.execute(select(tenants).where(tenants.c.name == name)).mappings().first()
    return dict(row) if row else None


def webhook_secret(store: Store, tenant_id: str, replace_with: str | None = None) -> str:
    """The tenant's webhook secret, replaced first by `replace_with` when given."""
    with store.engine.begin() as conn:
        if replace_with is not None:
            conn.execute(update(tenants).where(tenants.c.id == tenant_id)
                         .values(webhook_secret=replace_with))
        return str(conn.execute(select(tenants.c.webhook_secret)
                                .where(tenants.c.id == tenant_id)).scalar_one())
