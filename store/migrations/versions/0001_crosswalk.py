"""Crosswalk: canonical customer ids and rebuild runs.

Revision ID: 0001_crosswalk
Revises:
Create Date: 2026-11-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_crosswalk"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "crosswalk_entries",
        sa.Column("canonical_id", sa.String(64), nullable=False),
        sa.Column("crm_id", sa.String(64), nullable=False),
        sa.Column("billing_customer_id", sa.String(64), nullable=True),
        sa.Column("erp_customer_id", sa.String(64), nullable=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("problems", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("canonical_id", name="pk_crosswalk_entries"),
    )
    op.create_index(
        "ix_crosswalk_entries_billing_customer_id", "crosswalk_entries", ["billing_customer_id"]
    )
    op.create_index(
        "ix_crosswalk_entries_erp_customer_id", "crosswalk_entries", ["erp_customer_id"]
    )
    op.create_index("ix_crosswalk_entries_status", "crosswalk_entries", ["status"])
    op.create_table(
        "crosswalk_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("linked", sa.Integer(), nullable=False),
        sa.Column("incomplete", sa.Integer(), nullable=False),
        sa.Column("ambiguous", sa.Integer(), nullable=False),
        sa.Column("orphans", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_crosswalk_runs"),
    )


def downgrade() -> None:
    op.drop_table("crosswalk_runs")
    op.drop_index("ix_crosswalk_entries_status", "crosswalk_entries")
    op.drop_index("ix_crosswalk_entries_erp_customer_id", "crosswalk_entries")
    op.drop_index("ix_crosswalk_entries_billing_customer_id", "crosswalk_entries")
    op.drop_table("crosswalk_entries")
