"""The answer read model's storage: hop answers of the systems that batch.

Two tables (migration ``0009_answer_read_model``), shared by every replica:

* ``stored_answers``: per system, hop and key, the answer as JSON text and
  ``as_of``, when it was read (the start of the read);
* ``answer_watermarks``: per system, when it last reported a change (a
  webhook, or a write through the gateway). An answer read before its
  system's watermark is never served: a change reported while a live read
  was in flight cannot be hidden by that read's older answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, and_, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from store.models import AnswerWatermarkRow, StoredAnswerRow
from store.portable import as_utc, insert_for

__all__ = ["StoredAnswer", "StoredAnswers"]

_ROWS_PER_STATEMENT = 500
"""Rows per multi-row upsert (5 parameters each: well under SQLite's limit)."""
_ANSWERS = cast(Table, StoredAnswerRow.__table__)
_MARKS = cast(Table, AnswerWatermarkRow.__table__)


@dataclass(frozen=True)
class StoredAnswer:
    payload: str
    """The answer as JSON text (``null``: nothing exists)."""
    as_of: datetime


class StoredAnswers:
    """Read and write the answer read model's tables (see the module docstring)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def answers(self, system: str, hop: str, keys: Sequence[str]) -> dict[str, StoredAnswer]:
        """The answers among ``keys`` read after the system's last reported change."""
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        mark = select(_MARKS.c.changed_at).where(_MARKS.c.system == system).scalar_subquery()
        query = select(_ANSWERS.c.key, _ANSWERS.c.payload, _ANSWERS.c.as_of).where(
            _ANSWERS.c.system == system,
            _ANSWERS.c.hop == hop,
            _ANSWERS.c.key.in_(wanted),
            or_(mark.is_(None), _ANSWERS.c.as_of > mark),
        )
        async with self._engine.connect() as conn:
            rows = await conn.execute(query)
            return {row.key: StoredAnswer(row.payload, as_utc(row.as_of)) for row in rows}

    async def keep(
        self, system: str, hop: str, payloads: Mapping[str, str], as_of: datetime
    ) -> None:
        """Store answers read at ``as_of`` (an answer read later is not replaced)."""
        rows = [
            {"system": system, "hop": hop, "key": key, "payload": payload, "as_of": as_of}
            for key, payload in payloads.items()
        ]
        async with self._engine.begin() as conn:
            for start in range(0, len(rows), _ROWS_PER_STATEMENT):
                statement = insert_for(conn, _ANSWERS).values(
                    rows[start : start + _ROWS_PER_STATEMENT]
                )
                await conn.execute(
                    statement.on_conflict_do_update(
                        index_elements=["system", "hop", "key"],
                        set_={"payload": statement.excluded.payload, "as_of": as_of},
                        where=_ANSWERS.c.as_of <= as_of,
                    )
                )

    async def changed(self, system: str, at: datetime) -> None:
        """``system`` reported a change at ``at``: answers read before it are dropped."""
        async with self._engine.begin() as conn:
            statement = insert_for(conn, _MARKS).values(system=system, changed_at=at)
            await conn.execute(
                statement.on_conflict_do_update(
                    index_elements=["system"],
                    set_={"changed_at": at},
                    where=_MARKS.c.changed_at < at,
                )
            )
            await conn.execute(
                delete(_ANSWERS).where(and_(_ANSWERS.c.system == system, _ANSWERS.c.as_of <= at))
            )
