"""The consistency cache: every rule's last verdict per subject, indexed for listing.

A *subject* is ``(SubjectKind, id)``: a customer, a contract or an invoice. Checks
are recomputed per customer, and :meth:`ConsistencyStore.replace_customer`
replaces everything a customer's previous recompute wrote (the customer, its
contracts, its invoices) in one optimistic transaction, so readers see either the
old or the new verdicts of a customer, never a mix. Each check has a *member*
name, ``"{kind}\\x1f{subject id}\\x1f{rule}"``: the checks of one subject sort
together, and the lexicographic order of members is the keyset order of
:meth:`~ConsistencyStore.list` (a cursor is a member, so pages stay stable while
other checks come and go).

Two backends with one behaviour, as in :mod:`store.cache`: Redis when
``REDIS_URL`` is set (every replica shares the verdicts), in-process otherwise.
Both expose a few Redis-like primitives (strings, lexicographically ordered sets,
score-ordered sets, hashes, ``WATCH``/``MULTI`` transactions) and the logic above
them is written once. Layout under ``{prefix}consistency:`` (``P``)::

    P chk:{member}         JSON: the check, its computed_at, its first_seen
    P subj:{kind}␟{id}      the subject's customer id (kept across drops)
    P cust:{customer}      JSON: computed_at, dropped, subjects, members
    P idx:all              zset (score 0, lex order) of every member
    P idx:status:{status}  zset: members with that status
    P idx:rule:{rule}      zset: members of that rule
    P idx:queue:{queue}    zset: members routed to that queue
    P idx:system:{system}  zset: members comparing that system
    P unresolved           zset: non-consistent members, score = first_seen (epoch s)
    P first_seen           hash: member → ISO first_seen (survives drops and recomputes)
    P variance             hash: member → "CUR|amount" (non-consistent checks with a variance)
    P customers            zset: customer id → computed_at (epoch s), tombstones included

Freshness: a write carries the instant its computation *started*
(``computed_at``); a write older than what the customer already holds (or than
the instant it was dropped: :meth:`~ConsistencyStore.drop_customer`) is refused,
so a slow recompute never overwrites a newer one. ``first_seen`` is when a check
was first seen not CONSISTENT in its current episode; it survives recomputes and
drops and is cleared when the check becomes CONSISTENT or disappears.
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import builtins
import json
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol, cast

from redis.asyncio import Redis
from redis.exceptions import WatchError

from domain.consistency.types import (
    Check,
    CheckStatus,
    Repair,
    RuleName,
    SubjectKind,
    SystemValue,
)
from domain.exception_items import ExceptionQueue
from domain.money import Money
from sources.systems import System

__all__ = [
    "CheckPage",
    "ConsistencyConflict",
    "ConsistencyStore",
    "ConsistencySummary",
    "CustomerResult",
    "MemoryConsistencyStore",
    "RedisConsistencyStore",
    "Report",
    "StoredCheck",
    "Subject",
    "cursor_of",
    "decode_check",
    "dump_check",
    "encode_check",
    "load_check",
    "open_consistency_store",
    "worst_status",
]

Subject = tuple[SubjectKind, str]
"""``(kind, id)`` of a customer, contract or invoice."""

NAMESPACE = "consistency:"
SEP = "\x1f"
"""Separates the parts of a member (sorts below every printable character, so
``C1`` and its checks come before ``C10``)."""
MAX_PAGE = 500
_MAX_ATTEMPTS = 50

_SEVERITY = {
    CheckStatus.CONSISTENT: 0,
    CheckStatus.PENDING: 1,
    CheckStatus.UNKNOWN: 2,
    CheckStatus.DRIFT: 3,
    CheckStatus.MISSING: 4,
}


def worst_status(statuses: Iterable[CheckStatus]) -> CheckStatus:
    """The most severe status (MISSING > DRIFT > UNKNOWN > PENDING > CONSISTENT);
    CONSISTENT when there is none."""
    return max(statuses, key=_SEVERITY.__getitem__, default=CheckStatus.CONSISTENT)


class ConsistencyConflict(RuntimeError):
    """A customer's verdicts kept changing under a write (more than ``_MAX_ATTEMPTS`` tries)."""


# --- answers ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredCheck:
    """A check as cached: when it was computed and since when it is unresolved."""

    check: Check
    computed_at: datetime
    first_seen: datetime | None
    """When this (rule, subject) was first seen not CONSISTENT in its current
    episode; None while it is CONSISTENT."""


@dataclass(frozen=True, slots=True)
class Report:
    """Every check of one subject, and where the answer came from."""

    subject_kind: SubjectKind
    subject_id: str
    customer_id: str
    checks: tuple[StoredCheck, ...]
    computed_at: datetime
    from_cache: bool

    @property
    def status(self) -> CheckStatus:
        """The subject's worst status (CONSISTENT when no rule applies)."""
        return worst_status(c.check.status for c in self.checks)


