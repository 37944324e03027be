"""ConsistencyView over fakes: cache first, live on a miss, invalidation across replicas."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest

from domain.consistency.types import CheckStatus, RuleName, SubjectKind
from domain.consistency.view import ConsistencyView, subjects_of
from store.consistency import ConsistencyStore, MemoryConsistencyStore, RedisConsistencyStore
from store.pubsub import PubSub, open_pubsub
from tests.domain.consistency.view_fakes import T0, Account, Clock, World

REDIS_URL = os.environ.get("REDIS_URL")
C, K, INV = SubjectKind.CUSTOMER, SubjectKind.CONTRACT, SubjectKind.INVOICE
OK, DRIFT, MISSING = CheckStatus.CONSISTENT, CheckStatus.DRIFT, CheckStatus.MISSING


@dataclass
class Backend:
    """Stores and pub/subs that share one namespace, as replicas of one deployment do."""

    open_store: Callable[[], ConsistencyStore]
    open_pubsub: Callable[[], PubSub]


@pytest.fixture(params=["memory", "redis"])
async def backend(request: pytest.FixtureRequest, redis_prefix: str) -> AsyncIterator[Backend]:
    prefix = f"{redis_prefix}{uuid.uuid4().hex[:8]}:"
    opened: list[ConsistencyStore | PubSub] = []
    if request.param == "redis":
        if not REDIS_URL:
            pytest.skip("REDIS_URL not set")
        url = REDIS_URL

        def store() -> ConsistencyStore:
            opened.append(RedisConsistencyStore(url, prefix))
            return opened[-1]  # type: ignore[return-value]
    else:
        url = None
        memory = MemoryConsistencyStore()

        def store() -> ConsistencyStore:
            return memory

    def pubsub() -> PubSub:
        opened.append(open_pubsub(url, prefix))
        return opened[-1]  # type: ignore[return-value]

    yield Backend(store, pubsub)
    for item in opened:
        await item.aclose()


def make_view(
    backend: Backend, world: World, *, clock: Clock | None = None, **kwargs: object
) -> ConsistencyView:
    return ConsistencyView(
        backend.open_store(),
        world,
        "policy",
        world.evaluate,
        clock or Clock(),
        **kwargs,  # type: ignore[arg-type]
    )


def two_accounts() -> World:
    return World(
        {
            "001A": Account(DRIFT, {"800A": OK, "800B": MISSING}),
            "001B": Account(OK, {}),
        }
    )


async def test_a_miss_is_computed_live_then_served_from_the_cache(backend: Backend) -> None:
    world = two_accounts()
    view = make_view(backend, world)
    live = await view.report(C, "001A")
    assert live is not None and not live.from_cache
    assert live.status is DRIFT and live.customer_id == "001A"
    assert [c.check.rule for c in live.checks] == [RuleName.CUSTOMER_LINKS]
    cached = await view.report(K, "800B")
    assert cached is not None and cached.from_cache and cached.status is MISSING
    assert cached.computed_at == live.computed_at
    again = await view.report(C, "001A")
    assert again is not None and again.from_cache
    assert world.customer_reads == ["001A"]

    world.accounts["001A"].status = OK
    fresh = await view.report(C, "001A", fresh=True)
    assert fresh is not None and not fresh.from_cache and fresh.status is OK
    assert fresh.computed_at > live.computed_at
    after = await view.report(C, "001A")
    assert after is not None and after.from_cache and after.status is OK


async def test_unknown_subjects(backend: Backend) -> None:
    world = two_accounts()
    view = make_view(backend, world)
    assert await view.report(C, "001Z") is None
    assert await view.report(K, "800Z") is None  # no owner known, no resolver
    assert world.customer_reads == ["001Z"]

    async def resolve(kind: SubjectKind, subject_id: str) -> str | None:
        return "001A" if subject_id.startswith("800") else None

    resolving = make_view(backend, world, resolve_owner=resolve)
    found = await resolving.report(K, "800A")
    assert found is not None and found.customer_id == "001A" and not found.from_cache
    # A contract the systems do not give to its customer is unknown.
    assert await resolving.report(K, "800Z") is None
    assert await resolving.report(INV, "in_9") is None


async def test_refresh_invalidate_and_a_deleted_customer(backend: Backend) -> None:
    world = two_accounts()
    view = make_view(backend, world)
    checks = await view.refresh_customer("001A")
    assert {(c.subject_id, c.status) for c in checks} == {
        ("001A", DRIFT),
        ("800A", OK),
        ("800B", MISSING),
    }
    summary = await view.summary()
    assert summary.by_status[MISSING] == 1 and summary.unreconciled == 2

    # An invalidation whose recompute fails leaves no stale verdict behind.
    world.accounts["001A"] = Account(OK, {"800A": OK})
    world.fail_reads = True
    with pytest.raises(RuntimeError):
        await view.invalidate("001A")
    assert await view.store.subject(C, "001A") is None
    assert await view.store.owner_of(K, "800B") == "001A"
    world.fail_reads = False
    # The contract's customer is still known: a read recomputes it live.
    gone = await view.report(K, "800B")
    assert gone is None  # 800B is no longer 001A's
    contract = await view.report(K, "800A")
    assert contract is not None and contract.from_cache and contract.status is OK

    assert [c.status for c in await view.invalidate("001A")] == [OK, OK]
    page = await view.list(status=OK)
    assert {i.check.subject_id for i in page.items} == {"001A", "800A"}

    del world.accounts["001A"]
    assert await view.refresh_customer("001A") == []
    assert await view.store.subject(C, "001A") is None
    assert (await view.summary()).customers == 0


async def test_a_slow_recompute_never_overwrites_a_newer_one(backend: Backend) -> None:
    world = two_accounts()
    clock = Clock()
    view = make_view(backend, world, clock=clock)
    world.gate = asyncio.Event()
    slow = asyncio.create_task(view.refresh_customer("001A"))  # reads DRIFT, then waits
    await asyncio.sleep(0)
    world.accounts["001A"].status = OK
    world.gate.set()
    world.gate = None
    quick = await view.refresh_customer("001A")  # started later: reads OK
    await slow
    assert quick[0].status is OK
    report = await view.report(C, "001A")
    assert report is not None and report.status is OK


async def test_subjects_of_a_bundle() -> None:
    world = two_accounts()
    bundle = world.bundle("001A", T0)
    assert subjects_of(bundle) == {(C, "001A"), (K, "800A"), (K, "800B")}


async def test_a_second_replica_sees_an_update_made_by_the_first(backend: Backend) -> None:
    world = two_accounts()
    # Long memos: only the invalidation can make the second replica see the update.
    one = make_view(backend, world, pubsub=backend.open_pubsub(), memo_ttl_s=600)
    two = make_view(backend, world, pubsub=backend.open_pubsub(), memo_ttl_s=600)
    follower = await two.follow_invalidations(backend.open_pubsub())
    try:
        await one.refresh_customer("001A")
        first = await two.report(C, "001A")
        assert first is not None and first.from_cache and first.status is DRIFT
        memo = await two.report(C, "001A")
        assert memo is first  # memoized in the second replica

        world.accounts["001A"].status = OK
        await one.refresh_customer("001A")
        for _ in range(200):
            seen = await two.report(C, "001A")
            assert seen is not None
            if seen.status is OK:
                break
            await asyncio.sleep(0.01)
        else:
            pytest.fail("the second replica never saw the update")
        assert seen.from_cache
        assert world.customer_reads == ["001A", "001A"]  # the second replica read nothing
    finally:
        follower.cancel()
        with pytest.raises(asyncio.CancelledError):
            await follower
