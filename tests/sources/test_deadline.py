"""The request deadline: nested scopes keep the earlier one; tasks inherit it."""

from __future__ import annotations

import asyncio

from sources.deadline import deadline, remaining


def test_no_deadline_outside_a_scope() -> None:
    assert remaining() is None


def test_an_inner_deadline_never_extends_the_outer_one() -> None:
    with deadline(1.0):
        with deadline(60.0):
            left = remaining()
            assert left is not None and left <= 1.0
        with deadline(0.5):
            left = remaining()
            assert left is not None and left <= 0.5
    assert remaining() is None


async def test_tasks_started_inside_inherit_it() -> None:
    async def seen() -> float | None:
        return remaining()

    with deadline(2.0):
        left = await asyncio.ensure_future(seen())
    assert left is not None and 0 < left <= 2.0
