"""Shared fixtures: per-run isolation on both backends, and simulators on loopback.

Backend selection comes from the environment, as in production:
``DATABASE_URL`` (Postgres) and ``REDIS_URL``; without them the embedded
defaults (SQLite files in a temp dir, in-process cache) are used. Every run
gets its own Postgres schemas and Redis key prefix (``RUN_ID``) so concurrent
runs never collide; schemas are dropped at the end.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.demo import Stack, start_stack
from domain.access import Role
from simulators.cluster import Cluster, Records
from simulators.serving import BackgroundServers
from store.crosswalk import CrosswalkRepository
from store.database import create_engine
from store.migrate import upgrade

RUN_ID = f"t{uuid.uuid4().hex[:10]}"


def _postgres_url() -> str | None:
    url = os.environ.get("DATABASE_URL")
    return url if url and url.startswith("postgresql") else None


@pytest.fixture(scope="session")
def run_id() -> str:
    return RUN_ID


@pytest.fixture(scope="session")
def postgres_url() -> str | None:
    """The Postgres URL when testing on Postgres, else None."""
    return _postgres_url()


@pytest.fixture(scope="session")
def redis_prefix() -> str:
    return f"revgraph:{RUN_ID}:"


StartSimulators = Callable[..., dict[str, str]]


_STARTED: list[BackgroundServers] = []
"""Simulators started through ``start_simulators``, running until their module ends."""


@pytest.fixture(scope="session")
def start_simulators(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartSimulators]:
    """Start some simulators with the given records; returns their URLs by name.

    ``start_simulators(("BILLING",), records={"BILLING": {"customer": [...]}})``.
    Each call gets fresh stores (own SQLite dir or own Postgres schemas) and
    free ports. They are stopped when the module that started them ends (their
    Postgres schemas are dropped at the end of the session), so a whole run
    never holds more than one module's simulators and their connections.
    """
    count = 0

    def start(names: tuple[str, ...], records: Records | None = None) -> dict[str, str]:
        nonlocal count
        count += 1
        cluster = Cluster(
            data_dir=Path(tmp_path_factory.mktemp(f"sim{count}")),
            database_url=_postgres_url(),
            schema_prefix=f"{RUN_ID}_{count}",
            names=names,
        )
        servers = cluster.background(records or {})
        urls = servers.start()
        _STARTED.append(servers)
        return urls

    yield start
    _stop_started(0)


@pytest.fixture(scope="module", autouse=True)
def _stop_simulators_of_module() -> Iterator[None]:
    first = len(_STARTED)
    yield
    _stop_started(first)


def _stop_started(first: int) -> None:
    while len(_STARTED) > first:
        _STARTED.pop().stop()


@pytest.fixture(scope="session", autouse=True)
def _drop_run_schemas() -> Iterator[None]:
    """Drop every Postgres schema and Redis key this run created (all named after RUN_ID)."""
    yield
    url = _postgres_url()
    if url:
        _drop_schemas(url, RUN_ID)
    redis_url = os.environ.get("REDIS_URL")
    if redis_url:
        _drop_keys(redis_url, RUN_ID)


def _drop_keys(url: str, run_id: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"*{run_id}*", count=1000))
        if keys:
            client.unlink(*keys)
    finally:
        client.close()


def _drop_schemas(url: str, run_id: str) -> None:
    import asyncio

    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    async def drop() -> None:
        engine = create_async_engine(url)
        async with engine.begin() as conn:
            rows = await conn.execute(
                text("SELECT nspname FROM pg_namespace WHERE nspname LIKE :p"),
                {"p": f"{run_id}%"},
            )
            for (name,) in rows:
                await conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        await engine.dispose()

    asyncio.run(drop())


@pytest.fixture
async def store_engine(
    tmp_path: Path, postgres_url: str | None, run_id: str
) -> AsyncIterator[AsyncEngine]:
    """A migrated gateway store of the test's own: a SQLite file, or a new Postgres schema."""
    if postgres_url is None:
        url, schema = f"sqlite+aiosqlite:///{tmp_path}/store.sqlite3", None
    else:
        url, schema = postgres_url, f"{run_id}_store_{uuid.uuid4().hex[:8]}"
    await upgrade(url, schema)
    engine = create_engine(url, schema=schema)
    yield engine
    if schema is not None:
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    await engine.dispose()


