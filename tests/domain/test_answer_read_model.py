"""The answer read model's rules, over a real store and a counted batch read."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.answer_read_model import AnswerReadModel
from domain.billing_read_model import Served, Via
from domain.money import Money
from domain.records import ArPosting
from sources.errors import SourceError, SourceUnavailable
from sources.systems import System
from store.stored_answers import StoredAnswers

POSTING = ArPosting(
    id="901",
    external_id="in_1",
    number="INV-1",
    customer_id="77",
    currency="EUR",
    total=Money.of("120.50", "EUR"),
    amount_remaining=Money.of("0", "EUR"),
    posted_on=date(2026, 11, 2),
    status="Paid In Full",
)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class Erp:
    """A batch read of AR postings by invoice id, counting what it is asked."""

    def __init__(self) -> None:
        self.asked: list[list[str]] = []
        self.down = False

    async def postings(self, keys: list[str]) -> Mapping[str, Any]:
        self.asked.append(keys)
        if self.down:
            raise SourceUnavailable(System.ERP, "down")
        return {"in_1": POSTING} if "in_1" in keys else {}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def model(store_engine: AsyncEngine, clock: Clock) -> AnswerReadModel:
    return AnswerReadModel(
        StoredAnswers(store_engine), frozenset({System.ERP}), max_age_s=60, clock=clock
    )


def value(answer: Served[Any] | SourceError) -> Any:
    assert isinstance(answer, Served)
    return answer.value


async def test_answers_are_kept_and_served_within_the_bound(
    model: AnswerReadModel, clock: Clock
) -> None:
    erp = Erp()
    read = model.wrap(System.ERP, "arPostings", erp.postings, ArPosting)
    first = await read(["in_1", "in_2"])
    assert value(first["in_1"]) == POSTING and first["in_1"].via is Via.LIVE  # type: ignore[union-attr]
    assert value(first["in_2"]) is None  # nothing exists: kept too
    clock.now += timedelta(seconds=30)
    again = await read(["in_1", "in_2"])
    assert erp.asked == [["in_1", "in_2"]]
    served = again["in_1"]
    assert isinstance(served, Served) and served.via is Via.READ_MODEL
    assert served.value == POSTING and served.as_of == clock.now - timedelta(seconds=30)
    assert value(again["in_2"]) is None
    clock.now += timedelta(seconds=31)  # older than the bound: live again
    await read(["in_1"])
    assert erp.asked[-1] == ["in_1"]


async def test_a_reported_change_drops_what_was_read_before_it(
    model: AnswerReadModel, clock: Clock
) -> None:
    erp = Erp()
    read = model.wrap(System.ERP, "arPostings", erp.postings, ArPosting)
    await read(["in_1"])
    clock.now += timedelta(seconds=1)
    await model.changed(System.ERP)
    await model.changed(System.CRM)  # not served by this model: nothing happens
    clock.now += timedelta(seconds=1)
    assert (await read(["in_1"]))["in_1"].via is Via.LIVE  # type: ignore[union-attr]
    assert len(erp.asked) == 2


async def test_a_read_in_flight_during_a_change_is_not_served_later(
    model: AnswerReadModel, clock: Clock
) -> None:
    erp = Erp()

    async def slow(keys: list[str]) -> Mapping[str, Any]:
        # The change is reported while this read is out; its answer predates it.
        clock.now += timedelta(seconds=1)
        await model.changed(System.ERP)
        clock.now += timedelta(seconds=1)
        return await erp.postings(keys)

    await model.wrap(System.ERP, "arPostings", slow, ArPosting)(["in_1"])
    again = await model.wrap(System.ERP, "arPostings", erp.postings, ArPosting)(["in_1"])
    assert again["in_1"].via is Via.LIVE  # type: ignore[union-attr]


async def test_when_the_system_is_down_stored_answers_stand_in(
    model: AnswerReadModel, clock: Clock
) -> None:
    erp = Erp()
    read = model.wrap(System.ERP, "arPostings", erp.postings, ArPosting)
    await read(["in_1"])
    erp.down = True
    clock.now += timedelta(hours=1)  # far past the bound
    down = await read(["in_1", "in_3"])
    stale = down["in_1"]
    assert isinstance(stale, Served) and stale.via is Via.READ_MODEL and stale.value == POSTING
    assert isinstance(down["in_3"], SourceUnavailable)  # never read: the failure, not a null


def test_only_the_systems_that_batch(store_engine: AsyncEngine) -> None:
    with pytest.raises(ValueError, match="BILLING"):
        AnswerReadModel(StoredAnswers(store_engine), frozenset({System.BILLING}))
