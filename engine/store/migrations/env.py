"""Alembic's environment: migrations run on the connection `engine.store.schema.upgrade` hands
over (already in its transaction, holding the migration lock); there is no offline mode."""

from __future__ import annotations

from alembic import context

from engine.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through engine.store.schema.upgrade (or `crawlplane db "
                       "upgrade`), which opens the store and takes the migration lock")
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
