"""Transaction journal (transactions and their steps) and the exception queue.

Revision ID: 0003_journal
Revises: 0002_idempotency
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_journal"
down_revision: str | None = "0002_idempotency"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXES = {
    "transactions": ["kind", "subject", "status", "started_at", "idempotency_key"],
    "transaction_steps": ["system", "status"],
    "exception_items": ["queue", "status", "correlation_id"],
}


def upgrade() -> None:
    op.create_table(
        "transactions",
        sa.Column("correlation_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("current_system", sa.String(16), nullable=True),
        sa.Column("idempotency_key", sa.String(255), nullable=True),
        sa.PrimaryKeyConstraint("correlation_id", name="pk_transactions"),
    )
    op.create_table(
        "transaction_steps",
        sa.Column("correlation_id", sa.String(64), nullable=False),
        sa.Column("step_no", sa.Integer(), nullable=False),
        sa.Column("system", sa.String(16), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=True),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("created_id", sa.String(255), nullable=True),
        sa.Column("vendor_idempotency_key", sa.String(255), nullable=True),
        sa.ForeignKeyConstraint(
            ["correlation_id"],
            ["transactions.correlation_id"],
            name="fk_transaction_steps_correlation_id_transactions",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("correlation_id", "step_no", name="pk_transaction_steps"),
    )
    op.create_table(
        "exception_items",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("queue", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("correlation_id", sa.String(64), nullable=False),
        sa.Column("step_no", sa.Integer(), nullable=True),
        sa.Column("system", sa.String(16), nullable=True),
        sa.Column("action", sa.String(64), nullable=True),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("open_key", sa.String(80), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution_note", sa.Text(), nullable=True),
        sa.Column("resolved_by", sa.String(255), nullable=True),
        sa.ForeignKeyConstraint(
            ["correlation_id"],
            ["transactions.correlation_id"],
            name="fk_exception_items_correlation_id_transactions",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_exception_items"),
        sa.UniqueConstraint("open_key", name="uq_exception_items_open_key"),
    )
    for table, columns in _INDEXES.items():
        for column in columns:
            op.create_index(f"ix_{table}_{column}", table, [column])


def downgrade() -> None:
    for table, columns in _INDEXES.items():
        for column in columns:
            op.drop_index(f"ix_{table}_{column}", table)
    op.drop_table("exception_items")
    op.drop_table("transaction_steps")
    op.drop_table("transactions")