@pytest.fixture
async def second_engine(
    store_engine: AsyncEngine, postgres_url: str | None
) -> AsyncIterator[AsyncEngine]:
    """Another engine (its own pool) on the same store, as a second gateway replica has.

    Only Postgres is shared by several processes; on the embedded SQLite store the
    test is skipped (CI runs it in its Postgres pass).
    """
    if postgres_url is None:
        pytest.skip("two gateway processes share Postgres, not an embedded SQLite file")
    async with store_engine.connect() as conn:
        schema = (await conn.execute(text("SELECT current_schema()"))).scalar_one()
    other = create_engine(postgres_url, schema=schema)
    yield other
    await other.dispose()


@pytest.fixture
def crosswalk_repo(store_engine: AsyncEngine) -> CrosswalkRepository:
    return CrosswalkRepository(store_engine)


def own_stack(
    factory: pytest.TempPathFactory, name: str, *, customers: int, seed: int, **options: Any
) -> Stack:
    """A seeded stack of a test's own on this run's backends: its SQLite files in a
    fresh temp dir, or this run's Postgres schemas ``{RUN_ID}_{name}_*``, and this
    run's Redis when REDIS_URL is set. ``options`` go to :func:`api.demo.start_stack`."""
    return start_stack(
        customers=customers,
        seed=seed,
        data_dir=Path(factory.mktemp(name)),
        database_url=_postgres_url(),
        redis_url=os.environ.get("REDIS_URL"),
        schema_prefix=f"{RUN_ID}_{name}",
        **options,
    )


def eventually(check: Callable[[], Any], timeout_s: float = 15.0) -> Any:
    """``check()`` again every 0.1 s until it is truthy or ``timeout_s`` pass; its last result."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.1)


STACK_CUSTOMERS = 60


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Seeded simulators + crosswalk + gateway on free loopback ports, for the session.

    On Postgres the simulators and the store use this run's own schemas; with
    REDIS_URL the gateway uses this run's own key prefix.
    """
    running = own_stack(
        tmp_path_factory,
        "stack",
        customers=STACK_CUSTOMERS,
        seed=7,
        # Tests inject outages one after another: breakers are tested on their own
        # gateways (tests/resolvers/test_resilience.py), not left open for the next test.
        breakers=False,
        # Explicitly: these tests are about the graph, not about who may use it; the
        # gateways of tests/api/test_access.py require credentials.
        anonymous_role=Role.ADMIN,
        caller_limits=False,
        # The live read path (batching, partial failures, breakers); the read model has
        # its own stack (tests/resolvers/test_billing_read_model.py), and the writes
        # stack keeps it on (read-your-writes).
        billing_read_model=False,
    )
    yield running
    running.stop()


@pytest.fixture(scope="session")
def writes_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack of its own for the tests that write (mutations, flows, webhooks), so the
    read tests' ``stack`` keeps exactly its seed. Modules that write use it as their
    ``stack``: ``@pytest.fixture def stack(writes_stack): return writes_stack``."""
    running = own_stack(
        tmp_path_factory,
        "writes",
        customers=10,
        seed=11,
        breakers=False,
        # Abandoned flows are resumed by the processes the recovery tests start.
        worker=False,
        anonymous_role=Role.ADMIN,
        # Approvals need someone other than the (anonymous) creator: the approver's key.
        demo_keys=True,
        caller_limits=False,
    )
    yield running
    running.stop()


@pytest.fixture
def fault(stack: Stack) -> Iterator[Any]:
    """``fault(system, **faults)`` injects faults in a simulator; all are reset afterwards."""
    touched: list[str] = []

    def inject(system: str, **faults: Any) -> None:
        url = stack.simulator_urls[system]
        httpx.post(f"{url}/_sim/faults", json=faults).raise_for_status()
        touched.append(url)

    yield inject
    for url in touched:
        httpx.delete(f"{url}/_sim/faults")
