"""The whole thing on one machine: seeded simulators, crosswalk, gateway.

``revgraph demo`` runs it in the foreground; the benchmarks and the end-to-end
tests start the same stack on free ports. Simulators and gateway each run in
a background thread with its own event loop and talk over real loopback
sockets, exactly as separate processes would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from starlette.types import ASGIApp

from api.app import create_app
from api.jobs import rebuild_crosswalk
from api.lifespan import check_startup
from api.settings import (
    ApiSettings,
    AuthSettings,
    BillingSettings,
    ContractsSettings,
    CrmSettings,
    ErpSettings,
    ReadSettings,
    Settings,
)
from domain.access import Role
from domain.crosswalk import CrosswalkResult
from simulators.cluster import Cluster
from simulators.registry import SIMULATORS
from simulators.seed import generate
from simulators.serving import BackgroundServers, PortInUse
from sources.systems import System
from store.api_keys import ApiKeyRepository
from store.database import create_engine, is_postgres
from store.migrate import upgrade

GATEWAY = "GATEWAY"

_COMPONENTS = {GATEWAY: ("gateway", "--port")} | {
    name: (f"{name} simulator", "--base-port") for name in SIMULATORS
}


def port_in_use_message(error: PortInUse) -> str:
    """Which component could not have its port, and the option that moves it."""
    component, option = _COMPONENTS.get(error.name, (error.name, "--port"))
    return f"{component}: port {error.port} is in use (try {option})"


BILLING_RATE_PER_S = 20.0
"""Billing calls per second under vendor limits: below Stripe's 25 in test mode."""


@dataclass
class Stack:
    """A running demo stack; ``stop()`` shuts everything down."""

    simulator_urls: dict[str, str]
    gateway_url: str
    manifest: dict[str, Any]
    customers: int
    settings: Settings
    crosswalk: CrosswalkResult
    keys: dict[Role, str] = field(default_factory=dict)
    """A fresh API key per role (``demo_keys=True``), shown once: the demo prints them."""
    _servers: list[BackgroundServers] = field(default_factory=list)

    @property
    def graphql_url(self) -> str:
        return f"{self.gateway_url}/graphql"

    def stop(self) -> None:
        for servers in reversed(self._servers):
            servers.stop()
        self._servers.clear()


def stack_settings(
    urls: Mapping[str, str],
    data_dir: Path,
    *,
    database_url: str | None = None,
    redis_url: str | None = None,
    prefix: str = "revgraph_demo",
    breakers: bool = True,
    limits: bool = False,
    anonymous_role: Role | None = None,
    caller_limits: bool = True,
    billing_read_model: bool = True,
    answer_models: frozenset[System] = frozenset(),
) -> Settings:
    """Gateway settings for simulators at ``urls`` with their demo credentials and
    webhook secrets (the only place those are used); the store under ``data_dir``
    (SQLite) or in schema
    ``{prefix}_gateway`` of a Postgres ``database_url``.

    ``breakers=False`` turns the sources' circuit breakers off: for a test stack
    whose tests inject outages one after another, where an outage must not keep
    failing the next test fast. ``limits=True`` paces Billing below Stripe's
    test-mode rate limit (:data:`BILLING_RATE_PER_S`), for simulators that
    enforce the vendors' limits. ``anonymous_role`` lets callers without a
    credential in with that role (the default, None: every caller needs a key);
    ``caller_limits=False`` turns the per-caller rate and cost budget off (test
    stacks, whose one anonymous caller stands for every test);
    ``billing_read_model=False`` reads Billing live on every request;
    ``answer_models`` puts other systems behind the answer read model.
    """
    postgres = database_url is not None and is_postgres(database_url)
    off = {} if breakers else {"breaker_failures": 0}
    secrets = {name: [spec.webhook_secret] for name, spec in SIMULATORS.items()}
    return Settings(
        database_url=database_url or f"sqlite+aiosqlite:///{data_dir / 'revgraph.sqlite3'}",
        database_schema=f"{prefix}_gateway" if postgres else None,
        redis_url=redis_url,
        redis_prefix=f"{prefix}:",
        crm=CrmSettings(
            url=urls["CRM"],
            token=SIMULATORS["CRM"].token,
            webhook_secrets=secrets["CRM"],
            **off,
        ),
        contracts=ContractsSettings(
            url=urls["CONTRACTS"],
            token=SIMULATORS["CONTRACTS"].token,
            webhook_secrets=secrets["CONTRACTS"],
            **off,
        ),
        billing=BillingSettings(
            url=urls["BILLING"],
            token=SIMULATORS["BILLING"].token,
            webhook_secrets=secrets["BILLING"],
            rate_limit_per_s=BILLING_RATE_PER_S if limits else 0.0,
            **off,
        ),
        erp=ErpSettings(
            url=urls["ERP"],
            token=SIMULATORS["ERP"].token,
            webhook_secrets=secrets["ERP"],
            **off,
        ),
        # The demo (and the test stacks) are for exploring: introspection and GraphiQL on.
        api=ApiSettings(introspection=True, graphiql=True),
        reads=ReadSettings(billing_model=billing_read_model, models=answer_models),
        auth=AuthSettings(
            anonymous_role=anonymous_role,
            **({} if caller_limits else {"key_rate_per_s": 0.0, "key_cost_per_min": 0}),
        ),
    )


