"""Starting simulators with their stores: the CLI, the demo and the tests use this.

A :class:`Cluster` opens one :class:`DocumentStore` per simulator (a SQLite file
in ``data_dir``, or a schema ``{schema_prefix}_{name}`` in ``database_url`` when
that is Postgres), loads the records it is given, and serves the apps.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from starlette.types import ASGIApp

from simulators.config import SimulatorConfig
from simulators.registry import SIMULATORS
from simulators.serving import BackgroundServers, serve
from simulators.storage import Document, DocumentStore

Records = Mapping[str, Mapping[str, Iterable[tuple[str, Document]]]]
"""``records[system][kind]`` → ``(id, document)`` pairs to load."""


@dataclass
class Cluster:
    """Stores and apps for some (default: all) of the simulators."""

    data_dir: Path
    database_url: str | None = None
    schema_prefix: str = "revgraph_sim"
    names: tuple[str, ...] = tuple(SIMULATORS)
    webhook_url: str | None = None
    limits_enabled: bool = False
    """Enforce the vendors' limits (rates, concurrency, daily allocation) from the start."""
    stores: dict[str, DocumentStore] = field(default_factory=dict)

    def store_for(self, name: str) -> DocumentStore:
        if self.database_url and self.database_url.startswith("postgresql"):
            return DocumentStore(self.database_url, schema=f"{self.schema_prefix}_{name.lower()}")
        os.makedirs(self.data_dir, exist_ok=True)
        path = self.data_dir / f"{name.lower()}.sqlite3"
        return DocumentStore(f"sqlite+aiosqlite:///{path}")

    async def open(self, records: Records | None, *, reset: bool) -> None:
        """Open every store; with ``records``, replace its content with them."""
        for name in self.names:
            store = self.store_for(name)
            await store.open(reset=reset or records is not None)
            for kind, docs in (records or {}).get(name, {}).items():
                await store.put_many(kind, docs)
            self.stores[name] = store

    def build(self, urls: Mapping[str, str]) -> dict[str, ASGIApp]:
        apps: dict[str, ASGIApp] = {}
        for name in self.names:
            spec = SIMULATORS[name]
            config = SimulatorConfig(
                base_url=urls[name],
                token=spec.token,
                webhook_url=self.webhook_url,
                webhook_secret=spec.webhook_secret,
                limits_enabled=self.limits_enabled,
            )
            apps[name] = spec.factory()(self.stores[name], config)
        return apps

    async def close(self) -> None:
        for store in self.stores.values():
            await store.close()
        self.stores.clear()

    async def serve(
        self,
        records: Records | None,
        *,
        base_port: int,
        host: str = "127.0.0.1",
        reset: bool = False,
        ready: Callable[[Mapping[str, str]], None] | None = None,
    ) -> None:
        """Serve in the current loop until cancelled (the ``revgraph simulators`` command)."""

        async def build(urls: Mapping[str, str]) -> Mapping[str, ASGIApp]:
            await self.open(records, reset=reset)
            return self.build(urls)

        ports = {n: SIMULATORS[n].port(base_port) for n in self.names}
        try:
            await serve(build, ports, host=host, ready=ready)
        finally:
            await self.close()

    def background(
        self, records: Records | None, *, base_port: int = 0, host: str = "127.0.0.1"
    ) -> BackgroundServers:
        """Servers in a background thread (tests, benchmarks, the demo); call ``start()``."""

        async def build(urls: Mapping[str, str]) -> Mapping[str, ASGIApp]:
            await self.open(records, reset=True)
            return self.build(urls)

        ports = {n: SIMULATORS[n].port(base_port) for n in self.names}
        return BackgroundServers(build, ports, host=host, cleanup=self.close)
