"""Durable flows and the webhook inbox.

A transaction keeps its flow's input and a lease (which worker runs it, until
when), so another replica can resume it when that worker dies; a step keeps the
system's answer so a resumed flow skips it. Idempotency keys count their
replays. The webhook inbox holds every verified event before it is acknowledged.

Revision ID: 0004_flows
Revises: 0003_journal
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_flows"
down_revision: str | None = "0003_journal"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("transactions") as batch:
        batch.add_column(sa.Column("input", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("lease_owner", sa.String(64), nullable=True))
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_transactions_lease_until", ["lease_until"])
    with op.batch_alter_table("transaction_steps") as batch:
        batch.add_column(sa.Column("result", sa.JSON(), nullable=True))
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.add_column(
            sa.Column("replays", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
    op.create_table(
        "webhook_events",
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("event_id", sa.String(255), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("source", "event_id", name="pk_webhook_events"),
    )
    op.create_index("ix_webhook_events_subject", "webhook_events", ["subject"])
    op.create_index("ix_webhook_events_status", "webhook_events", ["status"])


def downgrade() -> None:
    op.drop_index("ix_webhook_events_status", "webhook_events")
    op.drop_index("ix_webhook_events_subject", "webhook_events")
    op.drop_table("webhook_events")
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.drop_column("replays")
    with op.batch_alter_table("transaction_steps") as batch:
        batch.drop_column("result")
    with op.batch_alter_table("transactions") as batch:
        batch.drop_index("ix_transactions_lease_until")
        batch.drop_column("lease_until")
        batch.drop_column("lease_owner")
        batch.drop_column("input")