@dataclass(frozen=True, slots=True)
class CustomerResult:
    """What one recompute of a customer wrote (or would have written)."""

    customer_id: str
    computed_at: datetime
    checks: tuple[StoredCheck, ...]
    subjects: frozenset[Subject]
    written: bool
    """False when the store already held a newer computation (this one was refused)."""

    def report(self, kind: SubjectKind, subject_id: str, *, from_cache: bool) -> Report | None:
        """The subject's part of this result; None when the subject is not the customer's."""
        if (kind, subject_id) not in self.subjects:
            return None
        return Report(
            subject_kind=kind,
            subject_id=subject_id,
            customer_id=self.customer_id,
            checks=tuple(
                c
                for c in self.checks
                if c.check.subject_kind == kind and c.check.subject_id == subject_id
            ),
            computed_at=self.computed_at,
            from_cache=from_cache,
        )


@dataclass(frozen=True, slots=True)
class CheckPage:
    """One page of :meth:`ConsistencyStore.list`, in member order."""

    items: tuple[StoredCheck, ...]
    end_cursor: str | None
    has_next_page: bool
    total_count: int | None
    """Exact with at most one filter; None when several filters are combined."""
    computed_at: datetime | None
    """The oldest computation among the items (None for an empty page)."""
    from_cache: bool = True


@dataclass(frozen=True, slots=True)
class ConsistencySummary:
    """Counts over every cached check."""

    by_status: dict[CheckStatus, int]
    by_rule: dict[RuleName, int]
    """Checks per rule (all statuses)."""
    unreconciled_by_rule: dict[RuleName, int]
    """Checks per rule that are not CONSISTENT."""
    total: int
    unreconciled: int
    """Checks that are not CONSISTENT."""
    variance: tuple[Money, ...]
    """Sum of the absolute variances of unreconciled checks, one per currency (sorted)."""
    oldest_unresolved: datetime | None
    """The earliest ``first_seen`` of an unreconciled check."""
    customers: int
    computed_at: datetime | None
    """The oldest cached computation: every count is at least this fresh."""
    from_cache: bool = True


# --- serialization ------------------------------------------------------------------


def _dump_money(money: Money | None) -> dict[str, str] | None:
    if money is None:
        return None
    return {"amount": str(money.amount), "currency": money.currency}


def _load_money(data: Mapping[str, str] | None) -> Money | None:
    if data is None:
        return None
    return Money(Decimal(data["amount"]), data["currency"])


def dump_check(check: Check) -> dict[str, Any]:
    """A JSON-ready dict; amounts as decimal strings (exact, scale kept)."""
    return {
        "rule": check.rule.value,
        "subject_kind": check.subject_kind.value,
        "subject_id": check.subject_id,
        "customer_id": check.customer_id,
        "status": check.status.value,
        "message": check.message,
        "systems": [s.value for s in check.systems],
        "values": [
            {
                "system": v.system.value,
                "value": v.value,
                "money": _dump_money(v.money),
                "record_id": v.record_id,
                "readable": v.readable,
                "attribute": v.attribute,
            }
            for v in check.values
        ],
        "variance": _dump_money(check.variance),
        "queue": check.queue.value if check.queue is not None else None,
        "repair": (
            None
            if check.repair is None
            else {
                "kind": check.repair.kind,
                "description": check.repair.description,
                "correlation_id": check.repair.correlation_id,
            }
        ),
    }


def load_check(data: Mapping[str, Any]) -> Check:
    """The inverse of :func:`dump_check`."""
    repair = data.get("repair")
    queue = data.get("queue")
    return Check(
        rule=RuleName(data["rule"]),
        subject_kind=SubjectKind(data["subject_kind"]),
        subject_id=data["subject_id"],
        customer_id=data["customer_id"],
        status=CheckStatus(data["status"]),
        message=data["message"],
        systems=tuple(System(s) for s in data["systems"]),
        values=tuple(
            SystemValue(
                system=System(v["system"]),
                value=v["value"],
                money=_load_money(v.get("money")),
                record_id=v.get("record_id"),
                readable=v.get("readable", True),
                attribute=v.get("attribute"),
            )
            for v in data.get("values", ())
        ),
        variance=_load_money(data.get("variance")),
        queue=ExceptionQueue(queue) if queue is not None else None,
        repair=(
            None
            if repair is None
            else Repair(
                kind=repair["kind"],
                description=repair["description"],
                correlation_id=repair.get("correlation_id"),
            )
        ),
    )


def encode_check(check: Check) -> bytes:
    return json.dumps(dump_check(check), separators=(",", ":")).encode()


def decode_check(raw: bytes) -> Check:
    return load_check(json.loads(raw))


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("consistency times must be timezone-aware")
    return value.astimezone(UTC)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def _parse(value: str | bytes) -> datetime:
    text = value.decode() if isinstance(value, bytes) else value
    return _utc(datetime.fromisoformat(text))


def _member(kind: SubjectKind, subject_id: str, rule: RuleName) -> str:
    return f"{kind.value}{SEP}{subject_id}{SEP}{rule.value}"


def cursor_of(check: Check) -> str:
    """The ``after`` cursor that continues a listing right after ``check``."""
    return _encode_cursor(_member_of(check))


def _member_of(check: Check) -> str:
    return _member(check.subject_kind, check.subject_id, check.rule)


def _subject_prefix(kind: SubjectKind, subject_id: str) -> str:
    return f"{kind.value}{SEP}{subject_id}{SEP}"


