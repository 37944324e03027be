"""Gateway settings: environment variables, an optional settings file, defaults.

=============================  ==================================================
Variable                       Meaning (default)
=============================  ==================================================
``DATABASE_URL``               store URL (``sqlite+aiosqlite:///.revgraph/revgraph.sqlite3``;
                               ``postgresql+asyncpg://...`` for Postgres)
``REVGRAPH_DB_SCHEMA``         Postgres schema of the store (``revgraph``; unused on SQLite)
``REDIS_URL``                  Redis for cache and pub/sub (unset: in-process cache)
``REVGRAPH_REDIS_PREFIX``      key prefix in Redis (``revgraph:``)
``REVGRAPH_<SYSTEM>_URL``      base URL of a source (``http://127.0.0.1:8001`` .. ``8004``)
``REVGRAPH_<SYSTEM>_TOKEN``    its credential (required: no default; ``revgraph demo``
                               passes the simulators' demo tokens itself)
``REVGRAPH_<SYSTEM>_TIMEOUT_S``    per-request timeout in seconds (5.0)
``REVGRAPH_<SYSTEM>_MAX_RETRIES``  retries of idempotent requests (2)
``REVGRAPH_<SYSTEM>_CONCURRENCY``  connections / in-flight requests (16; Billing 100)
``REVGRAPH_<SYSTEM>_BREAKER_FAILURES``  consecutive failures that open its breaker (5; 0 off)
``REVGRAPH_<SYSTEM>_BREAKER_OPEN_S``    seconds an open breaker fails fast (5.0)
``REVGRAPH_<SYSTEM>_RETRY_BUDGET``      retries as a share of its traffic (0.2)
``REVGRAPH_<SYSTEM>_RATE_LIMIT_PER_S``  client-side rate limit, shared via Redis (0: none)
``REVGRAPH_<SYSTEM>_MAX_THROTTLE_RETRIES``  retries of a 429 within the deadline (4)
``REVGRAPH_<SYSTEM>_WEBHOOK_SECRETS``  its webhook signing secrets, a JSON list (none)
``REVGRAPH_REQUEST_DEADLINE_S``  every client request ends within this (10.0)
``REVGRAPH_FLOWS_<NAME>``      durable flows: ``WAIT_S``, ``STEP_ATTEMPTS``, ``LEASE_S``,
                               ``IDEMPOTENCY_RETENTION_H``, ``WORKER`` ... (see FlowSettings)
``REVGRAPH_CONSISTENCY_<NAME>``  consistency view: ``POLICY_FILE`` (TOML), ``SWEEP_EVERY_S``
                               (0: no periodic sweep), ``SWEEP_PAGES_PER_S``, ``PAGE_SIZE``
``REVGRAPH_API_<NAME>``        the HTTP surface: ``INTROSPECTION``, ``GRAPHIQL`` (both false;
                               ``revgraph demo`` turns them on), ``CORS_ORIGINS`` (a JSON
                               list; none), ``TRUSTED_DOCUMENTS_DIR`` (none; see ApiSettings)
``REVGRAPH_AUTH_<NAME>``       callers: ``ANONYMOUS_ROLE`` (none: a credential is required),
                               ``JWT_SECRET``, ``JWT_JWKS_URL``/``JWT_JWKS_FILE``,
                               ``JWT_ISSUER``, ``JWT_AUDIENCE``, ``JWT_ROLES_CLAIM``,
                               ``KEY_RATE_PER_S``, ``KEY_COST_PER_MIN`` (see AuthSettings)
``REVGRAPH_READS_<NAME>``      reads: ``BILLING_MODEL`` (true: Billing's lists from the read
                               model), ``MAX_AGE_S`` (300), ``CATCH_UP_S`` (30)
``REVGRAPH_SETTINGS_FILE``     a ``.toml`` or ``.env`` file with any of the above
=============================  ==================================================

``<SYSTEM>`` is ``CRM``, ``CONTRACTS``, ``BILLING`` or ``ERP``. Precedence:
explicit arguments, then the environment, then the settings file, then the
defaults. A TOML file uses the field names, one table per source::

    database_url = "postgresql+asyncpg://app@db/revgraph"
    [billing]
    url = "https://api.stripe.com"
    token = "sk_live_..."
    timeout_s = 10

A ``.env`` file uses the variable names above.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from pydantic import AliasChoices, BaseModel, Field, field_validator
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from domain.access import Role
from sources.base import SourceConfig
from sources.breaker import NO_BREAKER, BreakerPolicy
from sources.systems import System
from store.database import DEFAULT_DATABASE_URL, DEFAULT_POSTGRES_SCHEMA, is_postgres

SETTINGS_FILE_ENV = "REVGRAPH_SETTINGS_FILE"


def token_env(system: System) -> str:
    """The variable holding ``system``'s credential, e.g. ``REVGRAPH_BILLING_TOKEN``."""
    return f"REVGRAPH_{system.value}_TOKEN"


