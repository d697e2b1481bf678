"""Alembic's script directory for the store: env.py and versions/ (see engine/store/schema.py,
which configures Alembic programmatically and runs it)."""