def _subject_name(subject: Subject) -> str:
    return f"{subject[0].value}{SEP}{subject[1]}"


def _parse_subject(name: str) -> Subject:
    kind, subject_id = name.split(SEP, 1)
    return SubjectKind(kind), subject_id


IDX_ALL = "idx:all"
UNRESOLVED = "unresolved"
FIRST_SEEN = "first_seen"
VARIANCE = "variance"
CUSTOMERS = "customers"


def _idx_status(status: CheckStatus) -> str:
    return f"idx:status:{status.value}"


def _idx_rule(rule: RuleName) -> str:
    return f"idx:rule:{rule.value}"


def _idx_queue(queue: ExceptionQueue) -> str:
    return f"idx:queue:{queue.value}"


def _idx_system(system: System) -> str:
    return f"idx:system:{system.value}"


def _index_keys(check: Check) -> set[str]:
    keys = {IDX_ALL, _idx_status(check.status), _idx_rule(check.rule)}
    if check.queue is not None:
        keys.add(_idx_queue(check.queue))
    keys.update(_idx_system(s) for s in check.systems)
    return keys


def _chk(member: str) -> str:
    return f"chk:{member}"


def _subj(subject: Subject) -> str:
    return f"subj:{_subject_name(subject)}"


def _cust(customer_id: str) -> str:
    return f"cust:{customer_id}"


def _encode_cursor(member: str) -> str:
    return base64.urlsafe_b64encode(member.encode()).decode()


def _decode_cursor(after: str) -> str:
    try:
        member = base64.urlsafe_b64decode(after.encode()).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"invalid cursor {after!r}") from exc
    if member.count(SEP) != 2:
        raise ValueError(f"invalid cursor {after!r}")
    return member


@dataclass(frozen=True, slots=True)
class _CustomerDoc:
    computed_at: datetime
    dropped: bool
    subjects: frozenset[Subject]
    members: tuple[str, ...]

    def encode(self) -> bytes:
        return json.dumps(
            {
                "computed_at": _iso(self.computed_at),
                "dropped": self.dropped,
                "subjects": sorted(_subject_name(s) for s in self.subjects),
                "members": list(self.members),
            },
            separators=(",", ":"),
        ).encode()

    @staticmethod
    def decode(raw: bytes) -> _CustomerDoc:
        data = json.loads(raw)
        return _CustomerDoc(
            computed_at=_parse(data["computed_at"]),
            dropped=bool(data["dropped"]),
            subjects=frozenset(_parse_subject(s) for s in data["subjects"]),
            members=tuple(data["members"]),
        )


def _encode_stored(stored: StoredCheck) -> bytes:
    return json.dumps(
        {
            "check": dump_check(stored.check),
            "computed_at": _iso(stored.computed_at),
            "first_seen": _iso(stored.first_seen) if stored.first_seen else None,
        },
        separators=(",", ":"),
    ).encode()


def _decode_stored(raw: bytes) -> StoredCheck:
    data = json.loads(raw)
    first_seen = data.get("first_seen")
    return StoredCheck(
        check=load_check(data["check"]),
        computed_at=_parse(data["computed_at"]),
        first_seen=_parse(first_seen) if first_seen else None,
    )


# --- backend primitives ---------------------------------------------------------------

_Op = tuple[Any, ...]
"""A queued write: ``("set", key, bytes)``, ``("del", key)``, ``("zadd", key, {m: score})``,
``("zrem", key, member)``, ``("hset", key, field, bytes)``, ``("hdel", key, field)``."""


class _Tx(Protocol):
    """An optimistic transaction: watch keys, read, queue writes, execute."""

    async def watch(self, *keys: str) -> None: ...

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]: ...

    async def hmget(self, key: str, fields: Sequence[str]) -> list[bytes | None]: ...

    def queue(self, op: _Op) -> None: ...

    async def execute(self) -> bool:
        """Apply the queued writes at once; False (nothing written) when a watched key
        changed since it was watched."""
        ...


class _Backend(Protocol):
    def transaction(self) -> Any:
        """An async context manager yielding a :class:`_Tx`."""
        ...

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]: ...

    async def zcard_many(self, keys: Sequence[str]) -> list[int]: ...

    async def zintercard_many(self, pairs: Sequence[tuple[str, str]]) -> list[int]:
        """For each pair of sorted sets, how many members they share."""
        ...

    async def zrange_lex(self, key: str, after: str | None, limit: int) -> list[str]:
        """Members after ``after`` (exclusive) in lexicographic order."""
        ...

    async def zcontains(self, key: str, members: Sequence[str]) -> list[bool]: ...

    async def zlowest(
        self, key: str, limit: int, below: float | None = None
    ) -> list[tuple[str, float]]:
        """The lowest-scored members (scores < ``below`` when given), lowest first."""
        ...

    async def hvals(self, key: str) -> list[bytes]: ...

    async def hget_many(self, key: str, fields: Sequence[str]) -> list[bytes | None]: ...

    async def ping(self) -> None: ...

    async def aclose(self) -> None: ...


