"""The billing read model's storage: complete lists, ordered writes, the event cursor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from store.billing_objects import BillingObjects, Changes

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def sub(sub_id: str, status: str = "active") -> dict[str, object]:
    return {"id": sub_id, "object": "subscription", "customer": "cus_1", "status": status}


async def test_only_complete_lists_answer(store_engine: AsyncEngine) -> None:
    store = BillingObjects(store_engine)
    await store.put("subscription", sub("sub_1"), "cus_1", T0, T0)  # an event, not a list
    assert await store.lists("subscription", ["cus_1"]) == {}
    lists = {"cus_1": [sub("sub_1"), sub("sub_2")], "cus_2": []}  # cus_2: complete, empty
    await store.replace_lists("subscription", lists, T0)
    found = await store.lists("subscription", ["cus_1", "cus_2", "cus_3"])
    assert set(found) == {"cus_1", "cus_2"}
    assert sorted(o.id for o in found["cus_1"].objects) == ["sub_1", "sub_2"]
    assert found["cus_1"].as_of == T0 and found["cus_2"].objects == ()


async def test_a_live_list_drops_what_billing_no_longer_lists(store_engine: AsyncEngine) -> None:
    store = BillingObjects(store_engine)
    await store.replace_lists("subscription", {"cus_1": [sub("sub_1"), sub("sub_2")]}, T0)
    later = T0 + timedelta(minutes=1)
    await store.replace_lists("subscription", {"cus_1": [sub("sub_2")]}, later)
    (only,) = (await store.lists("subscription", ["cus_1"]))["cus_1"].objects
    assert only.id == "sub_2" and only.as_of == later


async def test_an_older_state_never_overwrites_a_newer_one(store_engine: AsyncEngine) -> None:
    store = BillingObjects(store_engine)
    newer, older = T0 + timedelta(seconds=10), T0
    assert await store.put("subscription", sub("sub_1", "canceled"), "cus_1", newer, newer)
    assert not await store.put("subscription", sub("sub_1", "active"), "cus_1", older, newer)
    assert await store.put("subscription", sub("sub_1", "canceled"), "cus_1", newer, newer)
    (kept,) = (await store.objects("subscription", ["sub_1"])).values()
    assert kept.body["status"] == "canceled"
    await store.put("subscription", sub("sub_1"), "cus_1", newer, newer, deleted=True)
    assert await store.objects("subscription", ["sub_1"]) == {}


async def test_the_cursor_only_moves_forward(store_engine: AsyncEngine) -> None:
    store = BillingObjects(store_engine)
    assert await store.cursor("BILLING") is None
    await store.advance("BILLING", T0, "evt_1", T0)
    await store.advance("BILLING", T0 - timedelta(seconds=5), "evt_0", T0)
    cursor = await store.cursor("BILLING")
    assert cursor is not None and (cursor.last_event_at, cursor.last_event_id) == (T0, "evt_1")


async def test_changes_name_what_was_written_since_and_count_lists(
    store_engine: AsyncEngine,
) -> None:
    store = BillingObjects(store_engine)
    await store.replace_lists("subscription", {"cus_1": [sub("sub_1")], "cus_2": []}, T0)
    later = T0 + timedelta(seconds=30)
    assert await store.changes(later) == Changes(frozenset(), 2)
    await store.put("subscription", sub("sub_1", "canceled"), "cus_1", later, later)
    await store.put("invoice", {"id": "in_9", "object": "invoice"}, None, later, later)  # no owner
    assert (await store.changes(T0)).lists == {("subscription", "cus_1")}
    # A live read that empties a list shows through the list's own row.
    await store.replace_lists("subscription", {"cus_2": []}, later + timedelta(seconds=1))
    assert (await store.changes(later)).lists == {("subscription", "cus_2")}
    assert (await store.changes(T0 - timedelta(seconds=1))).lists == {
        ("subscription", "cus_1"),
        ("subscription", "cus_2"),
    }
    await store.clear()  # shows as fewer complete lists
    assert await store.changes(T0) == Changes(frozenset(), 0)
