"""``revgraph keys``: create prints a working secret once, list hides it, revoke ends it."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from typer.testing import CliRunner

from api.cli import app
from api.keys_cli import ROLE_NAMES
from domain.access import Role
from store.api_keys import ApiKey, ApiKeyRepository
from store.database import create_engine
from store.migrate import upgrade

T = TypeVar("T")


@pytest.fixture
def own_store(tmp_path: Path, postgres_url: str | None, run_id: str) -> dict[str, str]:
    """Settings for a migrated store of the test's own (a run-scoped Postgres schema is
    dropped with the run's others at the end of the session)."""
    if postgres_url is None:
        env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/keys.sqlite3"}
    else:
        schema = f"{run_id}_keys_{uuid.uuid4().hex[:8]}"
        env = {"DATABASE_URL": postgres_url, "REVGRAPH_DB_SCHEMA": schema}
    asyncio.run(upgrade(env["DATABASE_URL"], env.get("REVGRAPH_DB_SCHEMA")))
    return env


def with_repo(env: dict[str, str], work: Callable[[ApiKeyRepository], Awaitable[T]]) -> T:
    async def run() -> T:
        engine = create_engine(env["DATABASE_URL"], schema=env.get("REVGRAPH_DB_SCHEMA"))
        try:
            return await work(ApiKeyRepository(engine))
        finally:
            await engine.dispose()

    return asyncio.run(run())


def authenticate(env: dict[str, str], secret: str) -> ApiKey | None:
    return with_repo(env, lambda repo: repo.authenticate(secret))


def invoke(env: dict[str, str], *args: str) -> Any:
    """``revgraph keys ARGS`` on the store ``env`` names (and no schema from outside)."""
    return CliRunner().invoke(app, ["keys", *args], env={"REVGRAPH_DB_SCHEMA": "", **env})


def test_create_prints_a_secret_that_authenticates(own_store: dict[str, str]) -> None:
    result = invoke(own_store, "create", "--name", "ci-bot", "--role", "finance")
    assert result.exit_code == 0, result.output
    (secret,) = result.stdout.splitlines()
    assert secret.startswith("rg_key_")
    assert "shown only once" in result.stderr
    key = authenticate(own_store, secret)
    assert key is not None
    assert (key.name, key.role, key.expires_at) == ("ci-bot", Role.FINANCE, None)
    assert key.id in result.stderr


def test_create_with_an_expiry(own_store: dict[str, str]) -> None:
    result = invoke(
        own_store, "create", "--name", "temp", "--role", "VIEWER", "--expires-days", "7"
    )
    assert result.exit_code == 0, result.output
    key = authenticate(own_store, result.stdout.strip())
    assert key is not None and key.role is Role.VIEWER and key.expires_at is not None
    assert 6.9 < (key.expires_at - key.created_at).total_seconds() / 86400 <= 7


def test_list_shows_the_keys_but_never_their_secrets(own_store: dict[str, str]) -> None:
    secrets = []
    for name, role in (("ana", "admin"), ("bo", "viewer")):
        created = invoke(own_store, "create", "--name", name, "--role", role)
        assert created.exit_code == 0, created.output
        secrets.append(created.stdout.strip())
    first = authenticate(own_store, secrets[0])
    assert first is not None
    assert invoke(own_store, "revoke", first.id).exit_code == 0

    listed = invoke(own_store, "list", "--json")
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert [(r["name"], r["role"], r["status"]) for r in rows] == [
        ("ana", "admin", "revoked"),
        ("bo", "viewer", "active"),
    ]
    assert rows[0]["id"] == first.id and rows[0]["revoked_at"] is not None
    assert set(rows[0]) == {
        "id",
        "name",
        "role",
        "created_at",
        "expires_at",
        "revoked_at",
        "status",
    }

    table = invoke(own_store, "list")
    assert table.exit_code == 0, table.output
    assert first.id in table.stdout and "revoked" in table.stdout and "active" in table.stdout
    for output in (listed.output, table.output):
        for secret in secrets:
            assert secret not in output
            assert secret.rsplit("_", 1)[-1] not in output


def test_list_of_no_keys(own_store: dict[str, str]) -> None:
    result = invoke(own_store, "list")
    assert result.exit_code == 0, result.output
    assert "No API keys" in result.stdout
    assert json.loads(invoke(own_store, "list", "--json").stdout) == []


def test_revoke_makes_authenticate_fail(own_store: dict[str, str]) -> None:
    secret = invoke(own_store, "create", "--name", "ana", "--role", "approver").stdout.strip()
    key = authenticate(own_store, secret)
    assert key is not None
    result = invoke(own_store, "revoke", key.id)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"revoked {key.id}"
    assert authenticate(own_store, secret) is None
    again = invoke(own_store, "revoke", key.id)
    assert again.exit_code == 0 and "already revoked" in again.stdout


def test_revoke_an_unknown_key_exits_1(own_store: dict[str, str]) -> None:
    result = invoke(own_store, "revoke", "key_000000000000")
    assert result.exit_code == 1
    assert "No such key: key_000000000000" in result.stderr


def test_an_unknown_role_exits_2_naming_the_roles(own_store: dict[str, str]) -> None:
    result = invoke(own_store, "create", "--name", "ana", "--role", "root")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "viewer, sales_ops, approver, finance, admin" in result.stderr
    assert with_repo(own_store, lambda repo: repo.list()) == []


def test_a_bad_name_exits_2(own_store: dict[str, str]) -> None:
    result = invoke(own_store, "create", "--name", " ", "--role", "viewer")
    assert result.exit_code == 2
    assert "needs a name" in result.stderr and result.stdout == ""


def test_keys_want_a_migrated_store(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/empty.sqlite3"}
    result = invoke(env, "list")
    assert result.exit_code == 1
    assert "revgraph db upgrade" in result.stderr


def test_the_help_names_the_domain_roles() -> None:
    assert tuple(r.value for r in Role) == ROLE_NAMES
