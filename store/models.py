"""Declarative models of the store; Alembic migrations must match them exactly.

The crosswalk and the idempotency records live here for now; the flow journal,
exception queue and audit log join this metadata in later revisions.
Tables are unqualified: on Postgres the engine's ``search_path`` picks the schema.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Deterministic constraint names, so migrations and autogenerate agree on both backends."""


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class CrosswalkEntryRow(Base):
    """One customer's ids in every system (canonical id = the CRM account id)."""

    __tablename__ = "crosswalk_entries"

    canonical_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    crm_id: Mapped[str] = mapped_column(String(64), nullable=False)
    billing_customer_id: Mapped[str | None] = mapped_column(String(64), index=True)
    erp_customer_id: Mapped[str | None] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    """LINKED, INCOMPLETE or AMBIGUOUS (see :class:`store.crosswalk.LinkStatus`)."""
    problems: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class CrosswalkRunRow(Base):
    """One rebuild of the crosswalk and what it found."""

    __tablename__ = "crosswalk_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    linked: Mapped[int] = mapped_column(Integer, nullable=False)
    incomplete: Mapped[int] = mapped_column(Integer, nullable=False)
    ambiguous: Mapped[int] = mapped_column(Integer, nullable=False)
    orphans: Mapped[int] = mapped_column(Integer, nullable=False)


class IdempotencyKeyRow(Base):
    """One idempotency key: who claimed it, for what, and the first result."""

    __tablename__ = "idempotency_keys"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    operation: Mapped[str] = mapped_column(String(64), nullable=False)
    input_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    """IN_PROGRESS or COMPLETED."""
    result: Mapped[Any | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, index=True
    )
