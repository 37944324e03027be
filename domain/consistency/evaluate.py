"""Run every consistency rule over one customer's bundle.

:func:`evaluate` is pure (no I/O, no clock: ``now`` is passed in) and
deterministic: the checks come in :class:`~domain.consistency.types.RuleName`
order, then by subject kind (customer, contract, invoice), then by subject id,
whatever order the bundle listed its records in.

Planted drift → checks
----------------------
The seed (:func:`simulators.seed.generate`) is consistent everywhere except the
drift its manifest lists, and the rules report that drift and nothing else
(``tests/domain/consistency/test_evaluate.py`` holds them to it, evaluated at
2026-12-01 under the default policy). Every manifest item maps to exactly these
non-consistent checks:

=============================  ======================  ========  ========  =====================
manifest kind                  rule                    subject   status    subject id
=============================  ======================  ========  ========  =====================
amendment_not_in_erp           contract.version        CONTRACT  DRIFT     ``contract_id``
invoices_not_posted            invoice.posting         INVOICE   MISSING   ``invoice_id``
renamed_in_crm                 customer.attributes     CUSTOMER  DRIFT     ``crm_id``
billing_customer_without_erp   customer.links          CUSTOMER  MISSING   ``crm_id``
                               contract.activation     CONTRACT  MISSING   each contract of
                                                                           ``missing_erp_schedules``
                                                                           (``{id}:v{n}`` → id)
                               invoice.posting         INVOICE   MISSING   each of
                                                                           ``missing_erp_postings``
value_variance                 contract.value          CONTRACT  DRIFT     ``contract_id``
duplicate_billing_customer     customer.links          CUSTOMER  DRIFT     ``crm_id``
=============================  ======================  ========  ========  =====================

Why no more than that:

* a stale amendment is *only* a version drift: ``contract.value`` compares the
  ERP only at the contract's version, and the stale schedule still rolls forward;
* a value variance is *only* a value drift: the schedule is at the right version
  and its lines add up to its (wrong) total;
* a customer without an ERP record is compared with billing alone by
  ``customer.attributes``; its contracts' versions and values with billing alone;
* a duplicated billing customer makes ``customer.attributes`` compare nothing
  from billing (the CRM and the ERP agree);
* a renamed customer's billing and ERP links are intact;
* terminated contracts have canceled subscriptions and full-term schedules (the
  seed does not truncate), which every rule accepts; expired, draft and
  in-approval contracts have no billing or ERP records, and no rule expects any;
* at 2026-12-01 every seeded invoice and activation is older than the posting
  window and the activation SLO, so nothing is ``PENDING``.
"""

from __future__ import annotations

from datetime import datetime

from domain.consistency.policy import Policy
from domain.consistency.rules import RULES
from domain.consistency.types import Check, CustomerBundle, RuleName, SubjectKind

__all__ = ["evaluate"]

_RULE_ORDER = {name: i for i, name in enumerate(RuleName)}
_KIND_ORDER = {kind: i for i, kind in enumerate(SubjectKind)}


def evaluate(bundle: CustomerBundle, policy: Policy, now: datetime) -> list[Check]:
    """Every rule's checks on ``bundle`` at ``now`` (an aware datetime), in a stable order."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    checks = [check for rule in RULES.values() for check in rule(bundle, policy, now)]
    return sorted(
        checks,
        key=lambda c: (_RULE_ORDER[c.rule], _KIND_ORDER[c.subject_kind], c.subject_id),
    )