class _ZSet:
    """An in-process sorted set: lexicographic order and score order, both by bisection."""

    __slots__ = ("by_score", "lex", "scores")

    def __init__(self) -> None:
        self.scores: dict[str, float] = {}
        self.lex: list[str] = []
        self.by_score: list[tuple[float, str]] = []

    def add(self, member: str, score: float) -> None:
        old = self.scores.get(member)
        if old is not None:
            if old == score:
                return
            self.by_score.pop(bisect.bisect_left(self.by_score, (old, member)))
        else:
            bisect.insort(self.lex, member)
        self.scores[member] = score
        bisect.insort(self.by_score, (score, member))

    def remove(self, member: str) -> None:
        old = self.scores.pop(member, None)
        if old is None:
            return
        self.lex.pop(bisect.bisect_left(self.lex, member))
        self.by_score.pop(bisect.bisect_left(self.by_score, (old, member)))


class _MemoryData:
    def __init__(self) -> None:
        self.strings: dict[str, bytes] = {}
        self.zsets: dict[str, _ZSet] = {}
        self.hashes: dict[str, dict[str, bytes]] = {}
        self.versions: dict[str, int] = {}

    def apply(self, op: _Op) -> None:
        kind, key = op[0], op[1]
        self.versions[key] = self.versions.get(key, 0) + 1
        if kind == "set":
            self.strings[key] = op[2]
        elif kind == "del":
            self.strings.pop(key, None)
        elif kind == "zadd":
            zset = self.zsets.setdefault(key, _ZSet())
            for member, score in op[2].items():
                zset.add(member, float(score))
        elif kind == "zrem":
            found = self.zsets.get(key)
            if found is not None:
                found.remove(op[2])
                if not found.scores:
                    del self.zsets[key]
        elif kind == "hset":
            self.hashes.setdefault(key, {})[op[2]] = op[3]
        elif kind == "hdel":
            fields = self.hashes.get(key)
            if fields is not None:
                fields.pop(op[2], None)
                if not fields:
                    del self.hashes[key]
        else:  # pragma: no cover - programming error
            raise ValueError(f"unknown op {kind}")


class _MemoryTx:
    def __init__(self, data: _MemoryData) -> None:
        self._data = data
        self._watched: dict[str, int] = {}
        self._ops: list[_Op] = []

    async def watch(self, *keys: str) -> None:
        for key in keys:
            self._watched.setdefault(key, self._data.versions.get(key, 0))

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        return [self._data.strings.get(k) for k in keys]

    async def hmget(self, key: str, fields: Sequence[str]) -> list[bytes | None]:
        found = self._data.hashes.get(key, {})
        return [found.get(f) for f in fields]

    def queue(self, op: _Op) -> None:
        self._ops.append(op)

    async def execute(self) -> bool:
        # No await between the check and the writes: atomic for every coroutine of
        # the process (the in-process backend serves one process only).
        if any(self._data.versions.get(k, 0) != v for k, v in self._watched.items()):
            return False
        for op in self._ops:
            self._data.apply(op)
        return True


class _MemoryBackend:
    def __init__(self) -> None:
        self._data = _MemoryData()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_MemoryTx]:
        yield _MemoryTx(self._data)

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        return [self._data.strings.get(k) for k in keys]

    async def zcard_many(self, keys: Sequence[str]) -> list[int]:
        return [len(self._data.zsets[k].scores) if k in self._data.zsets else 0 for k in keys]

    async def zintercard_many(self, pairs: Sequence[tuple[str, str]]) -> list[int]:
        def members(key: str) -> set[str]:
            zset = self._data.zsets.get(key)
            return set(zset.scores) if zset is not None else set()

        return [len(members(a) & members(b)) for a, b in pairs]

    async def zrange_lex(self, key: str, after: str | None, limit: int) -> list[str]:
        zset = self._data.zsets.get(key)
        if zset is None:
            return []
        start = 0 if after is None else bisect.bisect_right(zset.lex, after)
        return zset.lex[start : start + limit]

    async def zcontains(self, key: str, members: Sequence[str]) -> list[bool]:
        zset = self._data.zsets.get(key)
        return [zset is not None and m in zset.scores for m in members]

    async def zlowest(
        self, key: str, limit: int, below: float | None = None
    ) -> list[tuple[str, float]]:
        zset = self._data.zsets.get(key)
        if zset is None:
            return []
        found: list[tuple[str, float]] = []
        for score, member in zset.by_score:
            if len(found) >= limit or (below is not None and score >= below):
                break
            found.append((member, score))
        return found

    async def hvals(self, key: str) -> list[bytes]:
        return list(self._data.hashes.get(key, {}).values())

    async def hget_many(self, key: str, fields: Sequence[str]) -> list[bytes | None]:
        found = self._data.hashes.get(key, {})
        return [found.get(f) for f in fields]

    async def ping(self) -> None:
        return None

    async def aclose(self) -> None:
        self._data = _MemoryData()


