"""``revgraph audit``: check the audit log's hash chain (``revgraph audit verify``).

Configured like ``serve`` (environment / settings file); it needs the store only,
migrated to the code's head, and no source credentials. Only typer is imported
at import time, like the rest of the CLI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

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
    from api.store_command import on_store
    from store.audit import AuditLog, VerifyResult

    async def verify(engine: AsyncEngine) -> VerifyResult:
        return await AuditLog(engine).verify()

    result = on_store("verify the audit log", verify)
    if result.ok:
        typer.echo(f"{result.checked} records, chain intact")
        return
    where = f"record {result.first_bad_id}" if result.first_bad_id is not None else "the chain"
    typer.echo(
        f"Audit chain broken at {where}: {result.reason} ({result.checked} records checked)",
        err=True,
    )
    raise typer.Exit(1)