class SourceSettings(BaseModel):
    """How to reach one system of record."""

    url: str
    token: str = ""
    """Empty means not set (see :meth:`Settings.missing_tokens`)."""
    timeout_s: float = Field(default=5.0, gt=0)
    max_retries: int = Field(default=2, ge=0)
    concurrency: int = Field(default=16, ge=1)
    breaker_failures: int = Field(default=5, ge=0)
    """Consecutive failures that open the source's circuit breaker (0: never)."""
    breaker_open_s: float = Field(default=5.0, gt=0)
    """How long an open breaker fails calls fast before it lets a probe through."""
    retry_budget: float = Field(default=0.2, ge=0)
    """Retries may add at most this share to the source's traffic."""
    rate_limit_per_s: float = Field(default=0.0, ge=0)
    """Client-side rate limit, shared by every replica through Redis (0: none)."""
    rate_limit_burst: float | None = Field(default=None, gt=0)
    """Requests that may go at once (default: one second's worth)."""
    max_throttle_retries: int = Field(default=4, ge=0)
    """Retries of a call the vendor refused for a limit (429), within the deadline."""
    max_retry_after_s: float = Field(default=10.0, ge=0)
    """A ``Retry-After`` longer than this is not waited for."""
    webhook_secrets: list[str] = Field(default_factory=list)
    """Secrets its webhooks are signed with; several while one is being rotated."""


# One class per source so a partial override (only REVGRAPH_CRM_TOKEN, or one key in
# a TOML table) keeps the other defaults. The URL defaults are the simulators' ports
# (simulators/registry.py), spelled out: the gateway never imports the simulators.
# Credentials have no default: a gateway started without one refuses to start and
# names the variable (Settings.missing_tokens); only the demo passes the simulators'.
class CrmSettings(SourceSettings):
    url: str = "http://127.0.0.1:8001"


class ContractsSettings(SourceSettings):
    url: str = "http://127.0.0.1:8002"


class BillingSettings(SourceSettings):
    url: str = "http://127.0.0.1:8003"
    # Stripe has no multi-id read: a page of 50 customers costs ~100 list calls in
    # one hop, so they all go out at once rather than in rounds of 16.
    concurrency: int = Field(default=100, ge=1)


class ErpSettings(SourceSettings):
    url: str = "http://127.0.0.1:8004"


class FlowSettings(BaseModel):
    """Durable flows, idempotency and the worker (``REVGRAPH_FLOWS_<NAME>``)."""

    idempotency_retention_h: float = Field(default=24.0, gt=0)
    """How long an idempotency key keeps its first result."""
    wait_s: float = Field(default=8.0, ge=0)
    """How long a mutation waits for its flow before answering with it still RUNNING."""
    step_attempts: int = Field(default=4, ge=1)
    """Attempts of a step that fails retryably before it becomes an exception item."""
    backoff_s: float = Field(default=0.2, ge=0)
    """First retry delay of a step (doubled each attempt, with jitter)."""
    lease_s: float = Field(default=15.0, gt=0)
    """A running flow's lease: another worker resumes it after this long without renewal."""
    step_slo_s: float = Field(default=30.0, gt=0)
    """A step running longer than this is reported ``delayed``."""
    worker: bool = True
    """Run the flow worker (recovery of abandoned flows) inside ``serve``."""
    worker_id: str | None = None
    """This worker's stable name (default: host name and process id)."""
    poll_s: float = Field(default=2.0, gt=0)
    """How often the worker looks for flows to resume."""


