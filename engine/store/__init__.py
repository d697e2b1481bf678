"""Persistence shared by the control API and crawl processes (see `store.py`)."""

from engine.store.schema import SchemaError
from engine.store.store import (
    ACTIVE_STATUSES,
    TERMINAL_STATUSES,
    Row,
    Store,
    preload_dialect,
    store_url,
)

__all__ = ["ACTIVE_STATUSES", "TERMINAL_STATUSES", "Row", "SchemaError", "Store",
           "preload_dialect", "store_url"]
