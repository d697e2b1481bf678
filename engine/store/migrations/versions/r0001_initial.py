"""The schema of the first release with migrations, written out (not metadata.create_all).

It also adopts a store made before migrations (by `metadata.create_all` of its day, which made
missing tables but never altered one): it creates only what is missing, so such a store gains
what later releases added to existing tables (ix_pages_task_state, the PostgreSQL hash index on
page URLs, a wider runs.launcher); tables added later (deliveries, schedules) came with their
indexes. On an empty store it creates everything.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.schema import SchemaItem

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _table(name: str, *items: SchemaItem) -> None:
    if not sa.inspect(op.get_bind()).has_table(name):
        op.create_table(name, *items)


def _index(name: str, table: str, columns: Sequence[str], **kw: Any) -> None:
    present = {ix["name"] for ix in sa.inspect(op.get_bind()).get_indexes(table)}
    if name not in present:
        op.create_index(name, table, list(columns), **kw)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    _table(
        "tenants",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("webhook_secret", sa.String(100), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    _table(
        "api_keys",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("revoked_at", sa.Float),
    )
    _table(
        "tasks",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("tenant_id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(500)),
        sa.Column("tag", sa.String(500)),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("scheme", sa.JSON, nullable=False),
        sa.Column("payload_id", sa.String(32), nullable=False),
        sa.Column("run_id", sa.String(40)),
        sa.Column("collected", sa.Boolean, nullable=False),
        sa.Column("callback_url", sa.Text),
        sa.Column("pingback_url", sa.Text),
        sa.Column("postback_url", sa.Text),
        sa.Column("postback_format", sa.String(10)),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    _index("ix_tasks_tenant_id", "tasks", ["tenant_id"])
    _index("ix_tasks_tenant_created", "tasks", ["tenant_id", "created_at", "id"])
    _table(
        "runs",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("task_id", sa.String(40), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("launcher", sa.String(100)),
        sa.Column("handle", sa.String(200)),
        sa.Column("cancel_requested", sa.Boolean, nullable=False),
        sa.Column("requests", sa.Integer, nullable=False),
        sa.Column("pages", sa.Integer, nullable=False),
        sa.Column("failed", sa.Integer, nullable=False),
        sa.Column("queued", sa.Integer, nullable=False),
        sa.Column("items", sa.Integer, nullable=False),
        sa.Column("queued_at", sa.Float, nullable=False),
        sa.Column("started_at", sa.Float),
        sa.Column("ended_at", sa.Float),
        sa.Column("heartbeat_at", sa.Float),
    )
    _index("ix_runs_task_id", "runs", ["task_id"])
    if dialect == "postgresql":
        # Stores made before caad02e have VARCHAR(40): too short for "scrapyd:<host>". SQLite
        # does not enforce a VARCHAR's length, so there it stays as declared.
        launcher = {c["name"]: c["type"] for c in sa.inspect(op.get_bind()).get_columns("runs")}
        if getattr(launcher["launcher"], "length", 100) < 100:
            op.alter_column("runs", "launcher", type_=sa.String(100))
    _table(
        "pages",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("task_id", sa.String(40), nullable=False),
        sa.Column("run_id", sa.String(40), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("state", sa.String(40), nullable=False),
        sa.Column("depth", sa.Integer, nullable=False),
        sa.Column("parent_id", sa.String(40)),
        sa.Column("http_status", sa.Integer),
        sa.Column("content_type", sa.String(200)),
        sa.Column("error", sa.Text),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    _index("ix_pages_task_id", "pages", ["task_id", "id"])
    _index("ix_pages_task_state", "pages", ["task_id", "state"])
    if dialect == "sqlite":
        _index("ix_pages_task_url", "pages", ["task_id", "url"])
    elif dialect == "postgresql":
        # PostgreSQL's btree refuses entries over 2704 bytes (long URLs exist): a hash index
        # on the URL instead; stores made before 593d2fe still have the btree one.
        op.execute("DROP INDEX IF EXISTS ix_pages_task_url")
        _index("ix_pages_url_hash", "pages", ["url"], postgresql_using="hash")
    _table(
        "download_infos",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("page_id", sa.String(40), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("info", sa.JSON, nullable=False),
    )
    _index("ix_download_infos_page_id", "download_infos", ["page_id"])
    _table(
        "page_bodies",
        sa.Column("page_id", sa.String(40), primary_key=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("encoding", sa.String(40)),
        sa.Column("etag", sa.String(500)),
        sa.Column("last_modified", sa.String(100)),
        sa.Column("body", sa.LargeBinary, nullable=False),
    )
    _table(
        "items",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(40), nullable=False),
        sa.Column("task_id", sa.String(40), nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
    )
    _index("ix_items_run", "items", ["run_id", "id"])
    _table(
        "deliveries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("delivery_id", sa.String(40), nullable=False),
        sa.Column("tenant_id", sa.String(40), nullable=False),
        sa.Column("task_id", sa.String(40), nullable=False),
        sa.Column("run_id", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("format", sa.String(10)),
        sa.Column("payload", sa.JSON),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.Column("error", sa.Text),
        sa.Column("at", sa.Float),
        sa.Column("next_attempt_at", sa.Float),
    )
    _index("ix_deliveries_task", "deliveries", ["task_id", "id"])
    _index("ix_deliveries_due", "deliveries", ["state", "next_attempt_at"])
    _table(
        "schedules",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("tenant_id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(500)),
        sa.Column("tag", sa.String(500)),
        sa.Column("cron", sa.String(200), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("task_id", sa.String(40), nullable=False),
        sa.Column("next_at", sa.Float, nullable=False),
        sa.Column("last_at", sa.Float),
        sa.Column("last_run_id", sa.String(40)),
        sa.Column("last_error", sa.Text),
        sa.Column("fired", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    _index("ix_schedules_tenant_id", "schedules", ["tenant_id"])
    _index("ix_schedules_next_at", "schedules", ["next_at"])


def downgrade() -> None:
    raise NotImplementedError("the first revision has no downgrade: restore a backup instead")
