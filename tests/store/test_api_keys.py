"""API keys: secrets shown once and stored hashed; revoked, expired, malformed (both backends)."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.access import Identity, Role
from store.api_keys import ApiKey, ApiKeyRepository, KeyStatus
from store.models import ApiKeyRow

T0 = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


class Clock:
    """A clock the test moves."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def repo(store_engine: AsyncEngine, clock: Clock) -> ApiKeyRepository:
    return ApiKeyRepository(store_engine, clock=clock)


async def test_create_returns_the_secret_once_and_authenticate_accepts_it(
    repo: ApiKeyRepository,
) -> None:
    key, secret = await repo.create("ci-bot", Role.FINANCE)
    assert re.fullmatch(r"key_[0-9a-f]{12}", key.id)
    assert re.fullmatch(rf"rg_{key.id}_[A-Za-z0-9_-]{{43}}", secret)
    assert key == ApiKey(key.id, "ci-bot", Role.FINANCE, T0, None, None)
    assert key.status(T0) is KeyStatus.ACTIVE and key.active_at(T0)
    assert key.identity == Identity("ci-bot", frozenset({Role.FINANCE}), "api_key", key.id)

    assert await repo.authenticate(secret) == key
    assert await repo.get(key.id) == key
    # Read back as aware UTC on both backends.
    stored = await repo.get(key.id)
    assert stored is not None and stored.created_at.tzinfo is not None


async def test_only_the_sha256_of_the_secret_is_stored(
    repo: ApiKeyRepository, store_engine: AsyncEngine
) -> None:
    key, secret = await repo.create("ana", Role.ADMIN)
    table = ApiKeyRow.__table__
    assert isinstance(table, Table)
    async with store_engine.connect() as conn:
        row = (await conn.execute(select(table))).one()
    values = [str(v) for v in row]
    assert row.id == key.id
    assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    token = secret.removeprefix(f"rg_{key.id}_")
    assert not any(secret in v or token in v for v in values)


async def test_two_keys_have_different_ids_and_secrets(repo: ApiKeyRepository) -> None:
    a, secret_a = await repo.create("a", Role.VIEWER)
    b, secret_b = await repo.create("a", Role.VIEWER)
    assert a.id != b.id and secret_a != secret_b
    assert await repo.authenticate(secret_a) == a
    assert await repo.authenticate(secret_b) == b


@pytest.mark.parametrize(
    "malformed",
    [
        "",
        "rg_",
        "key_0123456789ab",
        "Bearer rg_key_0123456789ab_" + "A" * 43,
        "rg_key_0123456789ab_" + "A" * 42,
        "rg_key_0123456789ab_" + "A" * 44,
        "rg_key_0123456789AB_" + "A" * 43,
        "rg_key_0123456789ab_" + "A" * 42 + "=",
        "xx_key_0123456789ab_" + "A" * 43,
        "rg_key_0123456789ab_" + "A" * 43 + "\n",
    ],
)
async def test_malformed_secrets_fail_without_a_query(malformed: str) -> None:
    class Untouchable:
        """An engine that fails the test if the repository touches it."""

        def connect(self) -> None:
            raise AssertionError("a malformed secret must not reach the store")

        begin = connect

    repo = ApiKeyRepository(Untouchable())  # type: ignore[arg-type]
    assert await repo.authenticate(malformed) is None


async def test_wrong_and_unknown_secrets_fail(repo: ApiKeyRepository) -> None:
    key, secret = await repo.create("ana", Role.VIEWER)
    token = secret.removeprefix(f"rg_{key.id}_")
    other_token = ("B" if token[0] != "B" else "C") + token[1:]
    assert await repo.authenticate(f"rg_{key.id}_{other_token}") is None
    assert await repo.authenticate(f"rg_key_000000000000_{token}") is None
    assert await repo.authenticate(secret) == key


async def test_revoked_keys_fail_and_keep_their_first_revocation_time(
    repo: ApiKeyRepository, clock: Clock
) -> None:
    key, secret = await repo.create("ana", Role.APPROVER)
    clock.now = T0 + timedelta(minutes=5)
    revoked = await repo.revoke(key.id)
    assert revoked is not None and revoked.revoked_at == T0 + timedelta(minutes=5)
    assert revoked.status(clock.now) is KeyStatus.REVOKED
    assert await repo.authenticate(secret) is None

    clock.now = T0 + timedelta(minutes=9)
    again = await repo.revoke(key.id)
    assert again == revoked
    assert await repo.get(key.id) == revoked


