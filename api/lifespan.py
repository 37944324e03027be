"""The gateway's lifespan: check, open, keep the crosswalk, close.

Start-up refuses to serve, with a :class:`StartupError` that names the fix,
when a source has no credential or when the store is not at the code's
migration head (``revgraph db upgrade`` migrates; no replica migrates on its
own). Then it opens the :class:`~api.resources.Resources`, starts the
:class:`~api.crosswalk_keeper.CrosswalkKeeper` and yields the lifespan state
every request sees as ``request.state``: ``resources``, ``crosswalk`` and
``webhooks`` (the :class:`~api.webhooks.WebhookDispatcher`, draining the inbox
in the background; flows register their handlers on it).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette

from api.crosswalk_keeper import CrosswalkKeeper
from api.documents import DocumentError, TrustedDocuments
from api.metrics import Metrics
from api.read_model_keeper import ReadModelKeeper
from api.resources import Resources
from api.settings import Settings
from api.webhooks import WebhookDispatcher
from domain.billing_read_model import EVENT_PREFIXES
from domain.consistency.policy import PolicyError, load_policy
from domain.crosswalk import CrosswalkBuilder
from domain.flows.triggers import triggers
from resolvers.schema import schema
from sources.systems import System
from store.migrate import current, head, known

UPGRADE_COMMAND = "revgraph db upgrade"


class StartupError(RuntimeError):
    """The gateway cannot start as configured; the message says why and what to do."""


def safe_url(url: str) -> str:
    """A database URL fit for a message (password hidden)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is shown as "the store"
        return "the store"


async def check_startup(settings: Settings, systems: tuple[System, ...] = tuple(System)) -> None:
    """Raise :class:`StartupError` unless every source in ``systems`` has a credential
    and the store is migrated to the code's head."""
    try:
        load_policy(settings.consistency.policy_file)
    except PolicyError as exc:
        raise StartupError(f"The consistency policy is not valid: {exc}") from exc
    trusted_documents(settings)
    missing = settings.missing_tokens(systems)
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        raise StartupError(
            f"{', '.join(missing)} {verb} not set: every source needs its credential "
            "(in the environment or the settings file); `revgraph demo` brings its own."
        )
    where = safe_url(settings.database_url)
    if settings.store_schema:
        where += f" (schema {settings.store_schema})"
    try:
        revision = await current(settings.database_url, settings.store_schema)
    except (SQLAlchemyError, OSError) as exc:
        raise StartupError(f"Cannot reach the store {where}: {exc}") from exc
    wanted = head()
    if revision == wanted:
        return
    if revision is None:
        raise StartupError(f"The store {where} has no tables yet: run `{UPGRADE_COMMAND}` first.")
    if not known(revision):
        raise StartupError(
            f"The store {where} is at revision {revision}, which this version of revgraph "
            "does not know (a newer version migrated it): upgrade revgraph."
        )
    raise StartupError(
        f"The store {where} is at revision {revision}, behind {wanted}: "
        f"run `{UPGRADE_COMMAND}` first."
    )


def trusted_documents(settings: Settings) -> TrustedDocuments | None:
    """The trusted documents configured (None: any document runs), read and validated
    against the schema; :class:`StartupError` names a file that is not valid."""
    directory = settings.api.trusted_documents_dir
    if directory is None:
        return None
    try:
        return TrustedDocuments.load(directory, schema._schema)
    except DocumentError as exc:
        raise StartupError(f"The trusted documents are not valid: {exc}") from exc


Lifespan = Callable[[Starlette], AbstractAsyncContextManager[dict[str, Any]]]


def gateway_lifespan(settings: Settings, metrics: Metrics) -> Lifespan:
    """The lifespan of a gateway app configured by ``settings``."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        await check_startup(settings)
        resources = await Resources.open(settings)
        keeper = CrosswalkKeeper(
            resources.repository,
            resources.crosswalk,
            resources.pubsub,
            lambda: CrosswalkBuilder(
                resources.clients.crm,
                resources.clients.billing,
                resources.clients.erp,
                resources.repository,
            ),
        )
        dispatcher = WebhookDispatcher(resources.inbox)
        reads = resources.clients.billing_reads
        keeper_of_reads = (
            ReadModelKeeper(reads, settings.reads.catch_up_s) if reads is not None else None
        )
        if reads is not None:  # first, so every later handler reads the new state
            for prefix in EVENT_PREFIXES:
                dispatcher.register(System.BILLING, prefix, reads.apply_event)
        answers = resources.clients.answers
        if answers is not None:  # likewise: a change drops the answers it may touch
            for system in answers.systems:
                dispatcher.register(system, "", answers.on_event)
        for system, prefix, handler in triggers(resources.runner):
            dispatcher.register(system, prefix, handler)
        for system in System:  # any change a system reports may change a verdict
            dispatcher.register(system, "", resources.consistency.on_event)
        metrics.watch(resources.clients.all())
        try:
            await keeper.start()
            if keeper_of_reads is not None:
                await keeper_of_reads.start()
            await resources.consistency.start()
            if settings.flows.worker:
                resources.runner.start_worker()
            await dispatcher.start()
            yield {"resources": resources, "crosswalk": keeper, "webhooks": dispatcher}
        finally:
            await dispatcher.stop()
            if keeper_of_reads is not None:
                await keeper_of_reads.stop()
            await keeper.stop()
            metrics.unwatch()
            await resources.close()

    return lifespan
