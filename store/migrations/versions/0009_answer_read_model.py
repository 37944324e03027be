"""The answer read model: stored hop answers of the systems that batch, and watermarks.

Revision ID: 0009_answer_read_model
Revises: 0008_billing_read_model
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_answer_read_model"
down_revision: str | None = "0008_billing_read_model"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stored_answers",
        sa.Column("system", sa.String(16), nullable=False),
        sa.Column("hop", sa.String(64), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("system", "hop", "key", name="pk_stored_answers"),
    )
    op.create_table(
        "answer_watermarks",
        sa.Column("system", sa.String(16), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("system", name="pk_answer_watermarks"),
    )


def downgrade() -> None:
    op.drop_table("answer_watermarks")
    op.drop_table("stored_answers")
