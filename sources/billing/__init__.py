"""The Stripe adapter: billing customers, subscriptions and invoices.

:class:`sources.billing.client.BillingClient` speaks Stripe's API (form-encoded
POSTs with ``Idempotency-Key``, cursor-paged list objects, ``{"error": {...}}``
bodies); wire models are in :mod:`sources.billing.models`.
"""
