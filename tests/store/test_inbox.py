"""The webhook inbox on the test's store (SQLite, or Postgres with DATABASE_URL)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.webhooks import WebhookEvent, WebhookStatus
from sources.systems import System
from store.inbox import RecordOutcome, WebhookInbox

T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def event(
    event_id: str, subject: str = "in_1", at: datetime = T0, source: System = System.BILLING
) -> WebhookEvent:
    return WebhookEvent(
        source=source,
        event_id=event_id,
        type="invoice.updated",
        subject=subject,
        occurred_at=at,
        payload={"id": event_id, "data": {"object": {"id": subject}}},
    )


@pytest.fixture
def inbox(store_engine: AsyncEngine) -> WebhookInbox:
    return WebhookInbox(store_engine)


async def test_an_event_is_stored_once_and_redeliveries_are_counted(inbox: WebhookInbox) -> None:
    first = await inbox.record(event("evt_1"))
    assert (first.outcome, first.status, first.duplicate) == (
        RecordOutcome.NEW,
        WebhookStatus.RECEIVED,
        False,
    )
    again = await inbox.record(event("evt_1"))
    assert (again.outcome, again.duplicate) == (RecordOutcome.DUPLICATE, True)
    stored = await inbox.get(System.BILLING, "evt_1")
    assert stored is not None
    assert (stored.duplicates, stored.status) == (1, WebhookStatus.RECEIVED)
    assert stored.event == event("evt_1")
    assert stored.received_at.tzinfo is not None
    # The same id from another source is another event.
    other = await inbox.record(event("evt_1", source=System.CRM))
    assert other.outcome is RecordOutcome.NEW
    assert await inbox.duplicates_total() == 1
    assert await inbox.get(System.ERP, "evt_1") is None


async def test_concurrent_deliveries_store_one_row(inbox: WebhookInbox) -> None:
    results = await asyncio.gather(*(inbox.record(event("evt_race")) for _ in range(5)))
    assert sorted(r.outcome for r in results) == [RecordOutcome.DUPLICATE] * 4 + [RecordOutcome.NEW]
    stored = await inbox.get(System.BILLING, "evt_race")
    assert stored is not None and stored.duplicates == 4


async def test_pending_is_oldest_first_with_ties_by_id(inbox: WebhookInbox) -> None:
    await inbox.record(event("evt_c", at=T0 + timedelta(seconds=2)))
    await inbox.record(event("evt_b", subject="in_2", at=T0))
    await inbox.record(event("evt_a", at=T0))
    assert [p.event.event_id for p in await inbox.pending()] == ["evt_a", "evt_b", "evt_c"]
    assert [p.event.event_id for p in await inbox.pending(limit=1)] == ["evt_a"]


async def test_an_older_event_after_a_newer_one_is_superseded(inbox: WebhookInbox) -> None:
    await inbox.record(event("evt_new", at=T0 + timedelta(seconds=5)))
    assert await inbox.mark_applied(System.BILLING, "evt_new")
    late = await inbox.record(event("evt_old", at=T0))
    assert (late.outcome, late.status) == (RecordOutcome.SUPERSEDED, WebhookStatus.SUPERSEDED)
    assert await inbox.pending() == []
    # A redelivery of the superseded event stays superseded.
    again = await inbox.record(event("evt_old", at=T0))
    assert (again.outcome, again.status) == (RecordOutcome.DUPLICATE, WebhookStatus.SUPERSEDED)
    # Other subjects and later events are unaffected.
    assert (await inbox.record(event("evt_x", subject="in_2", at=T0))).outcome is (
        RecordOutcome.NEW
    )
    later = await inbox.record(event("evt_later", at=T0 + timedelta(seconds=6)))
    assert later.outcome is RecordOutcome.NEW


async def test_events_of_the_same_instant_do_not_supersede_each_other(
    inbox: WebhookInbox,
) -> None:
    # Stripe dates events to the second and its ids are random: neither is "older".
    await inbox.record(event("evt_zzz", at=T0))
    assert await inbox.mark_applied(System.BILLING, "evt_zzz")
    assert (await inbox.record(event("evt_aaa", at=T0))).outcome is RecordOutcome.NEW


async def test_a_waiting_event_is_superseded_when_a_newer_one_was_applied_meanwhile(
    inbox: WebhookInbox,
) -> None:
    older, newer = event("evt_1", at=T0), event("evt_2", at=T0 + timedelta(seconds=1))
    await inbox.record(newer)
    await inbox.record(older)  # both waiting: nothing is stale yet
    assert not await inbox.supersede_if_stale(older)
    assert await inbox.mark_applied(System.BILLING, "evt_2")
    assert not await inbox.supersede_if_stale(newer)  # not waiting any more
    assert await inbox.supersede_if_stale(older)
    stored = await inbox.get(System.BILLING, "evt_1")
    assert stored is not None and stored.status is WebhookStatus.SUPERSEDED
    assert not await inbox.mark_applied(System.BILLING, "evt_1")


async def test_applied_and_failed_are_final(inbox: WebhookInbox) -> None:
    await inbox.record(event("evt_ok"))
    await inbox.record(event("evt_bad", subject="in_2"))
    assert await inbox.mark_applied(System.BILLING, "evt_ok")
    assert await inbox.mark_failed(System.BILLING, "evt_bad", "ERP down " + "x" * 5000)
    ok = await inbox.get(System.BILLING, "evt_ok")
    bad = await inbox.get(System.BILLING, "evt_bad")
    assert ok is not None and ok.status is WebhookStatus.APPLIED and ok.applied_at is not None
    assert bad is not None and bad.status is WebhookStatus.FAILED and bad.applied_at is None
    assert bad.error is not None and bad.error.startswith("ERP down") and len(bad.error) == 2000
    assert not await inbox.mark_failed(System.BILLING, "evt_ok", "late")
    assert not await inbox.mark_applied(System.BILLING, "evt_bad")
    assert not await inbox.mark_applied(System.BILLING, "evt_unknown")
    assert await inbox.pending() == []


async def test_naive_times_are_refused(inbox: WebhookInbox) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        await inbox.record(event("evt_naive", at=datetime(2025, 6, 1)))


async def test_one_drainer_at_a_time(inbox: WebhookInbox, second_engine: AsyncEngine) -> None:
    """Two replicas on one Postgres store: only one drains (skipped on SQLite)."""
    other = WebhookInbox(second_engine)
    async with inbox.exclusive() as mine:
        assert mine
        async with other.exclusive() as theirs:
            assert not theirs
    async with other.exclusive() as theirs:
        assert theirs


async def test_the_embedded_store_always_drains(
    inbox: WebhookInbox, postgres_url: str | None
) -> None:
    if postgres_url is not None:
        pytest.skip("the embedded store's case")
    async with inbox.exclusive() as mine:
        assert mine
