"""Indexes on the billing read model's ``as_of``: replicas ask what was written since.

Revision ID: 0010_read_model_changes
Revises: 0009_answer_read_model
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0010_read_model_changes"
down_revision: str | None = "0009_answer_read_model"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_billing_objects_as_of", "billing_objects", ["as_of"])
    op.create_index("ix_billing_lists_as_of", "billing_lists", ["as_of"])


def downgrade() -> None:
    op.drop_index("ix_billing_lists_as_of", table_name="billing_lists")
    op.drop_index("ix_billing_objects_as_of", table_name="billing_objects")