class _RedisTx:
    def __init__(self, pipe: Any, prefix: str) -> None:
        self._pipe = pipe
        self._prefix = prefix
        self._ops: list[_Op] = []

    async def watch(self, *keys: str) -> None:
        if keys:
            await self._pipe.watch(*[self._prefix + k for k in keys])

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        if not keys:
            return []
        return cast(list[bytes | None], await self._pipe.mget([self._prefix + k for k in keys]))

    async def hmget(self, key: str, fields: Sequence[str]) -> list[bytes | None]:
        if not fields:
            return []
        return cast(list[bytes | None], await self._pipe.hmget(self._prefix + key, list(fields)))

    def queue(self, op: _Op) -> None:
        self._ops.append(op)

    async def execute(self) -> bool:
        pipe, p = self._pipe, self._prefix
        pipe.multi()
        for op in self._ops:
            kind, key = op[0], p + op[1]
            if kind == "set":
                pipe.set(key, op[2])
            elif kind == "del":
                pipe.delete(key)
            elif kind == "zadd":
                pipe.zadd(key, op[2])
            elif kind == "zrem":
                pipe.zrem(key, op[2])
            elif kind == "hset":
                pipe.hset(key, op[2], op[3])
            elif kind == "hdel":
                pipe.hdel(key, op[2])
            else:  # pragma: no cover - programming error
                raise ValueError(f"unknown op {kind}")
        try:
            await pipe.execute()
        except WatchError:
            return False
        return True


class _RedisBackend:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_RedisTx]:
        async with self._redis.pipeline(transaction=True) as pipe:
            yield _RedisTx(pipe, self._prefix)

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        if not keys:
            return []
        return cast(list[bytes | None], await self._redis.mget([self._prefix + k for k in keys]))

    async def zcard_many(self, keys: Sequence[str]) -> list[int]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.zcard(self._prefix + key)
            return [int(n) for n in await pipe.execute()]

    async def zintercard_many(self, pairs: Sequence[tuple[str, str]]) -> list[int]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for a, b in pairs:  # ZINTERCARD (Redis 7): counted on the server
                pipe.execute_command("ZINTERCARD", 2, self._prefix + a, self._prefix + b)
            return [int(n) for n in await pipe.execute()]

    async def zrange_lex(self, key: str, after: str | None, limit: int) -> list[str]:
        low = "-" if after is None else "(" + after
        found = await self._redis.zrangebylex(self._prefix + key, low, "+", 0, limit)
        return [m.decode() if isinstance(m, bytes) else str(m) for m in found]

    async def zcontains(self, key: str, members: Sequence[str]) -> list[bool]:
        if not members:
            return []
        scores = await self._redis.zmscore(self._prefix + key, list(members))
        return [s is not None for s in scores]

    async def zlowest(
        self, key: str, limit: int, below: float | None = None
    ) -> list[tuple[str, float]]:
        high: str | float = "+inf" if below is None else f"({below!r}"
        found = await self._redis.zrangebyscore(
            self._prefix + key, "-inf", high, start=0, num=limit, withscores=True
        )
        return [
            (m.decode() if isinstance(m, bytes) else str(m), float(s))
            for m, s in cast(list[tuple[bytes, float]], found)
        ]

    async def hvals(self, key: str) -> list[bytes]:
        return cast(list[bytes], await self._redis.hvals(self._prefix + key))

    async def hget_many(self, key: str, fields: Sequence[str]) -> list[bytes | None]:
        if not fields:
            return []
        return cast(list[bytes | None], await self._redis.hmget(self._prefix + key, list(fields)))

    async def ping(self) -> None:
        await self._redis.ping()

    async def aclose(self) -> None:
        await self._redis.aclose()


# --- the store --------------------------------------------------------------------------


