"""A small document store each simulator keeps its records in.

Records are JSON documents grouped by kind (``Account``, ``customer`` ...), kept
in one SQL table per simulator (a SQLite file by default, a Postgres schema when
configured) and mirrored in memory, where reads and filters run. Writes go to
both, so a restarted simulator (``keep`` data) sees what it had.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import JSON, Column, Integer, MetaData, String, Table, delete, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

Document = dict[str, Any]


def _table(metadata: MetaData) -> Table:
    return Table(
        "documents",
        metadata,
        Column("kind", String(64), primary_key=True),
        Column("id", String(128), primary_key=True),
        Column("seq", Integer, nullable=False, index=True),
        Column("body", JSON, nullable=False),
    )


class DocumentStore:
    """Documents by kind and id, in insertion order, with lazy field indexes."""

    def __init__(self, url: str, *, schema: str | None = None) -> None:
        self.url = url
        self.schema = schema
        self._metadata = MetaData(schema=schema)
        self._table = _table(self._metadata)
        self._engine: AsyncEngine | None = None
        self._docs: dict[str, dict[str, Document]] = {}
        self._indexes: dict[tuple[str, str], dict[Any, list[str]]] = {}
        self._seq = 0
        self._seqs: dict[tuple[str, str], int] = {}
        # Bumped by every write, so readers can tell whether what they derived is stale.
        self.version = 0

    async def open(self, *, reset: bool = False) -> None:
        """Connect, create the table if needed, and load every document."""
        # One idle connection per simulator: it holds its documents in memory and
        # only writes through, and test runs start dozens of simulators on one
        # Postgres (whose connection slots are shared by every replica and test).
        pooling = {"pool_size": 1, "max_overflow": 4} if self.url.startswith("postgresql") else {}
        self._engine = create_async_engine(self.url, **pooling)
        async with self._engine.begin() as conn:
            if self.schema:
                await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"'))
            await conn.run_sync(self._metadata.create_all)
            if reset:
                await conn.execute(delete(self._table))
            rows = await conn.execute(select(self._table).order_by(self._table.c.seq))
            for row in rows:
                body = row.body if isinstance(row.body, dict) else json.loads(row.body)
                self._docs.setdefault(row.kind, {})[row.id] = body
                self._seqs[(row.kind, row.id)] = row.seq
                self._seq = max(self._seq, row.seq)

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    def all(self, kind: str) -> list[Document]:
        """Every document of a kind, oldest first."""
        return list(self._docs.get(kind, {}).values())

    def get(self, kind: str, doc_id: str) -> Document | None:
        return self._docs.get(kind, {}).get(doc_id)

    def find(self, kind: str, field: str, value: Any) -> list[Document]:
        """Documents whose top-level ``field`` equals ``value`` (indexed on first use).

        A dotted field (``metadata.crm_account_id``) looks one level down.
        """
        key = (kind, field)
        index = self._indexes.get(key)
        if index is None:
            index = {}
            for doc_id, doc in self._docs.get(kind, {}).items():
                index.setdefault(_field(doc, field), []).append(doc_id)
            self._indexes[key] = index
        docs = self._docs.get(kind, {})
        return [docs[i] for i in index.get(value, []) if i in docs]

    async def put(self, kind: str, doc_id: str, doc: Document) -> Document:
        """Insert or replace one document."""
        await self.put_many(kind, [(doc_id, doc)])
        return doc

    async def put_many(self, kind: str, docs: Iterable[tuple[str, Document]]) -> None:
        """Insert or replace many documents in one transaction."""
        assert self._engine is not None, "DocumentStore.open() first"
        bucket = self._docs.setdefault(kind, {})
        rows = []
        for doc_id, doc in docs:
            existing = doc_id in bucket
            seq = self._seqs.get((kind, doc_id))
            if seq is None:
                self._seq += 1
                seq = self._seqs[(kind, doc_id)] = self._seq
            bucket[doc_id] = doc
            rows.append({"kind": kind, "id": doc_id, "seq": seq, "body": doc, "new": not existing})
        if not rows:  # an empty INSERT ... VALUES is an error (and a SQLAlchemy warning)
            return
        self.version += 1
        # Field indexes are rebuilt lazily: cheaper than patching them on every write.
        for key in [k for k in self._indexes if k[0] == kind]:
            del self._indexes[key]
        async with self._engine.begin() as conn:
            ids = [r["id"] for r in rows if not r["new"]]
            if ids:
                await conn.execute(
                    delete(self._table).where(self._table.c.kind == kind, self._table.c.id.in_(ids))
                )
            await conn.execute(
                self._table.insert(),
                [{k: v for k, v in r.items() if k != "new"} for r in rows],
            )

    async def delete(self, kind: str, doc_id: str) -> bool:
        """Remove one document; False if there was none.

        Field indexes need no rebuild: :meth:`find` skips ids no longer stored.
        """
        assert self._engine is not None, "DocumentStore.open() first"
        if self._docs.get(kind, {}).pop(doc_id, None) is None:
            return False
        self._seqs.pop((kind, doc_id), None)
        self.version += 1
        async with self._engine.begin() as conn:
            await conn.execute(
                delete(self._table).where(self._table.c.kind == kind, self._table.c.id == doc_id)
            )
        return True


def _field(doc: Document, field: str) -> Any:
    value: Any = doc
    for part in field.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value
