"""A host's last send time per run, shared by the run's crawl processes (its crawl delay holds
across them).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "host_sends",
        sa.Column("run_id", sa.String(40), primary_key=True),
        sa.Column("host", sa.String(300), primary_key=True),
        sa.Column("sent_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("host_sends")
