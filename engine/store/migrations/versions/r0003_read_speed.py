"""Reads without file work or sorts: the sizes of a run's results files kept on the run (the
task object shows them without a stat per file), and tasks listed by (tenant, id) from an index.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    found = sa.inspect(op.get_bind())
    if "result_sizes" not in {c["name"] for c in found.get_columns("runs")}:
        op.add_column("runs", sa.Column("result_sizes", sa.JSON))
    if "ix_tasks_tenant_id_id" not in {ix["name"] for ix in found.get_indexes("tasks")}:
        op.create_index("ix_tasks_tenant_id_id", "tasks", ["tenant_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_tasks_tenant_id_id", "tasks")
    op.drop_column("runs", "result_sizes")
