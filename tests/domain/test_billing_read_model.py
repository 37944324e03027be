"""Edge cases of the billing read model's reads by id (an adapter answering from a
``MockTransport``, the store real)."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.billing_read_model import BillingReadModel, Via
from sources.base import SourceConfig
from sources.billing.client import BillingClient
from sources.systems import System
from store.billing_objects import BillingObjects

CUSTOMERS: dict[str, dict[str, Any]] = {
    "cus_live": {
        "id": "cus_live",
        "object": "customer",
        "name": "Acme",
        "created": 1_700_000_000,
        "metadata": {"crm_account_id": "001A"},
    },
    # Stripe answers a retrieve of a deleted customer with a stub.
    "cus_gone": {"id": "cus_gone", "object": "customer", "deleted": True},
}


async def test_customers_by_id_are_kept_and_a_deleted_one_is_absent(
    store_engine: AsyncEngine,
) -> None:
    retrieved: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        customer_id = request.url.path.rsplit("/", 1)[-1]
        retrieved.append(customer_id)
        if customer_id not in CUSTOMERS:
            return httpx.Response(
                404, json={"error": {"type": "invalid_request_error", "code": "resource_missing"}}
            )
        return httpx.Response(200, json=CUSTOMERS[customer_id])

    config = SourceConfig(System.BILLING, "https://api.stripe.test", "sk_test_x", max_retries=0)
    client = BillingClient(config, transport=httpx.MockTransport(handler))
    model = BillingReadModel(client, BillingObjects(store_engine))
    try:
        first = await model.objects("customer", ["cus_live", "cus_gone", "cus_never"])
        assert set(first) == {"cus_live"}
        served = first["cus_live"]
        assert not isinstance(served, Exception)
        assert served.via is Via.LIVE and served.value.crm_account_id == "001A"
        retrieved.clear()
        again = await model.objects("customer", ["cus_live", "cus_gone"])
        served = again["cus_live"]
        assert not isinstance(served, Exception) and served.via is Via.READ_MODEL
        assert "cus_gone" not in again
        assert retrieved == ["cus_gone"]  # kept as deleted, so asked again, never served
    finally:
        await client.aclose()