def point_webhooks(simulator_urls: Mapping[str, str], gateway_url: str) -> None:
    """Make every simulator send its webhooks to the gateway's ``/webhooks/{system}``."""
    with httpx.Client(timeout=10.0) as client:
        for name, url in simulator_urls.items():
            target = f"{gateway_url}/webhooks/{name.lower()}"
            client.post(f"{url}/_sim/webhooks", json={"url": target}).raise_for_status()


async def migrate(settings: Settings) -> None:
    """``revgraph db upgrade`` for ``settings``' store (the demo and the tests do it)."""
    await upgrade(settings.database_url, settings.store_schema)


DEMO_KEY_PREFIX = "demo-"


async def issue_demo_keys(settings: Settings) -> dict[Role, str]:
    """A new API key per role, named ``demo-<role>``; the previous demo keys are revoked."""
    engine = create_engine(settings.database_url, schema=settings.store_schema)
    try:
        keys = ApiKeyRepository(engine)
        await keys.revoke_named(DEMO_KEY_PREFIX)
        issued: dict[Role, str] = {}
        for role in Role:
            _, secret = await keys.create(f"{DEMO_KEY_PREFIX}{role.value}", role)
            issued[role] = secret
        return issued
    finally:
        await engine.dispose()


def start_gateway(
    settings: Settings, *, host: str = "127.0.0.1", port: int = 0
) -> BackgroundServers:
    """The gateway app served from a background thread (its lifespan opens the store).

    The store must be migrated (:func:`migrate`); a gateway that cannot start
    raises :class:`~api.lifespan.StartupError` saying why, a busy port
    :class:`~simulators.serving.PortInUse`.
    """
    # The lifespan checks the same, but its error would only reach the log.
    asyncio.run(check_startup(settings))

    async def build(_: Mapping[str, str]) -> Mapping[str, ASGIApp]:
        return {GATEWAY: create_app(settings)}

    gateway = BackgroundServers(build, {GATEWAY: port}, host=host, lifespan=True, name="gateway")
    gateway.start()
    return gateway


def start_stack(
    *,
    customers: int = 200,
    seed: int = 42,
    data_dir: Path,
    base_port: int = 0,
    gateway_port: int = 0,
    host: str = "127.0.0.1",
    database_url: str | None = None,
    redis_url: str | None = None,
    schema_prefix: str = "revgraph_demo",
    breakers: bool = True,
    limits: bool = False,
    worker: bool = True,
    sweep_on_start: bool = False,
    anonymous_role: Role | None = None,
    caller_limits: bool = True,
    demo_keys: bool = False,
    billing_read_model: bool = True,
    answer_models: frozenset[System] = frozenset(),
) -> Stack:
    """Seed and start the simulators, migrate the store, build the crosswalk, start
    the gateway, and point the simulators' webhooks at it.

    ``base_port``/``gateway_port`` 0 pick free ports. Without ``database_url``
    everything lives in SQLite files under ``data_dir``; with a Postgres URL the
    simulators and the store use schemas ``{schema_prefix}_*``. ``limits`` turns
    the vendors' limits on in the simulators and paces the gateway's adapters.
    ``worker=False`` leaves abandoned flows to other processes (tests of recovery);
    ``sweep_on_start`` fills the consistency view once the gateway is up (the demo).
    ``anonymous_role`` lets callers without a key in (tests of the graph itself);
    ``demo_keys`` issues a key per role (:attr:`Stack.keys`), and GraphiQL's tabs
    start with the viewer's.
    """
    data = generate(customers, seed)
    postgres = database_url is not None and is_postgres(database_url)
    cluster = Cluster(
        data_dir=data_dir / "simulators",
        database_url=database_url if postgres else None,
        schema_prefix=schema_prefix,
        limits_enabled=limits,
    )
    simulators = cluster.background(data.records, base_port=base_port, host=host)
    urls = simulators.start()
    servers = [simulators]
    try:
        settings = stack_settings(
            urls,
            data_dir,
            database_url=database_url,
            redis_url=redis_url,
            prefix=schema_prefix,
            breakers=breakers,
            limits=limits,
            anonymous_role=anonymous_role,
            caller_limits=caller_limits,
            billing_read_model=billing_read_model,
            answer_models=answer_models,
        )
        if not worker:
            flows = settings.flows.model_copy(update={"worker": False})
            settings = settings.model_copy(update={"flows": flows})
        if sweep_on_start:
            consistency = settings.consistency.model_copy(update={"sweep_on_start": True})
            settings = settings.model_copy(update={"consistency": consistency})
        asyncio.run(migrate(settings))
        keys = asyncio.run(issue_demo_keys(settings)) if demo_keys else {}
        if keys:
            headers = {"Authorization": f"Bearer {keys[Role.VIEWER]}"}
            api = settings.api.model_copy(update={"graphiql_headers": headers})
            settings = settings.model_copy(update={"api": api})
        crosswalk = asyncio.run(rebuild_crosswalk(settings))
        gateway = start_gateway(settings, host=host, port=gateway_port)
        servers.append(gateway)
        point_webhooks(urls, gateway.urls[GATEWAY])
    except BaseException:
        for started in reversed(servers):
            started.stop()
        raise
    return Stack(
        simulator_urls=urls,
        gateway_url=gateway.urls[GATEWAY],
        manifest=data.manifest,
        customers=customers,
        settings=settings,
        crosswalk=crosswalk,
        keys=keys,
        _servers=servers,
    )
