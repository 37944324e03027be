"""The Stripe adapter: reads by id and by customer, idempotent writes, Stripe errors.

Reads: Stripe has no multi-id retrieve, so the batch methods issue one call
(or one paginated list) per id concurrently with
:func:`~sources.base.gather_or_cancel`; the :class:`~sources.base.SourceClient`
semaphore bounds how many are in flight (``SourceConfig.concurrency``). Lists
page with :class:`~sources.pagination.StripeListPaginator`. Everything read
comes back as :mod:`domain.records` (amounts as :class:`~domain.money.Money`,
timestamps as aware datetimes).

Writes: every POST carries an ``Idempotency-Key`` (the caller's, e.g. a flow
step's, or a fresh uuid4 per logical call). Because Stripe replays the saved
result for a key, a POST is safe to retry and is sent as ``idempotent``: each
retry reuses the same key, so a lost response never creates a second object.
Write parameters are still Stripe's (form-encoded by :mod:`sources.billing.forms`).

Errors ``{"error": {"type", "code", "message", "param"}}`` map onto
:mod:`sources.errors` through :data:`ERROR_CLASSES` (``code``, then ``type``),
then the HTTP status, keeping ``code`` (or ``type``) as the vendor code. Stripe's
``Stripe-Should-Retry`` header, when sent, overrides whether that answer is
retried (``true`` on a 409 lock timeout, ``false`` on a 5xx that did its work);
a 429 ``rate_limit`` is :class:`~sources.errors.SourceThrottled`, retried after
its ``Retry-After`` (see :mod:`sources.base`).

The API version is pinned (:data:`STRIPE_VERSION`, sent as ``Stripe-Version``
on every call, as Stripe recommends): the wire models are written against its
shapes, and an account's default version changing must not change them.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from domain.records import BillingCustomer, Invoice, InvoiceLine, Subscription, SubscriptionStatus
from sources.base import SourceClient, gather_or_cancel
from sources.billing import wire
from sources.billing.forms import encode
from sources.encoding import decode_object, unique, utc, wire_errors
from sources.errors import (
    SourceAuthError,
    SourceConflict,
    SourceError,
    SourceNotFound,
    SourceRequestError,
    SourceThrottled,
)
from sources.pagination import StripeListPaginator, StripeSearchPaginator, chunked, collect

STRIPE_VERSION = "2024-06-20"
T = TypeVar("T")
IDEMPOTENCY_HEADER = "Idempotency-Key"

ERROR_CLASSES: dict[str, type[SourceError]] = {
    # error.type
    "authentication_error": SourceAuthError,
    "idempotency_error": SourceConflict,  # same key, other parameters (HTTP 400)
    # error.code
    "resource_missing": SourceNotFound,
    "api_key_expired": SourceAuthError,
    "rate_limit": SourceThrottled,  # HTTP 429: Stripe's rate limiter
}
"""Stripe's error ``code`` / ``type`` → class, where it says more than the status.
``api_error`` is left to the status (5xx, 503)."""
SHOULD_RETRY_HEADER = "Stripe-Should-Retry"
SEARCH_MAX_CLAUSES = 10
"""Stripe's search query language combines at most ten clauses in one query."""


def _path(*parts: str) -> str:
    """``/v1/...`` with each id escaped, so an id can never change the route."""
    return "/v1/" + "/".join(quote(p, safe="") for p in parts)


