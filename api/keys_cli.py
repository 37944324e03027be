"""``revgraph keys``: create, list and revoke the gateway's API keys.

::

    revgraph keys create --name NAME --role ROLE [--expires-days N]
    revgraph keys list [--json]
    revgraph keys revoke KEY_ID

``create`` prints the new secret alone on stdout (``SECRET=$(revgraph keys
create ...)`` works) and everything else on stderr; the secret is shown only
then. ``list`` never shows secrets (the store has none) nor their hashes.
Configured like ``serve`` (environment / settings file); it needs the store
only, migrated to the code's head, and no source credentials. Only typer is
imported at import time, like the rest of the CLI.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

if TYPE_CHECKING:
    from datetime import datetime

    from store.api_keys import ApiKey, ApiKeyRepository

T = TypeVar("T")

ROLE_NAMES = ("viewer", "sales_ops", "approver", "finance", "admin")
"""The roles of :class:`domain.access.Role`, spelled out so that the help does not
import the domain (a test checks they agree)."""

keys_app = typer.Typer(
    help="API keys: the gateway's credentials, each with one role.",
    no_args_is_help=True,
    rich_markup_mode=None,
    add_completion=False,
)


def _run(what: str, work: Callable[[ApiKeyRepository], Awaitable[T]]) -> T:
    """Run ``work`` on the configured store's keys; exit 1 if the store is unusable."""
    from api.store_command import on_store
    from store.api_keys import ApiKeyRepository

    return on_store(what, lambda engine: work(ApiKeyRepository(engine)))


def _when(moment: datetime | None, utc: bool = True) -> str:
    """``moment`` to the minute (UTC, as the store keeps it), or ``-`` for none."""
    if moment is None:
        return "-"
    return moment.strftime("%Y-%m-%d %H:%M UTC" if utc else "%Y-%m-%d %H:%M")


@keys_app.command("create")
def keys_create(
    name: Annotated[
        str, typer.Option(metavar="NAME", help="Who uses the key; the audit log shows it.")
    ],
    role: Annotated[str, typer.Option(metavar="ROLE", help=f"One of {', '.join(ROLE_NAMES)}.")],
    expires_days: Annotated[
        int | None,
        typer.Option(min=1, metavar="N", help="Expire after N days (default: never)."),
    ] = None,
) -> None:
    """Create a key and print its secret on stdout: the only time it is shown."""
    from datetime import timedelta

    from domain.access import Role
    from store.portable import utcnow

    chosen = next((r for r in Role if r.value == role.strip().lower()), None)
    if chosen is None:
        typer.echo(f"No such role: {role!r} (one of {', '.join(r.value for r in Role)})", err=True)
        raise typer.Exit(2)
    expires_at = utcnow() + timedelta(days=expires_days) if expires_days is not None else None

    async def create(repo: ApiKeyRepository) -> tuple[ApiKey, str]:
        return await repo.create(name, chosen, expires_at)

    try:
        key, secret = _run("create the key", create)
    except ValueError as exc:
        typer.echo(f"Cannot create the key: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(
        f"Created {key.id} ({key.name}, {key.role.value}, expires {_when(key.expires_at)}).",
        err=True,
    )
    typer.echo(secret)
    typer.echo("The secret above is shown only once: store it now.", err=True)


@keys_app.command("list")
def keys_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """List the keys, oldest first: id, name, role, created, expires, status."""
    import json

    from store.portable import utcnow

    async def list_keys(repo: ApiKeyRepository) -> list[ApiKey]:
        return await repo.list()

    keys = _run("list the keys", list_keys)
    now = utcnow()
    if as_json:
        rows: list[dict[str, Any]] = [
            {
                "id": k.id,
                "name": k.name,
                "role": k.role.value,
                "created_at": k.created_at.isoformat(),
                "expires_at": k.expires_at.isoformat() if k.expires_at else None,
                "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
                "status": k.status(now).value,
            }
            for k in keys
        ]
        typer.echo(json.dumps(rows, indent=2))
        return

    from rich import box
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(highlight=False)
    if not console.is_terminal:
        # Piped (grep, a file): whole rows, ids never cut, whatever the width guess.
        console = Console(highlight=False, width=200)
    if not keys:
        console.print("No API keys yet: `revgraph keys create --name NAME --role ROLE`.")
        return
    # Fits 80 columns with 11 characters of name (more wrap): created is a day.
    table = Table(title="API keys", box=box.SIMPLE_HEAD, collapse_padding=True, pad_edge=False)
    table.add_column("Id", no_wrap=True, min_width=16)
    table.add_column("Name", overflow="fold", min_width=11)
    table.add_column("Role", no_wrap=True)
    table.add_column("Created", no_wrap=True)
    table.add_column("Expires (UTC)", no_wrap=True)
    table.add_column("Status", no_wrap=True, min_width=7)
    colors = {"active": "green", "revoked": "red", "expired": "yellow"}
    for k in keys:
        status = k.status(now).value
        table.add_row(
            k.id,
            escape(k.name),
            k.role.value,
            k.created_at.strftime("%Y-%m-%d"),
            _when(k.expires_at, utc=False),
            f"[{colors[status]}]{status}[/]",
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(metavar="KEY_ID", help="The key's id (key_...).")],
) -> None:
    """Revoke a key: from now on it authenticates nobody. Exits 1 for an unknown id."""

    async def revoke(repo: ApiKeyRepository) -> tuple[ApiKey | None, ApiKey | None]:
        return await repo.get(key_id), await repo.revoke(key_id)

    before, after = _run("revoke the key", revoke)
    if after is None:
        typer.echo(f"No such key: {key_id}", err=True)
        raise typer.Exit(1)
    if before is not None and before.revoked_at is not None:
        typer.echo(f"{after.id} was already revoked ({_when(after.revoked_at)})")
        return
    typer.echo(f"revoked {after.id}")
