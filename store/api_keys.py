"""API keys: named credentials holding one role, of which the store keeps only a hash.

:meth:`ApiKeyRepository.create` returns the new key's secret once; nothing can
show it again. A key is *active* until it is revoked or its ``expires_at``
passes; :meth:`ApiKeyRepository.authenticate` accepts only active keys.

**The secret.** ``rg_<id>_<token>``: ``<id>`` is the key's id (``key_`` and 12
hex digits), so a secret in a log or a support ticket names its key;
``<token>`` is ``secrets.token_urlsafe(32)``, 43 URL-safe characters for 256
random bits. Anything else is malformed and refused without a query.

**The hash.** The store keeps ``sha256(secret).hexdigest()``, not the secret. A
plain SHA-256 is right here: slow, salted KDFs (bcrypt, scrypt, Argon2) exist to
make guessing low-entropy *passwords* from leaked hashes expensive, and a
256-bit random secret cannot be guessed however fast the hash is. A KDF would
only add its cost to every authenticated request; SHA-256 keeps authentication
one indexed query (the key's primary key, read from the secret) and one
constant-time comparison (:func:`hmac.compare_digest`), so the database never
compares anything derived from the secret.

Times are timezone-aware UTC (SQLite returns them naive: :func:`store.portable.as_utc`).
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.access import Identity, Role
from store.models import ApiKeyRow
from store.portable import as_utc, utcnow

__all__ = [
    "MAX_NAME_LENGTH",
    "SECRET_PREFIX",
    "ApiKey",
    "ApiKeyRepository",
    "KeyStatus",
    "hash_secret",
]

_KEYS = cast(Table, ApiKeyRow.__table__)
SECRET_PREFIX = "rg_"
MAX_NAME_LENGTH = 255
_SECRET = re.compile(r"rg_(key_[0-9a-f]{12})_[A-Za-z0-9_-]{43}")
_SECRET_LENGTH = len("rg_key_") + 12 + 1 + 43


class KeyStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key, without its secret (the store does not have it)."""

    id: str
    """``key_`` and 12 hex digits."""
    name: str
    role: Role
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    def status(self, now: datetime) -> KeyStatus:
        """REVOKED (whether or not it has expired since), EXPIRED, or ACTIVE at ``now``."""
        if self.revoked_at is not None:
            return KeyStatus.REVOKED
        if self.expires_at is not None and now >= self.expires_at:
            return KeyStatus.EXPIRED
        return KeyStatus.ACTIVE

    def active_at(self, now: datetime) -> bool:
        return self.status(now) is KeyStatus.ACTIVE

    @property
    def identity(self) -> Identity:
        """The caller this key authenticates: its name, its role, via ``api_key``."""
        return Identity(name=self.name, roles=frozenset({self.role}), via="api_key", key_id=self.id)


