"""API keys and tenants. Keys are shown once at creation and stored as SHA-256 hashes (they are
256-bit random tokens, so a fast hash is enough)."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from engine.ids import new_id
from engine.store import Row, Store
from engine.store import keys as key_store
from engine.store.keys import find_tenant, list_keys, revoke_key

__all__ = ["Principal", "authenticate", "create_key", "ensure_tenant", "find_tenant",
           "hash_key", "list_keys", "revoke_key", "webhook_secret"]

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
    return key_store.ensure_tenant(store, name, new_secret())


def create_key(store: Store, name: str, tenant: str | None = None) -> tuple[str, Row]:
    """A new key for `tenant` (default: a tenant named like the key); returns (key, record)."""
    owner = ensure_tenant(store, tenant or name)
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    record = {"id": new_id("k"), "tenant_id": owner["id"], "name": name,
              "key_hash": hash_key(key), "created_at": time.time(), "revoked_at": None}
    key_store.add_key(store, record)
    return key, {**record, "tenant": owner["name"]}


def authenticate(store: Store, key: str) -> Principal | None:
    found = key_store.find_key(store, hash_key(key))
    return Principal(*found) if found else None


def webhook_secret(store: Store, tenant_id: str, rotate: bool = False) -> str:
    return key_store.webhook_secret(store, tenant_id, new_secret() if rotate else None)
