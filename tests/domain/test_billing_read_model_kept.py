"""The billing read model's in-process copies of stored lists: served without SQL, dropped
on this process's writes at once and on another replica's at the next look."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from domain import billing_read_model
from domain.billing_read_model import BillingReadModel, Via
from sources.base import SourceConfig
from sources.billing.client import BillingClient
from sources.systems import System
from store.billing_objects import BillingObjects, StoredList

CREATED = 1_700_000_000


def subscription(sub_id: str, status: str = "active", created: int = CREATED) -> dict[str, Any]:
    return {
        "id": sub_id,
        "object": "subscription",
        "customer": "cus_1",
        "status": status,
        "currency": "usd",
        "created": created,
        "items": {"object": "list", "data": []},
    }


class CountingStore(BillingObjects):
    """The real store, counting the list reads that reach it."""

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine)
        self.list_reads = 0

    async def lists(self, kind: str, customer_ids: Sequence[str]) -> dict[str, StoredList]:
        self.list_reads += 1
        return await super().lists(kind, customer_ids)


@pytest.fixture
async def billing() -> AsyncIterator[BillingClient]:
    listed = [subscription("sub_1"), subscription("sub_2", created=CREATED + 60)]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, json={"object": "list", "data": listed, "has_more": False, "url": "/v1/x"}
        )

    config = SourceConfig(System.BILLING, "https://api.stripe.test", "sk_test_x", max_retries=0)
    client = BillingClient(config, transport=httpx.MockTransport(handler))
    try:
        yield client
    finally:
        await client.aclose()


async def statuses(model: BillingReadModel) -> tuple[Via, dict[str, str]]:
    served = (await model.subscriptions(["cus_1"]))["cus_1"]
    assert not isinstance(served, Exception)
    return served.via, {s.id: s.status.value for s in served.value}


async def test_a_kept_list_is_served_without_the_store_until_written(
    store_engine: AsyncEngine, billing: BillingClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(billing_read_model, "WATCH_S", 0.0)  # look at every read
    # One clock here: no need to look back (else a list written in the last seconds
    # is read from the store again at each look, as it should be across replicas).
    monkeypatch.setattr(billing_read_model, "WATCH_OVERLAP_S", 0.0)
    store = CountingStore(store_engine)
    model = BillingReadModel(billing, store)
    assert (await statuses(model))[0] is Via.LIVE  # read live once, stored
    assert await statuses(model) == (Via.READ_MODEL, {"sub_1": "active", "sub_2": "active"})
    reads = store.list_reads
    served = (await model.subscriptions(["cus_1"]))["cus_1"]
    assert store.list_reads == reads  # kept: no store read
    assert not isinstance(served, Exception)
    assert [s.id for s in served.value] == ["sub_2", "sub_1"]  # Stripe's order, newest first

    # This process's write: dropped at once, read back (read-your-writes).
    await model.record(subscription("sub_1", "canceled"))
    assert (await statuses(model))[1]["sub_1"] == "canceled"
    assert store.list_reads == reads + 1

    # Another replica's event, through the shared store: seen at the next look.
    replica = BillingReadModel(billing, BillingObjects(store_engine))
    event = {"data": {"object": subscription("sub_2", "past_due")}}
    assert await replica._apply("customer.subscription.updated", event, replica.clock())
    assert (await statuses(model))[1] == {"sub_1": "canceled", "sub_2": "past_due"}


async def test_between_looks_another_replicas_write_waits_for_the_next(
    store_engine: AsyncEngine, billing: BillingClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(billing_read_model, "WATCH_S", 3600.0)  # no further look
    model = BillingReadModel(billing, BillingObjects(store_engine))
    await statuses(model)
    await statuses(model)  # kept now
    replica = BillingReadModel(billing, BillingObjects(store_engine))
    await replica.record(subscription("sub_2", "canceled"))
    assert (await statuses(model))[1]["sub_2"] == "active"  # the bound WATCH_S documents
    monkeypatch.setattr(billing_read_model, "WATCH_S", 0.0)
    monkeypatch.setattr(billing_read_model, "WATCH_OVERLAP_S", 0.0)
    assert (await statuses(model))[1]["sub_2"] == "canceled"


async def test_a_store_read_that_raced_a_write_is_not_kept(
    store_engine: AsyncEngine, billing: BillingClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(billing_read_model, "WATCH_S", 3600.0)
    model = BillingReadModel(billing, BillingObjects(store_engine))
    await statuses(model)  # stored (live read)

    class Racing(BillingObjects):
        async def lists(self, kind: str, customer_ids: Sequence[str]) -> dict[str, StoredList]:
            found = await super().lists(kind, customer_ids)  # the state before the write
            await model.record(subscription("sub_1", "canceled"))  # lands meanwhile
            model.store = BillingObjects(store_engine)
            return found

    model.store = Racing(store_engine)
    assert (await statuses(model))[1]["sub_1"] == "active"  # what that read saw
    assert (await statuses(model))[1]["sub_1"] == "canceled"  # but it was not kept


async def test_an_emptied_read_model_is_seen_by_every_process(
    store_engine: AsyncEngine, billing: BillingClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(billing_read_model, "WATCH_S", 0.0)
    model = BillingReadModel(billing, BillingObjects(store_engine))
    await statuses(model)
    assert (await statuses(model))[0] is Via.READ_MODEL  # kept
    await BillingObjects(store_engine).clear()  # e.g. an operator, from another process
    assert (await statuses(model))[0] is Via.LIVE  # read live again, not the kept copy
