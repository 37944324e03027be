"""Deterministic seed data for the four simulators, with planted drift.

``generate(customers, seed)`` is the entry point (:mod:`simulators.seed.generator`
says what it generates and documents the drift manifest); the other modules are
its parts, one per system plus the shared pieces:

* :mod:`~simulators.seed.crm` — accounts and the account hierarchy.
* :mod:`~simulators.seed.contracts` — contracts, versions (amendments), renewals, lines.
* :mod:`~simulators.seed.billing` — Stripe customers, subscriptions and invoices.
* :mod:`~simulators.seed.erp` — ERP customers, revenue schedules and AR postings.
* :mod:`~simulators.seed.drift` — which records the planted drift picks.
* :mod:`~simulators.seed.calendar` — the reference day and date helpers.
* :mod:`~simulators.seed.ids` — deterministic vendor-shaped ids.
"""

from __future__ import annotations

from simulators.seed.generator import SeedData, generate

__all__ = ["SeedData", "generate"]
