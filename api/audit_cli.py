"""``revgraph audit``: check the audit log's hash chain (``revgraph audit verify``).

Configured like ``serve`` (environment / settings file); it needs the store only,
migrated to the code's head, and no source credentials. Only typer is imported
at import time, like the rest of the CLI.
"""

from __future__ import annotations

import typer

audit_app = typer.Typer(
    help="The audit log of mutations.",
    no_args_is_help=True,
    rich_markup_mode=None,
    add_completion=False,
)


@audit_app.command("verify")
def audit_verify() -> None:
    """Recompute the audit log's hash chain.

    Exits 0 with "N records, chain intact", or 1 naming the first bad record and
    why (hash mismatch, broken link, missing id).
    """
    import asyncio

    from sqlalchemy.exc import SQLAlchemyError

    from api.lifespan import StartupError, check_startup, safe_url
    from api.settings import Settings
    from store.audit import AuditLog, VerifyResult
    from store.database import create_engine

    settings = Settings()

    async def verify() -> VerifyResult:
        await check_startup(settings, ())
        engine = create_engine(settings.database_url, schema=settings.store_schema)
        try:
            return await AuditLog(engine).verify()
        finally:
            await engine.dispose()

    try:
        result = asyncio.run(verify())
    except StartupError as exc:
        typer.echo(f"Cannot verify the audit log: {exc}", err=True)
        raise typer.Exit(1) from None
    except (SQLAlchemyError, OSError) as exc:
        typer.echo(f"Cannot use the store {safe_url(settings.database_url)}: {exc}", err=True)
        raise typer.Exit(1) from None
    if result.ok:
        typer.echo(f"{result.checked} records, chain intact")
        return
    where = f"record {result.first_bad_id}" if result.first_bad_id is not None else "the chain"
    typer.echo(
        f"Audit chain broken at {where}: {result.reason} ({result.checked} records checked)",
        err=True,
    )
    raise typer.Exit(1)
