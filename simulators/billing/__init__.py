"""The Stripe-shaped billing simulator: customers, subscriptions, invoices.

Speaks Stripe's wire format: form-encoded POSTs with bracket syntax, list
objects with cursor paging, ``Idempotency-Key`` replays, ``{"error": {...}}``
bodies and ``Stripe-Signature``-signed webhook events, in the API version a
request asks for with ``Stripe-Version`` (:mod:`simulators.billing.versions`),
behind Stripe's rate limits when they are on (:mod:`simulators.billing.limits`).
The app factory is :func:`simulators.billing.app.create_app`.
"""
