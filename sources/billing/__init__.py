"""The Stripe adapter: billing customers, subscriptions and invoices.

:class:`sources.billing.client.BillingClient` speaks Stripe's API (form-encoded
POSTs with ``Idempotency-Key``, cursor-paged list objects, ``{"error": {...}}``
bodies) and returns :mod:`domain.records`; its wire models
(:mod:`sources.billing.wire`) stay private to this package.
"""
