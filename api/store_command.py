"""Running a CLI command's work on the configured store (``revgraph keys``, ``audit``).

Configured like ``serve`` (environment / settings file); the store must be
migrated to the code's head, and no source credentials are needed. A store
that cannot be used ends the command with exit code 1 and a line saying why,
never a traceback. Only typer is imported at import time, like the rest of
the CLI.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import typer

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

T = TypeVar("T")


def on_store(what: str, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """``work`` on an engine of the configured store; exit 1 (``Cannot {what}: ...``)
    if the store is not migrated or cannot be reached."""
    import asyncio

    from sqlalchemy.exc import SQLAlchemyError

    from api.lifespan import StartupError, check_startup, safe_url
    from api.settings import Settings
    from store.database import create_engine

    settings = Settings()

    async def run() -> T:
        await check_startup(settings, ())
        engine = create_engine(settings.database_url, schema=settings.store_schema)
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except StartupError as exc:
        typer.echo(f"Cannot {what}: {exc}", err=True)
        raise typer.Exit(1) from None
    except (SQLAlchemyError, OSError) as exc:
        typer.echo(f"Cannot use the store {safe_url(settings.database_url)}: {exc}", err=True)
        raise typer.Exit(1) from None
