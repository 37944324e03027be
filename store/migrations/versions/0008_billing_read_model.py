"""The billing read model: objects, complete lists per customer, the event cursor.

Revision ID: 0008_billing_read_model
Revises: 0007_access
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_billing_read_model"
down_revision: str | None = "0007_access"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "billing_objects",
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("id", sa.String(255), nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=True),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "id", name="pk_billing_objects"),
    )
    op.create_index("ix_billing_objects_customer_id", "billing_objects", ["customer_id"])
    op.create_table(
        "billing_lists",
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", "customer_id", name="pk_billing_lists"),
    )
    op.create_table(
        "read_model_cursors",
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("last_event_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_event_id", sa.String(255), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", name="pk_read_model_cursors"),
    )


def downgrade() -> None:
    op.drop_table("read_model_cursors")
    op.drop_table("billing_lists")
    op.drop_index("ix_billing_objects_customer_id", "billing_objects")
    op.drop_table("billing_objects")
