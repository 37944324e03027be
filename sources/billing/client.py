"""The Stripe adapter: reads by id and by customer, idempotent writes, Stripe errors.

Reads: Stripe has no multi-id retrieve, so the batch methods issue one call
(or one paginated list) per id concurrently with :func:`asyncio.gather`; the
:class:`~sources.base.SourceClient` semaphore bounds how many are in flight
(``SourceConfig.concurrency``). Lists page with :class:`StripeListPaginator`.

Writes: every POST carries an ``Idempotency-Key`` (the caller's, e.g. a flow
step's, or a fresh uuid4 per logical call). Because Stripe replays the saved
result for a key, a POST is safe to retry and is sent as ``idempotent``: each
retry reuses the same key, so a lost response never creates a second object.

Errors ``{"error": {"type", "code", "message", "param"}}`` map onto
:mod:`sources.errors` (see :meth:`BillingClient.translate_error`), keeping
``code`` (or ``type``) as the vendor code.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from sources.base import SourceClient
from sources.billing.forms import encode
from sources.billing.models import Customer, Invoice, InvoiceLine, Subscription
from sources.billing.pagination import StripeListPaginator, StripeSearchPaginator
from sources.errors import (
    SourceAuthError,
    SourceConflict,
    SourceError,
    SourceNotFound,
    SourceRequestError,
    SourceServerError,
    SourceUnavailable,
)
from sources.pagination import collect

STRIPE_VERSION = "2024-06-20"
T = TypeVar("T")
IDEMPOTENCY_HEADER = "Idempotency-Key"


def _path(*parts: str) -> str:
    """``/v1/...`` with each id escaped, so an id can never change the route."""
    return "/v1/" + "/".join(quote(p, safe="") for p in parts)


def _search_literal(value: str) -> str:
    """A Stripe search query string literal: single-quoted, ``\\`` and ``'`` escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _unique(ids: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(ids))


async def _all(calls: Iterable[Awaitable[T]]) -> list[T]:
    """Run calls concurrently, results in order; on the first failure cancel the rest
    (plain ``gather`` would leave them running for a caller that has given up)."""
    tasks = [asyncio.ensure_future(call) for call in calls]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        raise


async def _retrieve_many(ids: Sequence[str], get: Callable[[str], Awaitable[T]]) -> dict[str, T]:
    """Stripe has no multi-id read: one retrieve per id, concurrently; missing ids absent."""

    async def one(object_id: str) -> T | None:
        try:
            return await get(object_id)
        except SourceNotFound:
            return None

    unique = _unique(ids)
    found = await _all(one(i) for i in unique)
    return {i: v for i, v in zip(unique, found, strict=True) if v is not None}


