"""The durable frontier: pages rebuild their requests and are unique per run; items waiting for
detail pages; a run's crash count and who paused it.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

PAGE_COLUMNS = (
    ("key", sa.String(40)),
    ("page_no", sa.Integer),
    ("follow_depth", sa.Integer),
    ("detail", sa.String(200)),
    ("detail_value", sa.JSON),
    ("worker", sa.String(100)),
)


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    present = {c["name"] for c in inspector.get_columns("pages")}
    for name, type_ in PAGE_COLUMNS:
        if name not in present:
            op.add_column("pages", sa.Column(name, type_))
    op.create_index("ix_pages_run_key", "pages", ["run_id", "key"], unique=True)
    op.create_index("ix_pages_run_state", "pages", ["run_id", "state", "created_at"])
    present = {c["name"] for c in inspector.get_columns("runs")}
    if "tries" not in present:
        op.add_column("runs", sa.Column("tries", sa.Integer, nullable=False,
                                        server_default="0"))
    if "planned" not in present:
        op.add_column("runs", sa.Column("planned", sa.Integer, nullable=False,
                                        server_default="0"))
    if "paused_by" not in present:
        op.add_column("runs", sa.Column("paused_by", sa.String(100)))
    op.create_table(
        "pending_items",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("run_id", sa.String(40), nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("links", sa.JSON, nullable=False),
    )
    op.create_index("ix_pending_items_run_id", "pending_items", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_pending_items_run_id", "pending_items")
    op.drop_table("pending_items")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("paused_by")
        batch.drop_column("planned")
        batch.drop_column("tries")
    op.drop_index("ix_pages_run_state", "pages")
    op.drop_index("ix_pages_run_key", "pages")
    with op.batch_alter_table("pages") as batch:
        for name, _ in reversed(PAGE_COLUMNS):
            batch.drop_column(name)