def _search_literal(value: str) -> str:
    """A Stripe search query string literal: single-quoted, ``\\`` and ``'`` escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


async def _retrieve_many(ids: Sequence[str], get: Callable[[str], Awaitable[T]]) -> dict[str, T]:
    """Stripe has no multi-id read: one retrieve per id, concurrently; missing ids absent."""

    async def one(object_id: str) -> T | None:
        try:
            return await get(object_id)
        except SourceNotFound:
            return None

    wanted = unique(ids)
    found = await gather_or_cancel(one(i) for i in wanted)
    return {i: v for i, v in zip(wanted, found, strict=True) if v is not None}


ObjectListener = Callable[[dict[str, Any]], Awaitable[None]]
"""Told every object a write answered with (the read model keeps it: read-your-writes)."""


class BillingClient(SourceClient):
    """Stripe's API for customers, subscriptions and invoices.

    ``written`` listeners hear every object a write (POST, DELETE) answered with.
    The raw reads (``subscription_bodies``, ``invoice_bodies``, ``object_body``,
    ``events_since``) answer the vendor's JSON, for the billing read model;
    ``parse`` turns such JSON into records.
    """

    written: list[ObjectListener]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.written = []

    def default_headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.config.token}",
            "Accept": "application/json",
            # Pin the API version the models are written against.
            "Stripe-Version": STRIPE_VERSION,
        }

    error_classes = ERROR_CLASSES

    def translate_error(self, response: httpx.Response) -> SourceError:
        """Stripe's error body → :data:`ERROR_CLASSES` (``code``, then ``type``), else
        the status. The vendor code is ``error.code``, else ``error.type``; a
        ``param`` is named in the message."""
        try:
            body = response.json()
        except ValueError:
            body = None
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict):
            return super().translate_error(response)
        status = response.status_code
        type_ = str(error.get("type") or "") or None
        code = str(error.get("code") or "") or None
        message = str(error.get("message") or response.reason_phrase)
        if error.get("param"):
            message = f"{message} (param: {error['param']})"
        cls = self.error_class(status, code, type_)
        translated = cls(self.system, message, status=status, vendor_code=code or type_)
        should_retry = response.headers.get(SHOULD_RETRY_HEADER, "").strip().lower()
        if should_retry in ("true", "false"):
            translated.retryable = should_retry == "true"  # Stripe's word for this answer
        return translated

    # -- plumbing ---------------------------------------------------------------

    def _json(self, response: httpx.Response) -> dict[str, Any]:
        return decode_object(self.system, response)

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
        return await self._announce(self._json(response))

    async def _announce(self, body: dict[str, Any]) -> dict[str, Any]:
        for listener in self.written:
            await listener(body)
        return body

    def _list(self, path: str, params: Mapping[str, Any] | None = None) -> StripeListPaginator:
        return StripeListPaginator(self.system, lambda query: self._get(path, query), params)

    # -- translation ------------------------------------------------------------

    def _customers(self, bodies: Sequence[Any]) -> list[BillingCustomer]:
        with wire_errors(self.system, "customer"):
            return [wire.Customer.model_validate(b).to_domain() for b in bodies]

    def _subscriptions(self, bodies: Sequence[Any]) -> list[Subscription]:
        with wire_errors(self.system, "subscription"):
            return [wire.Subscription.model_validate(b).to_domain() for b in bodies]

    def _invoices(self, bodies: Sequence[Any]) -> list[Invoice]:
        with wire_errors(self.system, "invoice"):
            return [wire.Invoice.model_validate(b).to_domain() for b in bodies]

    def parse(self, kind: str, bodies: Sequence[Any]) -> list[Any]:
        """Records from the vendor's JSON of one ``kind``: customer, subscription, invoice."""
        parsers: dict[str, Callable[[Sequence[Any]], list[Any]]] = {
            "customer": self._customers,
            "subscription": self._subscriptions,
            "invoice": self._invoices,
        }
        return parsers[kind](bodies)

    async def subscription_bodies(self, customer_id: str) -> list[dict[str, Any]]:
        """A customer's every subscription (any status), as Stripe's JSON."""
        params = {"customer": customer_id, "status": "all"}
        return await collect(self._list(_path("subscriptions"), params))

    async def invoice_bodies(self, customer_id: str) -> list[dict[str, Any]]:
        """A customer's every invoice, as Stripe's JSON."""
        return await collect(self._list(_path("invoices"), {"customer": customer_id}))

    async def object_body(self, kind: str, object_id: str) -> dict[str, Any]:
        """One customer, subscription or invoice as Stripe's JSON (``kind``: its
        ``object``); a missing one is :class:`SourceNotFound`."""
        return await self._get(_path(f"{kind}s", object_id))

    async def events_since(self, created_gte: datetime) -> list[dict[str, Any]]:
        """Every event created at or after ``created_gte``, oldest first (``/v1/events``)."""
        params = {"created": {"gte": _epoch(created_gte)}}
        events = await collect(self._list(_path("events"), params))
        return sorted(events, key=lambda e: (int(e.get("created", 0)), str(e.get("id", ""))))

    # -- customers --------------------------------------------------------------

    async def get_customer(self, customer_id: str) -> BillingCustomer:
        """One customer; a deleted one is :class:`SourceNotFound` (Stripe answers a stub)."""
        body = await self._get(_path("customers", customer_id))
        if body.get("deleted"):
            raise SourceNotFound(
                self.system, f"customer {customer_id} was deleted", vendor_code="deleted"
            )
        return self._customers([body])[0]

    async def customers_by_ids(self, ids: Sequence[str]) -> dict[str, BillingCustomer]:
        """The customers that exist among ``ids`` (one retrieve each, concurrently)."""
        return await _retrieve_many(ids, self.get_customer)

    async def all_customers(self) -> list[BillingCustomer]:
        """Every (not deleted) customer, newest first."""
        return self._customers(await collect(self._list(_path("customers"))))

    async def search_customers_by_crm_id(self, crm_account_id: str) -> list[BillingCustomer]:
        """Customers stamped ``metadata.crm_account_id`` = the id (normally one)."""
        query = f"metadata['crm_account_id']:{_search_literal(crm_account_id)}"
        paginator = StripeSearchPaginator(
            self.system, lambda params: self._get(_path("customers", "search"), params), query
        )
        return self._customers(await collect(paginator))

    async def customers_by_crm_ids(
        self, crm_account_ids: Sequence[str]
    ) -> dict[str, list[BillingCustomer]]:
        """Customers stamped ``metadata.crm_account_id`` with each id (every id a key).

        One search per :data:`SEARCH_MAX_CLAUSES` ids, ``metadata['crm_account_id']:'a'
        OR ...`` (Stripe allows at most ten clauses a query), concurrently. Stripe's
        search index lags writes (normally under a minute): a customer created just
        now may not be found yet.
        """
        wanted = unique(crm_account_ids)
        result: dict[str, list[BillingCustomer]] = {i: [] for i in wanted}

        async def one(chunk: Sequence[str]) -> list[BillingCustomer]:
            query = " OR ".join(f"metadata['crm_account_id']:{_search_literal(i)}" for i in chunk)
            paginator = StripeSearchPaginator(
                self.system, lambda params: self._get(_path("customers", "search"), params), query
            )
            return self._customers(await collect(paginator))

        found = await gather_or_cancel(one(c) for c in chunked(wanted, SEARCH_MAX_CLAUSES))
        seen: set[str] = set()
        for customer in (c for chunk in found for c in chunk):
            if customer.crm_account_id in result and customer.id not in seen:
                seen.add(customer.id)
                result[customer.crm_account_id].append(customer)
        return result

    async def create_customer(
        self, params: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> BillingCustomer:
        body = await self._post(_path("customers"), params, idempotency_key)
        return self._customers([body])[0]

    async def update_customer(
        self, customer_id: str, params: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> BillingCustomer:
        body = await self._post(_path("customers", customer_id), params, idempotency_key)
        return self._customers([body])[0]

    # -- subscriptions ----------------------------------------------------------

    async def get_subscription(self, subscription_id: str) -> Subscription:
        body = await self._get(_path("subscriptions", subscription_id))
        return self._subscriptions([body])[0]

    async def subscriptions_by_ids(self, ids: Sequence[str]) -> dict[str, Subscription]:
        """The subscriptions that exist among ``ids`` (one retrieve each, concurrently)."""
        return await _retrieve_many(ids, self.get_subscription)

    async def subscriptions_for_customers(
        self, customer_ids: Sequence[str], *, status: SubscriptionStatus | str = "all"
    ) -> dict[str, list[Subscription]]:
        """Each customer's subscriptions (every id a key): one paginated list per customer.

        ``status`` is a :class:`SubscriptionStatus` or Stripe's ``all`` / ``ended``.
        """

        async def one(customer_id: str) -> list[Subscription]:
            if str(status) == "all":
                return self._subscriptions(await self.subscription_bodies(customer_id))
            params = {"customer": customer_id, "status": str(status)}
            return self._subscriptions(await collect(self._list(_path("subscriptions"), params)))

        wanted = unique(customer_ids)
        found = await gather_or_cancel(one(i) for i in wanted)
        return dict(zip(wanted, found, strict=True))

    async def create_subscription(
        self, params: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> Subscription:
        body = await self._post(_path("subscriptions"), params, idempotency_key)
        return self._subscriptions([body])[0]

    async def update_subscription(
        self,
        subscription_id: str,
        params: Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
    ) -> Subscription:
        body = await self._post(_path("subscriptions", subscription_id), params, idempotency_key)
        return self._subscriptions([body])[0]

    async def cancel_subscription(self, subscription_id: str) -> Subscription:
        """Cancel now. Safe to repeat: an already canceled subscription is returned as is.

        Stripe takes no idempotency key on DELETE ("idempotent by definition") and
        refuses to cancel twice, so a retry after a lost answer (or a resumed flow
        step) reads the subscription back instead of failing; hence it is retried.
        """
        try:
            response = await self.request(
                "DELETE", _path("subscriptions", subscription_id), idempotent=True
            )
        except SourceRequestError:
            current = await self.get_subscription(subscription_id)
            if current.status is SubscriptionStatus.CANCELED:
                return current
            raise
        return self._subscriptions([await self._announce(self._json(response))])[0]

    # -- invoices ---------------------------------------------------------------

    async def get_invoice(self, invoice_id: str) -> Invoice:
        return self._invoices([await self._get(_path("invoices", invoice_id))])[0]

    async def invoices_by_ids(self, ids: Sequence[str]) -> dict[str, Invoice]:
        """The invoices that exist among ``ids`` (one retrieve each, concurrently)."""
        return await _retrieve_many(ids, self.get_invoice)

    async def invoices_for_customers(
        self,
        customer_ids: Sequence[str],
        *,
        status: str | None = None,
        created_gte: datetime | int | None = None,
        created_lte: datetime | int | None = None,
    ) -> dict[str, list[Invoice]]:
        """Each customer's invoices (every id a key): one paginated list per customer.

        ``status`` is an :class:`~domain.records.InvoiceStatus` (or its value);
        ``created_*`` bound the creation instant (datetimes or epoch seconds).
        """
        created = {"gte": _epoch(created_gte), "lte": _epoch(created_lte)}

        async def one(customer_id: str) -> list[Invoice]:
            params = {
                "customer": customer_id,
                "status": str(status) if status is not None else None,
                "created": created,
            }
            return self._invoices(await collect(self._list(_path("invoices"), params)))

        wanted = unique(customer_ids)
        found = await gather_or_cancel(one(i) for i in wanted)
        return dict(zip(wanted, found, strict=True))

    async def invoice_lines(self, invoice_id: str) -> list[InvoiceLine]:
        """Every line of an invoice (the invoice itself embeds only the first ten)."""
        records = await collect(self._list(_path("invoices", invoice_id, "lines")))
        with wire_errors(self.system, "invoice line"):
            return [wire.InvoiceLine.model_validate(r).to_domain() for r in records]

    async def create_invoice(
        self, params: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> Invoice:
        """A draft invoice (for ``customer``, and ``subscription`` to bill its items)."""
        return self._invoices([await self._post(_path("invoices"), params, idempotency_key)])[0]

    async def update_invoice(
        self, invoice_id: str, params: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> Invoice:
        body = await self._post(_path("invoices", invoice_id), params, idempotency_key)
        return self._invoices([body])[0]

    async def _invoice_action(
        self, invoice_id: str, action: str, idempotency_key: str | None
    ) -> Invoice:
        body = await self._post(_path("invoices", invoice_id, action), None, idempotency_key)
        return self._invoices([body])[0]

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


def _epoch(moment: datetime | int | None) -> int | None:
    """Stripe's timestamps are epoch seconds."""
    if isinstance(moment, datetime):
        aware = utc(moment)
        assert aware is not None
        return int(aware.timestamp())
    return moment
