"""Migrations build exactly the models' schema, on SQLite and on a Postgres schema."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from store.database import create_engine, normalize_url
from store.migrate import alembic_config, current, upgrade
from store.models import Base

Target = tuple[str, str | None]


@pytest.fixture
async def target(tmp_path: Path, postgres_url: str | None, run_id: str) -> AsyncIterator[Target]:
    """A fresh, empty store: a SQLite file, or its own Postgres schema (dropped after)."""
    if postgres_url is None:
        yield f"sqlite+aiosqlite:///{tmp_path}/nested/dir/store.sqlite3", None
        return
    schema = f"{run_id}_mig_{uuid.uuid4().hex[:8]}"
    yield postgres_url, schema
    engine = create_engine(postgres_url)
    async with engine.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    await engine.dispose()


def test_one_head() -> None:
    scripts = ScriptDirectory.from_config(alembic_config())
    assert scripts.get_heads() == ["0010_read_model_changes"]


async def test_upgrade_matches_models_and_is_repeatable(target: Target) -> None:
    url, schema = target
    assert await current(url, schema) is None
    await upgrade(url, schema)
    await upgrade(url, schema)  # a second run is a no-op
    assert await current(url, schema) == "0010_read_model_changes"
    engine = create_engine(url, schema=schema)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}), Base.metadata
                )
            )
    finally:
        await engine.dispose()
    assert diff == []


async def test_tables_live_in_the_schema(target: Target) -> None:
    url, schema = target
    await upgrade(url, schema)
    engine = create_engine(url, schema=schema)
    try:
        async with engine.connect() as conn:
            if schema is None:
                tables = {
                    r[0]
                    for r in await conn.execute(
                        text("SELECT name FROM sqlite_master WHERE type = 'table'")
                    )
                }
                assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
                assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
            else:
                tables = {
                    r[0]
                    for r in await conn.execute(
                        text(
                            "SELECT table_name FROM information_schema.tables"
                            " WHERE table_schema = :s"
                        ),
                        {"s": schema},
                    )
                }
                assert (await conn.execute(text("SELECT current_schema()"))).scalar() == schema
    finally:
        await engine.dispose()
    assert {
        "crosswalk_entries",
        "crosswalk_runs",
        "idempotency_keys",
        "transactions",
        "transaction_steps",
        "exception_items",
        "webhook_events",
        "reconciliation_runs",
        "audit_log",
        "audit_chain_head",
        "alembic_version",
    } <= tables


def test_plain_urls_get_the_async_drivers() -> None:
    assert normalize_url("sqlite:///x.db") == "sqlite+aiosqlite:///x.db"
    assert normalize_url("postgresql://u:p@h/db") == "postgresql+asyncpg://u:p@h/db"
    assert normalize_url("postgresql+asyncpg://u@h/db") == "postgresql+asyncpg://u@h/db"


async def test_0003_journal_downgrades_and_upgrades_again(target: Target) -> None:
    url, schema = target
    await upgrade(url, schema, "0002_idempotency")
    await upgrade(url, schema)
    engine = create_engine(url, schema=schema)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(
                lambda sync: command.downgrade(alembic_config(sync), "0002_idempotency")
            )
    finally:
        await engine.dispose()
    assert await current(url, schema) == "0002_idempotency"
    await upgrade(url, schema)
    assert await current(url, schema) == "0010_read_model_changes"


async def test_0005_consistency_downgrades_to_0004_and_upgrades_again(target: Target) -> None:
    url, schema = target
    await upgrade(url, schema)
    engine = create_engine(url, schema=schema)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(lambda sync: command.downgrade(alembic_config(sync), "0004_flows"))
    finally:
        await engine.dispose()
    assert await current(url, schema) == "0004_flows"
    await upgrade(url, schema)
    assert await current(url, schema) == "0010_read_model_changes"