async def test_revoking_an_unknown_key_gives_none(repo: ApiKeyRepository) -> None:
    assert await repo.revoke("key_000000000000") is None
    assert await repo.get("key_000000000000") is None


async def test_expired_keys_fail(repo: ApiKeyRepository, clock: Clock) -> None:
    key, secret = await repo.create("temp", Role.SALES_OPS, T0 + timedelta(hours=1))
    assert key.expires_at == T0 + timedelta(hours=1)
    assert await repo.authenticate(secret) == key
    clock.now = T0 + timedelta(minutes=59, seconds=59)
    assert await repo.authenticate(secret) == key
    clock.now = T0 + timedelta(hours=1)
    assert await repo.authenticate(secret) is None
    assert key.status(clock.now) is KeyStatus.EXPIRED


async def test_create_validates_name_role_and_expiry(repo: ApiKeyRepository) -> None:
    with pytest.raises(ValueError, match="needs a name"):
        await repo.create("   ", Role.VIEWER)
    with pytest.raises(ValueError, match="at most 255 characters"):
        await repo.create("n" * 256, Role.VIEWER)
    with pytest.raises(ValueError, match="expired already"):
        await repo.create("late", Role.VIEWER, T0)
    with pytest.raises(ValueError):
        await repo.create("who", "root")  # type: ignore[arg-type]
    key, _ = await repo.create("  " + "n" * 255 + " ", Role.VIEWER)
    assert key.name == "n" * 255
    assert await repo.list() == [key]


async def test_list_is_oldest_first_with_statuses(repo: ApiKeyRepository, clock: Clock) -> None:
    first, _ = await repo.create("first", Role.VIEWER)
    clock.now = T0 + timedelta(minutes=1)
    second, _ = await repo.create("second", Role.FINANCE, T0 + timedelta(minutes=2))
    clock.now = T0 + timedelta(minutes=3)
    third, _ = await repo.create("third", Role.ADMIN)
    revoked = await repo.revoke(first.id)
    assert revoked is not None

    keys = await repo.list()
    assert [k.id for k in keys] == [first.id, second.id, third.id]
    assert [k.status(clock.now) for k in keys] == [
        KeyStatus.REVOKED,
        KeyStatus.EXPIRED,
        KeyStatus.ACTIVE,
    ]
    assert keys == [revoked, second, third]
    assert await repo.list(include_revoked=False) == [second, third]


async def test_revoke_named_retires_the_active_keys_with_the_prefix(
    repo: ApiKeyRepository, clock: Clock
) -> None:
    demo_a, secret_a = await repo.create("demo-viewer", Role.VIEWER)
    _, secret_b = await repo.create("demo-admin", Role.ADMIN)
    gone, _ = await repo.create("demo-old", Role.VIEWER)
    expired, _ = await repo.create("demo-short", Role.VIEWER, T0 + timedelta(seconds=1))
    other, secret_other = await repo.create("demonstrator", Role.VIEWER)
    _, secret_wild = await repo.create("dem%_x", Role.VIEWER)
    await repo.revoke(gone.id)
    clock.now = T0 + timedelta(minutes=1)

    assert await repo.revoke_named("demo-") == 2
    assert await repo.authenticate(secret_a) is None
    assert await repo.authenticate(secret_b) is None
    assert await repo.authenticate(secret_other) == other
    by_id = {k.id: k for k in await repo.list()}
    assert by_id[demo_a.id].revoked_at == clock.now
    assert by_id[gone.id].revoked_at == T0  # untouched
    assert by_id[expired.id].revoked_at is None  # expired, not active
    # The prefix is literal: % and _ are no wildcards.
    assert await repo.revoke_named("dem%_") == 1
    assert await repo.authenticate(secret_wild) is None
    assert await repo.authenticate(secret_other) == other
    assert await repo.revoke_named("nobody") == 0
    with pytest.raises(ValueError):
        await repo.revoke_named("")
