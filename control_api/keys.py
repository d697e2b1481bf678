"""API keys and tenants. Keys are shown once at creation and stored as SHA-256 hashes (they are
256-bit random tokens, so a fast hash is enough)."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import insert, select, update

from engine.ids import new_id
from engine.store import Row, Store
from engine.store.tables import api_keys, tenants

KEY_PREFIX = "cpk_"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id (for rate limits) and its tenant (for isolation)."""

    key_id: str
    tenant_id: str


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_secret() -> str:
    return "whsec_" + secrets.token_hex(32)


def ensure_tenant(store: Store, name: str) -> Row:
    with store.begin() as conn:
        row = conn.execute(select(tenants).where(tenants.c.name == name)).mappings().first()
        if row:
            return dict(row)
        tenant = {"id": new_id("tn"), "name": name, "webhook_secret": new_secret(),
                  "created_at": time.time()}
        conn.execute(insert(tenants).values(**tenant))
        return tenant


def create_key(store: Store, name: str, tenant: str | None = None) -> tuple[str, Row]:
    """A new key for `tenant` (default: a tenant named like the key); returns (key, record)."""
    owner = ensure_tenant(store, tenant or name)
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    record = {"id": new_id("k"), "tenant_id": owner["id"], "name": name,
              "key_hash": hash_key(key), "created_at": time.time(), "revoked_at": None}
    with store.begin() as conn:
        conn.execute(insert(api_keys).values(**record))
    return key, {**record, "tenant": owner["name"]}


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
    with store.begin() as conn:
        result = conn.execute(
            update(api_keys)
            .where((api_keys.c.id == key_id_or_name) | (api_keys.c.name == key_id_or_name))
            .where(api_keys.c.revoked_at.is_(None))
            .values(revoked_at=time.time())
        )
    return int(result.rowcount)


def authenticate(store: Store, key: str) -> Principal | None:
    with store.engine.connect() as conn:
        row = conn.execute(
            select(api_keys.c.id, api_keys.c.tenant_id)
            .where(api_keys.c.key_hash == hash_key(key), api_keys.c.revoked_at.is_(None))
        ).first()
    return Principal(row.id, row.tenant_id) if row else None


def find_tenant(store: Store, name: str) -> Row | None:
    with store.engine.connect() as conn:
        row = conn.execute(select(tenants).where(tenants.c.name == name)).mappings().first()
    return dict(row) if row else None


def webhook_secret(store: Store, tenant_id: str, rotate: bool = False) -> str:
    with store.begin() as conn:
        if rotate:
            conn.execute(update(tenants).where(tenants.c.id == tenant_id)
                         .values(webhook_secret=new_secret()))
        return str(conn.execute(select(tenants.c.webhook_secret)
                                .where(tenants.c.id == tenant_id)).scalar_one())
