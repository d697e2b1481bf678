"""A run's outcome: failed pages counted by reason, and warnings (engine/outcome.py).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    present = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("runs")}
    for name in ("failures", "warnings"):
        if name not in present:
            op.add_column("runs", sa.Column(name, sa.JSON))


def downgrade() -> None:
    op.drop_column("runs", "warnings")
    op.drop_column("runs", "failures")