def hash_secret(secret: str) -> str:
    """What the store keeps of a secret (why SHA-256: see the module docstring)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _key_id_of(secret: str) -> str | None:
    """The key id inside a well-formed secret, or None."""
    if len(secret) != _SECRET_LENGTH:
        return None
    match = _SECRET.fullmatch(secret)
    return match.group(1) if match else None


def _valid_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise ValueError("an API key needs a name (it is what the audit log shows)")
    if len(name) > MAX_NAME_LENGTH:
        raise ValueError(
            f"an API key's name has at most {MAX_NAME_LENGTH} characters, not {len(name)}"
        )
    return name


def _key(row: Any) -> ApiKey:
    return ApiKey(
        id=row.id,
        name=row.name,
        role=Role(row.role),
        created_at=as_utc(row.created_at),
        expires_at=as_utc(row.expires_at),
        revoked_at=as_utc(row.revoked_at),
    )


class ApiKeyRepository:
    """Creates, lists, revokes and authenticates API keys through an :class:`AsyncEngine`.

    ``clock`` gives the current time (aware UTC): creation and revocation times,
    and the instant expiry is judged at.
    """

    def __init__(self, engine: AsyncEngine, clock: Callable[[], datetime] = utcnow) -> None:
        self._engine = engine
        self._clock = clock

    def _now(self) -> datetime:
        return as_utc(self._clock()).astimezone(UTC)

    async def create(
        self, name: str, role: Role, expires_at: datetime | None = None
    ) -> tuple[ApiKey, str]:
        """A new active key and its secret: the only time the secret is shown.

        Raises ValueError for an empty or too long name (at most 255 characters,
        surrounding blanks dropped), an unknown role, or an ``expires_at`` that
        is not after now (a naive ``expires_at`` is taken as UTC).
        """
        name = _valid_name(name)
        role = Role(role)
        now = self._now()
        expiry = as_utc(expires_at).astimezone(UTC) if expires_at is not None else None
        if expiry is not None and expiry <= now:
            raise ValueError(f"the key would be expired already: expires_at {expiry} is past")
        key = ApiKey(
            id=f"key_{secrets.token_hex(6)}",
            name=name,
            role=role,
            created_at=now,
            expires_at=expiry,
            revoked_at=None,
        )
        secret = f"{SECRET_PREFIX}{key.id}_{secrets.token_urlsafe(32)}"
        async with self._engine.begin() as conn:
            await conn.execute(
                insert(_KEYS).values(
                    id=key.id,
                    name=key.name,
                    role=key.role.value,
                    secret_hash=hash_secret(secret),
                    created_at=key.created_at,
                    expires_at=key.expires_at,
                    revoked_at=None,
                )
            )
        return key, secret

    async def get(self, key_id: str) -> ApiKey | None:
        async with self._engine.connect() as conn:
            return await self._get(conn, key_id)

    async def _get(self, conn: AsyncConnection, key_id: str) -> ApiKey | None:
        row = (await conn.execute(select(_KEYS).where(_KEYS.c.id == key_id))).first()
        return _key(row) if row is not None else None

    async def revoke(self, key_id: str) -> ApiKey | None:
        """Revoke the key (from now on it authenticates nobody); None if there is no such key.

        Revoking a revoked key changes nothing: it keeps its first ``revoked_at``.
        """
        async with self._engine.begin() as conn:
            await conn.execute(
                update(_KEYS)
                .where(_KEYS.c.id == key_id, _KEYS.c.revoked_at.is_(None))
                .values(revoked_at=self._now())
            )
            return await self._get(conn, key_id)

    async def revoke_named(self, prefix: str) -> int:
        """Revoke every active key whose name starts with ``prefix``; how many were.

        ``prefix`` is literal (``%`` and ``_`` are no wildcards) and may not be
        empty: revoking every key takes more than an empty string.
        """
        if not prefix:
            raise ValueError("revoke_named needs a non-empty name prefix")
        now = self._now()
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(_KEYS)
                .where(
                    _KEYS.c.name.startswith(prefix, autoescape=True),
                    _KEYS.c.revoked_at.is_(None),
                    _KEYS.c.expires_at.is_(None) | (_KEYS.c.expires_at > now),
                )
                .values(revoked_at=now)
            )
        return result.rowcount

    async def authenticate(self, secret: str) -> ApiKey | None:
        """The active key whose secret this is, or None.

        None for a malformed secret (no query is made), an unknown key, a wrong
        secret for a known key id, or a revoked or expired key.
        """
        key_id = _key_id_of(secret)
        if key_id is None:
            return None
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(_KEYS).where(_KEYS.c.id == key_id, _KEYS.c.revoked_at.is_(None))
                )
            ).first()
        if row is None or not hmac.compare_digest(row.secret_hash, hash_secret(secret)):
            return None
        key = _key(row)
        return key if key.active_at(self._now()) else None

    async def list(self, include_revoked: bool = True) -> builtins.list[ApiKey]:
        """Every key, oldest first (expired ones included); without the revoked ones
        unless ``include_revoked``."""
        query = select(_KEYS).order_by(_KEYS.c.created_at, _KEYS.c.id)
        if not include_revoked:
            query = query.where(_KEYS.c.revoked_at.is_(None))
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_key(r) for r in rows]