class BillingClient(SourceClient):
    """Stripe's API for customers, subscriptions and invoices."""

    def default_headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.config.token}",
            "Accept": "application/json",
            # Pin the API version the models are written against.
            "Stripe-Version": STRIPE_VERSION,
        }

    def translate_error(self, response: httpx.Response) -> SourceError:
        """Stripe's error body → the error class by what the caller does next.

        ``idempotency_error`` → :class:`SourceConflict`; 404 or ``resource_missing``
        → :class:`SourceNotFound`; 401/403 → :class:`SourceAuthError`; 503 →
        :class:`SourceUnavailable`; ``api_error``, 5xx and 429 →
        :class:`SourceServerError`; other ``invalid_request_error`` (and
        ``card_error``) → :class:`SourceRequestError`. The vendor code is
        ``error.code``, else ``error.type``; a ``param`` is named in the message.
        """
        try:
            body = response.json()
        except ValueError:
            body = None
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict):
            return super().translate_error(response)
        status = response.status_code
        type_ = str(error.get("type") or "")
        code = error.get("code")
        message = str(error.get("message") or response.reason_phrase)
        if error.get("param"):
            message = f"{message} (param: {error['param']})"
        cls: type[SourceError]
        if status in (401, 403) or type_ == "authentication_error":
            cls = SourceAuthError
        elif type_ == "idempotency_error":
            cls = SourceConflict
        elif status == 404 or code == "resource_missing":
            cls = SourceNotFound
        elif status == 503:
            cls = SourceUnavailable
        elif type_ in ("api_error", "rate_limit_error") or status >= 500 or status == 429:
            cls = SourceServerError
        elif status == 409:
            cls = SourceConflict
        else:
            cls = SourceRequestError
        return cls(self.system, message, status=status, vendor_code=str(code or type_) or None)

    # -- plumbing ---------------------------------------------------------------

    def _json(self, response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError as exc:
            raise SourceServerError(
                self.system, f"answer is not JSON: {response.text[:200]!r}",
                status=response.status_code,
            ) from exc
        if not isinstance(body, dict):
            raise SourceServerError(
                self.system, "answer is not a JSON object", status=response.status_code
            )
        return body

    async def ping(self) -> None:
        """A one-customer list: proves the API answers and the key is valid."""
        await self._get(_path("customers"), {"limit": 1})

    async def _get(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        response = await self.request("GET", path, params=encode(params or {}))
        return self._json(response)

    async def _post(
        self, path: str, params: Mapping[str, Any] | None, idempotency_key: str | None
    ) -> dict[str, Any]:
        """POST form-encoded ``params`` under one key for every attempt (so retried)."""
        key = idempotency_key or str(uuid.uuid4())
        response = await self.request(
            "POST",
            path,
            # Bracketed keys are unique (arrays are indexed), so a dict keeps every pair.
            data=dict(encode(params or {})),
            headers={IDEMPOTENCY_HEADER: key},
            idempotent=True,
        )
        return self._json(response)

    def _list(self, path: str, params: Mapping[str, Any] | None = None) -> StripeListPaginator:
        return StripeListPaginator(lambda query: self._get(path, query), params)

    # -- customers --------------------------------------------------------------

    async def get_customer(self, customer_id: str) -> Customer:
        """One customer; a deleted one is :class:`SourceNotFound` (Stripe answers a stub)."""
        body = await self._get(_path("customers", customer_id))
        if body.get("deleted"):
            raise SourceNotFound(
                self.system, f"customer {customer_id} was deleted", vendor_code="deleted"
            )
        return Customer.model_validate(body)

    async def customers_by_ids(self, ids: Sequence[str]) -> dict[str, Customer]:
        """The customers that exist among ``ids`` (one retrieve each, concurrently)."""
        return await _retrieve_many(ids, self.get_customer)

    async def all_customers(self) -> list[Customer]:
        """Every (not deleted) customer, newest first."""
        records = await collect(self._list(_path("customers")))
        return [Customer.model_validate(r) for r in records]

    async def search_customers_by_crm_id(self, crm_account_id: str) -> list[Customer]:
        """Customers stamped ``metadata.crm_account_id`` = the id (normally one)."""
        query = f"metadata['crm_account_id']:{_search_literal(crm_account_id)}"
        paginator = StripeSearchPaginator(
            lambda params: self._get(_path("customers", "search"), params), query
        )
        return [Customer.model_validate(r) for r in await collect(paginator)]

    async def create_customer(
        self, params: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> Customer:
        return Customer.model_validate(
            await self._post(_path("customers"), params, idempotency_key)
        )

    async def update_customer(
        self, customer_id: str, params: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> Customer:
        return Customer.model_validate(
            await self._post(_path("customers", customer_id), params, idempotency_key)
        )

    # -- subscriptions ----------------------------------------------------------

    async def get_subscription(self, subscription_id: str) -> Subscription:
        return Subscription.model_validate(
            await self._get(_path("subscriptions", subscription_id))
        )

    async def subscriptions_by_ids(self, ids: Sequence[str]) -> dict[str, Subscription]:
        """The subscriptions that exist among ``ids`` (one retrieve each, concurrently)."""
        return await _retrieve_many(ids, self.get_subscription)

    async def subscriptions_for_customers(
        self, customer_ids: Sequence[str], *, status: str = "all"
    ) -> dict[str, list[Subscription]]:
        """Each customer's subscriptions (every id a key): one paginated list per customer."""

        async def one(customer_id: str) -> list[Subscription]:
            records = await collect(
                self._list(_path("subscriptions"), {"customer": customer_id, "status": status})
            )
            return [Subscription.model_validate(r) for r in records]

        unique = _unique(customer_ids)
        found = await _all(one(i) for i in unique)
        return dict(zip(unique, found, strict=True))

    async def create_subscription(
        self, params: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> Subscription:
        return Subscription.model_validate(
            await self._post(_path("subscriptions"), params, idempotency_key)
        )

    async def update_subscription(
        self,
        subscription_id: str,
        params: Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
    ) -> Subscription:
        return Subscription.model_validate(
            await self._post(_path("subscriptions", subscription_id), params, idempotency_key)
        )

    async def cancel_subscription(self, subscription_id: str) -> Subscription:
        """Cancel now. Safe to repeat: an already canceled subscription is returned as is.

        Stripe takes no idempotency key on DELETE and refuses to cancel twice, so
        a retry after a lost answer (or a resumed flow step) reads the
        subscription back instead of failing.
        """
        try:
            body = await self.request(
                "DELETE", _path("subscriptions", subscription_id), idempotent=True
            )
        except SourceRequestError:
            current = await self.get_subscription(subscription_id)
            if current.status == "canceled":
                return current
            raise
        return Subscription.model_validate(self._json(body))

    # -- invoices ---------------------------------------------------------------

    async def get_invoice(self, invoice_id: str) -> Invoice:
        return Invoice.model_validate(await self._get(_path("invoices", invoice_id)))

    async def invoices_by_ids(self, ids: Sequence[str]) -> dict[str, Invoice]:
        """The invoices that exist among ``ids`` (one retrieve each, concurrently)."""
        return await _retrieve_many(ids, self.get_invoice)

    async def invoices_for_customers(
        self,
        customer_ids: Sequence[str],
        *,
        status: str | None = None,
        created_gte: int | None = None,
        created_lte: int | None = None,
    ) -> dict[str, list[Invoice]]:
        """Each customer's invoices (every id a key): one paginated list per customer."""
        created = {"gte": created_gte, "lte": created_lte}

        async def one(customer_id: str) -> list[Invoice]:
            params = {"customer": customer_id, "status": status, "created": created}
            records = await collect(self._list(_path("invoices"), params))
            return [Invoice.model_validate(r) for r in records]

        unique = _unique(customer_ids)
        found = await _all(one(i) for i in unique)
        return dict(zip(unique, found, strict=True))

    async def invoice_lines(self, invoice_id: str) -> list[InvoiceLine]:
        """Every line of an invoice (the invoice itself embeds only the first ten)."""
        records = await collect(self._list(_path("invoices", invoice_id, "lines")))
        return [InvoiceLine.model_validate(r) for r in records]

    async def create_invoice(
        self, params: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> Invoice:
        """A draft invoice (for ``customer``, and ``subscription`` to bill its items)."""
        return Invoice.model_validate(
            await self._post(_path("invoices"), params, idempotency_key)
        )

    async def update_invoice(
        self, invoice_id: str, params: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> Invoice:
        return Invoice.model_validate(
            await self._post(_path("invoices", invoice_id), params, idempotency_key)
        )

    async def _invoice_action(
        self, invoice_id: str, action: str, idempotency_key: str | None
    ) -> Invoice:
        return Invoice.model_validate(
            await self._post(_path("invoices", invoice_id, action), None, idempotency_key)
        )

    async def finalize_invoice(
        self, invoice_id: str, *, idempotency_key: str | None = None
    ) -> Invoice:
        """draft → open (numbered; a zero total goes straight to paid)."""
        return await self._invoice_action(invoice_id, "finalize", idempotency_key)

    async def pay_invoice(self, invoice_id: str, *, idempotency_key: str | None = None) -> Invoice:
        """open (or uncollectible) → paid."""
        return await self._invoice_action(invoice_id, "pay", idempotency_key)

    async def void_invoice(self, invoice_id: str, *, idempotency_key: str | None = None) -> Invoice:
        """open (or uncollectible) → void."""
        return await self._invoice_action(invoice_id, "void", idempotency_key)

    async def mark_invoice_uncollectible(
        self, invoice_id: str, *, idempotency_key: str | None = None
    ) -> Invoice:
        """open → uncollectible."""
        return await self._invoice_action(invoice_id, "mark_uncollectible", idempotency_key)