class ConsistencySettings(BaseModel):
    """The consistency view (``REVGRAPH_CONSISTENCY_<NAME>``)."""

    policy_file: Path | None = None
    """A TOML policy (thresholds, windows, queues); None: the built-in default."""
    sweep_every_s: float = Field(default=0.0, ge=0)
    """Run the reconciliation sweep inside ``serve`` this often (0: only on demand)."""
    sweep_pages_per_s: float | None = Field(default=None, gt=0)
    """Pace of the sweep's pages of customers (None: as fast as the adapters allow)."""
    page_size: int = Field(default=200, ge=1, le=1000)
    sweep_on_start: bool = False
    """Sweep once at start when the view is empty (the demo: dashboards open filled)."""


class ApiSettings(BaseModel):
    """The HTTP surface of ``/graphql`` (``REVGRAPH_API_<NAME>``); see :mod:`api.documents`."""

    introspection: bool = False
    """Answer ``__schema``/``__type`` (off: ``INTROSPECTION_DISABLED``; ``__typename`` always)."""
    graphiql: bool = False
    """Serve GraphiQL to browsers, and its assets (off: a browser's GET gets a 404)."""
    cors_origins: list[str] = Field(default_factory=list)
    """Origins browsers may call the gateway from (none: no CORS headers at all)."""
    trusted_documents_dir: Path | None = None
    """Run only the ``.graphql`` documents in this directory, by id (None: any document)."""
    graphiql_headers: dict[str, str] = Field(default_factory=dict)
    """Headers GraphiQL's tabs start with (``revgraph demo`` puts its viewer key here)."""


class ReadSettings(BaseModel):
    """How reads are served (``REVGRAPH_READS_<NAME>``); see :mod:`domain.billing_read_model`."""

    billing_model: bool = True
    """Serve Billing's lists from the read model kept current by its events (False: live)."""
    max_age_s: float = Field(default=300.0, gt=0)
    """A read-model answer known current longer ago than this is read live again."""
    catch_up_s: float = Field(default=30.0, gt=0)
    """How often Billing's event log is read for events a webhook missed."""
    models: frozenset[System] = frozenset()
    """Other systems (CRM, CONTRACTS, ERP) to serve from stored answers, e.g.
    ``REVGRAPH_READS_MODELS='["ERP"]'`` (:mod:`domain.answer_read_model`); they
    batch, so by default they are read live."""

    @field_validator("models")
    @classmethod
    def _batching_systems(cls, value: frozenset[System]) -> frozenset[System]:
        if System.BILLING in value:
            raise ValueError("Billing has its own read model (REVGRAPH_READS_BILLING_MODEL)")
        return value


class AuthSettings(BaseModel):
    """Who may call (``REVGRAPH_AUTH_<NAME>``); see :mod:`api.authentication`.

    Callers present ``Authorization: Bearer <credential>``: an API key (``rg_...``,
    ``revgraph keys create``) or a JWT, verified with ``jwt_secret`` (HS256) or
    against a JWKS (``jwt_jwks_url`` or ``jwt_jwks_file``; RS256/ES256).
    """

    anonymous_role: Role | None = None
    """Callers without a credential get this role; None (the default): they get a 401."""
    jwt_secret: str | None = None
    """HS256 shared secret (None: HS256 tokens are not accepted)."""
    jwt_jwks_url: str | None = None
    """A JWKS URL (RS256/ES256 keys), cached and fetched again on an unknown ``kid``."""
    jwt_jwks_file: Path | None = None
    """A JWKS file (RS256/ES256 keys), read at start and again on an unknown ``kid``."""
    jwt_issuer: str | None = None
    """Required ``iss`` (None: not checked)."""
    jwt_audience: str | None = None
    """Required ``aud`` (None: a token carrying an ``aud`` is refused)."""
    jwt_leeway_s: float = Field(default=30.0, ge=0)
    """Clock skew allowed on ``exp``, ``nbf`` and ``iat``."""
    jwt_roles_claim: str = "roles"
    """The claim holding the caller's roles (dotted for nested: ``realm_access.roles``)."""
    jwt_name_claim: str = "sub"
    """The claim naming the caller in the audit log."""
    jwks_cache_s: float = Field(default=300.0, gt=0)
    """How long a fetched JWKS is used before it is fetched again."""
    jwks_min_refresh_s: float = Field(default=10.0, ge=0)
    """An unknown ``kid`` fetches the JWKS again at most this often."""
    key_rate_per_s: float = Field(default=20.0, ge=0)
    """Requests per second per caller (0: no limit); 429 with Retry-After beyond it."""
    key_burst: float = Field(default=40.0, ge=1)
    """Requests a caller may send at once."""
    key_cost_per_min: int = Field(default=3_000_000, ge=0)
    """Operation cost per caller per minute (0: no budget); on top of each
    operation's own cost limit (300 000): ten of the largest operations a minute,
    or a QuoteToCash dashboard over 50 customers refreshed every 3 seconds."""
    api_key_cache_s: float = Field(default=5.0, ge=0)
    """How long a process trusts an API key lookup (a revoked key stops within this)."""