class ConsistencyStore:
    """Cached verdicts per subject, indexed by status, rule, queue and system.

    Use :class:`MemoryConsistencyStore` or :class:`RedisConsistencyStore` (or
    :func:`open_consistency_store`); every method behaves the same on both.
    """

    def __init__(self, backend: _Backend) -> None:
        self._b = backend

    # --- writes ---

    async def replace_customer(
        self,
        customer_id: str,
        checks: Sequence[Check],
        *,
        computed_at: datetime,
        subjects: Iterable[Subject] = (),
    ) -> CustomerResult:
        """Replace everything the customer's previous computation wrote with ``checks``.

        The customer's subjects are the customer itself, every subject of ``checks``
        and ``subjects`` (a contract or invoice no rule reported on is still known
        to be the customer's). Refused (``written=False``) when the store holds a
        computation of this customer that started after ``computed_at`` or was
        dropped after it. A subject another customer has taken over since (a
        contract moved accounts) is left to that customer.
        """
        computed_at = _utc(computed_at)
        by_member: dict[str, Check] = {}
        for check in checks:
            if check.customer_id != customer_id:
                raise ValueError(f"check {check} is not of customer {customer_id}")
            member = _member_of(check)
            if member in by_member:
                raise ValueError(f"two checks of {check.rule} on {check.subject_id}")
            by_member[member] = check
        new_subjects = frozenset(
            {(SubjectKind.CUSTOMER, customer_id)}
            | {(c.subject_kind, c.subject_id) for c in checks}
            | set(subjects)
        )
        for _ in range(_MAX_ATTEMPTS):
            async with self._b.transaction() as tx:
                result = await self._replace(tx, customer_id, by_member, new_subjects, computed_at)
                if result is not None:
                    return result
        raise ConsistencyConflict(customer_id)

    async def _replace(
        self,
        tx: _Tx,
        customer_id: str,
        by_member: dict[str, Check],
        new_subjects: frozenset[Subject],
        computed_at: datetime,
    ) -> CustomerResult | None:
        cust_key = _cust(customer_id)
        await tx.watch(cust_key)
        (raw,) = await tx.get_many([cust_key])
        old = _CustomerDoc.decode(raw) if raw is not None else None
        if old is not None and old.computed_at > computed_at:
            return CustomerResult(
                customer_id=customer_id,
                computed_at=computed_at,
                checks=tuple(StoredCheck(c, computed_at, None) for c in by_member.values()),
                subjects=new_subjects,
                written=False,
            )
        old_members = set(old.members) if old else set()
        gone_members = sorted(old_members - by_member.keys())
        touched = sorted(by_member) + gone_members
        gone_subjects = sorted((old.subjects if old else frozenset()) - new_subjects)
        keys = [_chk(m) for m in touched] + [_subj(s) for s in gone_subjects]
        await tx.watch(*keys)
        values = await tx.get_many(keys)
        current = {
            m: _decode_stored(v) for m, v in zip(touched, values, strict=False) if v is not None
        }
        owners = dict(zip(gone_subjects, values[len(touched) :], strict=True))
        seen = dict(zip(by_member, await tx.hmget(FIRST_SEEN, list(by_member)), strict=True))

        stored: list[StoredCheck] = []
        for member, check in by_member.items():
            before = current.get(member)
            new_keys = _index_keys(check)
            if before is not None:
                for key in _index_keys(before.check) - new_keys:
                    tx.queue(("zrem", key, member))
            for key in new_keys:
                tx.queue(("zadd", key, {member: 0}))
            first_seen: datetime | None = None
            if check.status is CheckStatus.CONSISTENT:
                tx.queue(("hdel", FIRST_SEEN, member))
                tx.queue(("zrem", UNRESOLVED, member))
                tx.queue(("hdel", VARIANCE, member))
            else:
                earlier = seen.get(member)
                first_seen = _parse(earlier) if earlier is not None else computed_at
                tx.queue(("hset", FIRST_SEEN, member, _iso(first_seen).encode()))
                tx.queue(("zadd", UNRESOLVED, {member: first_seen.timestamp()}))
                if check.variance is not None:
                    amount = f"{check.variance.currency}|{abs(check.variance.amount)}"
                    tx.queue(("hset", VARIANCE, member, amount.encode()))
                else:
                    tx.queue(("hdel", VARIANCE, member))
            item = StoredCheck(check, computed_at, first_seen)
            tx.queue(("set", _chk(member), _encode_stored(item)))
            stored.append(item)
        for member in gone_members:
            before = current.get(member)
            if before is not None and before.check.customer_id != customer_id:
                continue  # another customer's now
            self._forget(tx, member, before)
        for subject in new_subjects:
            tx.queue(("set", _subj(subject), customer_id.encode()))
        for subject in gone_subjects:
            owner = owners.get(subject)
            if owner is None or owner.decode() == customer_id:
                tx.queue(("del", _subj(subject)))
        doc = _CustomerDoc(computed_at, False, new_subjects, tuple(sorted(by_member)))
        tx.queue(("set", cust_key, doc.encode()))
        tx.queue(("zadd", CUSTOMERS, {customer_id: computed_at.timestamp()}))
        if not await tx.execute():
            return None
        return CustomerResult(
            customer_id=customer_id,
            computed_at=computed_at,
            checks=tuple(stored),
            subjects=new_subjects,
            written=True,
        )

    @staticmethod
    def _unindex(tx: _Tx, member: str, before: StoredCheck | None) -> None:
        if before is not None:
            for key in _index_keys(before.check):
                tx.queue(("zrem", key, member))
        tx.queue(("zrem", UNRESOLVED, member))
        tx.queue(("hdel", VARIANCE, member))
        tx.queue(("del", _chk(member)))

    def _forget(self, tx: _Tx, member: str, before: StoredCheck | None) -> None:
        self._unindex(tx, member, before)
        tx.queue(("hdel", FIRST_SEEN, member))

    async def drop_customer(self, customer_id: str, *, at: datetime) -> bool:
        """Forget the customer's verdicts until a computation started at or after ``at``
        is written (an invalidation: a webhook or mutation changed the customer).

        The subjects' owner and the checks' ``first_seen`` are kept. False when the
        customer held nothing newer than a previous drop (nothing to do).
        """
        at = _utc(at)
        for _ in range(_MAX_ATTEMPTS):
            async with self._b.transaction() as tx:
                cust_key = _cust(customer_id)
                await tx.watch(cust_key)
                (raw,) = await tx.get_many([cust_key])
                old = _CustomerDoc.decode(raw) if raw is not None else None
                if old is not None and old.computed_at >= at:
                    return False  # already dropped, or recomputed since ``at``
                members = list(old.members) if old else []
                await tx.watch(*[_chk(m) for m in members])
                values = await tx.get_many([_chk(m) for m in members])
                for member, value in zip(members, values, strict=True):
                    before = _decode_stored(value) if value is not None else None
                    if before is not None and before.check.customer_id != customer_id:
                        continue
                    self._unindex(tx, member, before)
                stamp = max(at, old.computed_at) if old else at
                subjects = old.subjects if old else frozenset({(SubjectKind.CUSTOMER, customer_id)})
                tx.queue(("set", cust_key, _CustomerDoc(stamp, True, subjects, ()).encode()))
                tx.queue(("zadd", CUSTOMERS, {customer_id: stamp.timestamp()}))
                if await tx.execute():
                    return True
        raise ConsistencyConflict(customer_id)

    async def remove_customer(self, customer_id: str) -> bool:
        """Forget the customer entirely (it no longer exists); False if it was unknown."""
        for _ in range(_MAX_ATTEMPTS):
            async with self._b.transaction() as tx:
                result = await self._remove(tx, customer_id, None)
                if result is not None:
                    return result
        raise ConsistencyConflict(customer_id)

    async def _remove(self, tx: _Tx, customer_id: str, before: float | None) -> bool | None:
        cust_key = _cust(customer_id)
        await tx.watch(cust_key)
        (raw,) = await tx.get_many([cust_key])
        if raw is None:
            tx.queue(("zrem", CUSTOMERS, customer_id))
            return None if not await tx.execute() else False
        old = _CustomerDoc.decode(raw)
        if before is not None and old.computed_at.timestamp() >= before:
            return False  # recomputed meanwhile: still there
        members = list(old.members)
        subjects = sorted(old.subjects)
        keys = [_chk(m) for m in members] + [_subj(s) for s in subjects]
        await tx.watch(*keys)
        values = await tx.get_many(keys)
        for member, value in zip(members, values, strict=False):
            stored = _decode_stored(value) if value is not None else None
            if stored is not None and stored.check.customer_id != customer_id:
                continue
            self._forget(tx, member, stored)
        # A dropped customer's checks are gone but their first_seen is kept: forget it too.
        for subject in subjects:
            for rule in RuleName:
                tx.queue(("hdel", FIRST_SEEN, _member(subject[0], subject[1], rule)))
        for subject, owner in zip(subjects, values[len(members) :], strict=True):
            if owner is None or owner.decode() == customer_id:
                tx.queue(("del", _subj(subject)))
        tx.queue(("del", cust_key))
        tx.queue(("zrem", CUSTOMERS, customer_id))
        return True if await tx.execute() else None

    async def remove_stale(self, *, before: datetime, batch: int = 500) -> list[str]:
        """Forget every customer last computed (or dropped) before ``before``; returns
        their ids. After a complete sweep that started at ``before`` these are the
        customers that no longer exist; one recomputed meanwhile is kept."""
        limit = _utc(before).timestamp()
        removed: list[str] = []
        while True:
            stale = await self._b.zlowest(CUSTOMERS, batch, below=limit)
            progressed = False
            for customer_id, _ in stale:
                for _attempt in range(_MAX_ATTEMPTS):
                    async with self._b.transaction() as tx:
                        result = await self._remove(tx, customer_id, limit)
                    if result is not None:
                        break
                else:
                    raise ConsistencyConflict(customer_id)
                if result:
                    removed.append(customer_id)
                    progressed = True
            if len(stale) < batch or not progressed:
                return removed

    # --- reads ---

    async def owner_of(self, kind: SubjectKind, subject_id: str) -> str | None:
        """The customer a subject belongs to, as last computed (None if never seen)."""
        if kind is SubjectKind.CUSTOMER:
            return subject_id
        (raw,) = await self._b.get_many([_subj((kind, subject_id))])
        return raw.decode() if raw is not None else None

    async def subject(self, kind: SubjectKind, subject_id: str) -> Report | None:
        """The subject's cached checks; None when not cached (never computed, dropped
        by an invalidation, or no longer the customer's)."""
        if kind is SubjectKind.CUSTOMER:
            owner: str | None = subject_id
        else:
            owner = await self.owner_of(kind, subject_id)
        if owner is None:
            return None
        (raw,) = await self._b.get_many([_cust(owner)])
        if raw is None:
            return None
        doc = _CustomerDoc.decode(raw)
        if doc.dropped or (kind, subject_id) not in doc.subjects:
            return None
        prefix = _subject_prefix(kind, subject_id)
        members = [m for m in doc.members if m.startswith(prefix)]
        values = await self._b.get_many([_chk(m) for m in members])
        checks = tuple(
            stored
            for stored in (_decode_stored(v) for v in values if v is not None)
            if stored.check.customer_id == owner
        )
        return Report(kind, subject_id, owner, checks, doc.computed_at, from_cache=True)

    async def list(
        self,
        *,
        status: CheckStatus | None = None,
        rule: RuleName | None = None,
        system: System | None = None,
        queue: ExceptionQueue | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> CheckPage:
        """Checks matching every given filter, in member order (subject kind, subject
        id, rule), keyset-paged: ``after`` is a previous page's ``end_cursor``.

        Walks the smallest of the filters' indexes and tests membership in the others,
        so a page costs in proportion to what it skips, never to the whole cache.
        """
        if not 0 < first <= MAX_PAGE:
            raise ValueError(f"first must be between 1 and {MAX_PAGE}")
        cursor = _decode_cursor(after) if after is not None else None
        wanted = [
            key
            for key in (
                _idx_status(status) if status is not None else None,
                _idx_rule(rule) if rule is not None else None,
                _idx_system(system) if system is not None else None,
                _idx_queue(queue) if queue is not None else None,
            )
            if key is not None
        ] or [IDX_ALL]
        sizes = await self._b.zcard_many(wanted)
        total = sizes[0] if len(wanted) == 1 else None
        if min(sizes) == 0:
            return CheckPage((), after, False, total, None)
        order = sorted(range(len(wanted)), key=sizes.__getitem__)
        driver, others = wanted[order[0]], [wanted[i] for i in order[1:]]
        chunk = min(max(first + 1, 64) * (2 if others else 1), 2000)
        found: builtins.list[str] = []
        while len(found) <= first:
            members = await self._b.zrange_lex(driver, cursor, chunk)
            if not members:
                break
            cursor = members[-1]
            keep = [True] * len(members)
            for key in others:
                asked = [m for m, k in zip(members, keep, strict=True) if k]
                it = iter(await self._b.zcontains(key, asked))
                keep = [k and next(it) for k in keep]
            found.extend(m for m, k in zip(members, keep, strict=True) if k)
            if len(members) < chunk:
                break
        page = found[:first]
        values = await self._b.get_many([_chk(m) for m in page])
        items = tuple(
            stored
            for stored in (_decode_stored(v) for v in values if v is not None)
            if _matches(stored.check, status, rule, system, queue)
        )
        return CheckPage(
            items=items,
            end_cursor=_encode_cursor(page[-1]) if page else after,
            has_next_page=len(found) > first,
            total_count=total,
            computed_at=min((i.computed_at for i in items), default=None),
        )

    async def summary(self) -> ConsistencySummary:
        """Counts by status and rule, unreconciled checks, their variance per currency
        and the oldest of them, from the indexes (the variance sums the unreconciled
        checks that carry one)."""
        statuses = list(CheckStatus)
        rules = list(RuleName)
        keys = [IDX_ALL, CUSTOMERS] + [_idx_status(s) for s in statuses]
        keys += [_idx_rule(r) for r in rules]
        sizes, unreconciled_sizes, oldest, first_customer, amounts = await asyncio.gather(
            self._b.zcard_many(keys),
            self._b.zintercard_many([(_idx_rule(r), UNRESOLVED) for r in rules]),
            self._b.zlowest(UNRESOLVED, 1),
            self._b.zlowest(CUSTOMERS, 1),
            self._b.hvals(VARIANCE),
        )
        total, customers = sizes[0], sizes[1]
        by_status = dict(zip(statuses, sizes[2 : 2 + len(statuses)], strict=True))
        by_rule = dict(zip(rules, sizes[2 + len(statuses) :], strict=True))
        oldest_at: datetime | None = None
        if oldest:
            (raw_seen,) = await self._b.hget_many(FIRST_SEEN, [oldest[0][0]])
            oldest_at = (
                _parse(raw_seen)
                if raw_seen is not None
                else datetime.fromtimestamp(oldest[0][1], UTC)
            )
        computed_at: datetime | None = None
        if first_customer:
            (raw_doc,) = await self._b.get_many([_cust(first_customer[0][0])])
            computed_at = (
                _CustomerDoc.decode(raw_doc).computed_at
                if raw_doc is not None
                else datetime.fromtimestamp(first_customer[0][1], UTC)
            )
        sums: dict[str, Decimal] = {}
        for raw in amounts:
            currency, amount = raw.decode().split("|", 1)
            sums[currency] = sums.get(currency, Decimal(0)) + Decimal(amount)
        return ConsistencySummary(
            by_status=by_status,
            by_rule=by_rule,
            unreconciled_by_rule=dict(zip(rules, unreconciled_sizes, strict=True)),
            total=total,
            unreconciled=total - by_status[CheckStatus.CONSISTENT],
            variance=tuple(Money(sums[c], c) for c in sorted(sums)),
            oldest_unresolved=oldest_at,
            customers=customers,
            computed_at=computed_at,
        )

    async def ping(self) -> None:
        await self._b.ping()

    async def aclose(self) -> None:
        await self._b.aclose()


def _matches(
    check: Check,
    status: CheckStatus | None,
    rule: RuleName | None,
    system: System | None,
    queue: ExceptionQueue | None,
) -> bool:
    return (
        (status is None or check.status is status)
        and (rule is None or check.rule is rule)
        and (system is None or system in check.systems)
        and (queue is None or check.queue is queue)
    )


class MemoryConsistencyStore(ConsistencyStore):
    """In-process (the embedded default): one process, nothing shared."""

    def __init__(self) -> None:
        super().__init__(_MemoryBackend())


class RedisConsistencyStore(ConsistencyStore):
    """Redis under ``{prefix}consistency:``: every replica reads and writes the same verdicts."""

    def __init__(self, url: str, prefix: str) -> None:
        self.prefix = prefix + NAMESPACE
        super().__init__(_RedisBackend(Redis.from_url(url), self.prefix))


def open_consistency_store(redis_url: str | None, prefix: str) -> ConsistencyStore:
    """Redis when a URL is configured, else in-process."""
    return RedisConsistencyStore(redis_url, prefix) if redis_url else MemoryConsistencyStore()