class Settings(BaseSettings):
    """Everything the gateway process is configured with (see the module docstring)."""

    model_config = SettingsConfigDict(
        env_prefix="REVGRAPH_",
        env_nested_delimiter="_",
        # REVGRAPH_CRM_TIMEOUT_S → crm.timeout_s: split once, after the source name.
        env_nested_max_split=1,
        extra="ignore",
    )

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        validation_alias=AliasChoices("DATABASE_URL", "REVGRAPH_DATABASE_URL", "database_url"),
    )
    database_schema: str | None = Field(
        default=None,
        validation_alias=AliasChoices("REVGRAPH_DB_SCHEMA", "database_schema"),
    )
    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("REDIS_URL", "REVGRAPH_REDIS_URL", "redis_url")
    )
    redis_prefix: str = "revgraph:"
    request_deadline_s: float | None = Field(default=10.0, gt=0)
    """Every client request ends within this; upstream calls and retries honour it."""
    crm: CrmSettings = Field(default_factory=lambda: CrmSettings())
    contracts: ContractsSettings = Field(default_factory=lambda: ContractsSettings())
    billing: BillingSettings = Field(default_factory=lambda: BillingSettings())
    erp: ErpSettings = Field(default_factory=lambda: ErpSettings())
    flows: FlowSettings = Field(default_factory=lambda: FlowSettings())
    consistency: ConsistencySettings = Field(default_factory=lambda: ConsistencySettings())
    api: ApiSettings = Field(default_factory=lambda: ApiSettings())
    auth: AuthSettings = Field(default_factory=lambda: AuthSettings())
    reads: ReadSettings = Field(default_factory=lambda: ReadSettings())

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = os.environ.get(SETTINGS_FILE_ENV)
        if path:
            if not os.path.isfile(path):
                raise FileNotFoundError(f"{SETTINGS_FILE_ENV} names no file: {path}")
            if path.endswith(".toml"):
                sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
            else:
                sources.append(DotEnvSettingsSource(settings_cls, env_file=path))
        return tuple(sources)

    @property
    def is_postgres(self) -> bool:
        return is_postgres(self.database_url)

    @property
    def store_schema(self) -> str | None:
        """The store's schema: ``database_schema`` or ``revgraph`` on Postgres, None on SQLite."""
        if not self.is_postgres:
            return None
        return self.database_schema or DEFAULT_POSTGRES_SCHEMA

    def source(self, system: System) -> SourceSettings:
        by_system = {
            System.CRM: self.crm,
            System.CONTRACTS: self.contracts,
            System.BILLING: self.billing,
            System.ERP: self.erp,
        }
        return by_system[system]

    def missing_tokens(self, systems: Iterable[System] = tuple(System)) -> list[str]:
        """The variables (``REVGRAPH_<SYSTEM>_TOKEN``) of the ``systems`` that have no token."""
        return [token_env(system) for system in systems if not self.source(system).token]

    def source_configs(self) -> dict[System, SourceConfig]:
        """A :class:`SourceConfig` per system, for the adapters."""
        return {
            system: SourceConfig(
                system=system,
                base_url=s.url,
                token=s.token,
                token_env=token_env(system),
                timeout_s=s.timeout_s,
                max_retries=s.max_retries,
                concurrency=s.concurrency,
                retry_budget_ratio=s.retry_budget,
                rate_limit_per_s=s.rate_limit_per_s,
                rate_limit_burst=s.rate_limit_burst,
                rate_limit_redis_url=self.redis_url,
                rate_limit_prefix=self.redis_prefix,
                max_throttle_retries=s.max_throttle_retries,
                max_retry_after_s=s.max_retry_after_s,
                breaker=(
                    BreakerPolicy(consecutive_failures=s.breaker_failures, open_s=s.breaker_open_s)
                    if s.breaker_failures
                    else NO_BREAKER
                ),
            )
            for system in System
            for s in (self.source(system),)
        }
