"""evaluate(): every rule, in a stable order; over the seed, exactly the planted drift.

The key property of the consistency view: the seed generator plants known drift
and lists it in its manifest; evaluating every customer of the seed reports a
non-consistent check for each planted item — the (rule, subject, status) the
table in :mod:`domain.consistency.evaluate` names — and nothing else.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from domain.consistency import rules as rules_package
from domain.consistency.evaluate import evaluate
from domain.consistency.rules import RULES
from domain.consistency.types import (
    CheckStatus,
    CustomerBundle,
    RuleName,
    SubjectKind,
    Unreadable,
)
from simulators.seed import generate
from sources.systems import System

from .builders import (
    DEFAULT,
    NOW,
    bundle,
    contract,
    contract_bundle,
    down,
    invoice,
    invoice_bundle,
    posting,
    subscription,
)
from .seed_bundles import bundles

Finding = tuple[RuleName, SubjectKind, str, CheckStatus]


def test_every_rule_name_has_one_rule_module_in_order() -> None:
    assert list(RULES) == list(RuleName)
    for name in ("customer_links", "contract_value", "revenue_rollforward"):
        assert getattr(rules_package, name).__doc__


def test_the_baseline_customer_is_consistent_in_every_rule_in_order() -> None:
    checks = evaluate(bundle(), DEFAULT, NOW)
    assert [c.rule for c in checks] == list(RuleName)
    assert {c.status for c in checks} == {CheckStatus.CONSISTENT}
    assert all(c.queue is None and c.repair is None for c in checks)


def test_the_order_does_not_depend_on_the_bundles_order() -> None:
    contracts = (
        contract_bundle(contract(id="800Z"), subscriptions=(subscription(contract_id="800Z"),)),
        contract_bundle(),
    )
    invoices = (
        invoice_bundle(invoice(id="in_9"), (posting(external_id="in_9"),)),
        invoice_bundle(),
    )
    forward = evaluate(bundle(contracts=contracts, invoices=invoices), DEFAULT, NOW)
    backward = evaluate(bundle(contracts=contracts[::-1], invoices=invoices[::-1]), DEFAULT, NOW)
    assert forward == backward
    keys = [(list(RuleName).index(c.rule), c.subject_id) for c in forward]
    assert keys == sorted(keys)


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate(bundle(), DEFAULT, datetime(2026, 12, 1))


def test_nothing_readable_means_everything_unknown() -> None:
    dark = bundle(
        billing_customers=down(System.BILLING),
        erp_customers=down(System.ERP),
        erp_parent_account_id=down(System.ERP),
        contracts=down(System.CONTRACTS),
        invoices=down(System.BILLING),
    )
    checks = evaluate(dark, DEFAULT, NOW)
    assert [c.rule for c in checks] == list(RuleName)
    assert {c.status for c in checks} == {CheckStatus.UNKNOWN}


# --- the seed: planted drift, no more, no less ------------------------------------------


def planted(manifest: dict[str, Any]) -> Counter[Finding]:
    """The non-consistent checks the manifest's drift must produce (evaluate's table)."""
    drift = manifest["drift"]
    found: Counter[Finding] = Counter()
    R, K, S = RuleName, SubjectKind, CheckStatus
    for item in drift["amendment_not_in_erp"]:
        found[(R.CONTRACT_VERSION, K.CONTRACT, item["contract_id"], S.DRIFT)] += 1
    for item in drift["invoices_not_posted"]:
        found[(R.INVOICE_POSTING, K.INVOICE, item["invoice_id"], S.MISSING)] += 1
    for item in drift["renamed_in_crm"]:
        found[(R.CUSTOMER_ATTRIBUTES, K.CUSTOMER, item["crm_id"], S.DRIFT)] += 1
    for item in drift["billing_customer_without_erp"]:
        found[(R.CUSTOMER_LINKS, K.CUSTOMER, item["crm_id"], S.MISSING)] += 1
        for external_id in item["missing_erp_schedules"]:
            contract_id = external_id.rsplit(":v", 1)[0]
            found[(R.CONTRACT_ACTIVATION, K.CONTRACT, contract_id, S.MISSING)] += 1
        for invoice_id in item["missing_erp_postings"]:
            found[(R.INVOICE_POSTING, K.INVOICE, invoice_id, S.MISSING)] += 1
    for item in drift["value_variance"]:
        found[(R.CONTRACT_VALUE, K.CONTRACT, item["contract_id"], S.DRIFT)] += 1
    for item in drift["duplicate_billing_customer"]:
        found[(R.CUSTOMER_LINKS, K.CUSTOMER, item["crm_id"], S.DRIFT)] += 1
    return found


def reported(seed_bundles: list[CustomerBundle]) -> Counter[Finding]:
    return Counter(
        (c.rule, c.subject_kind, c.subject_id, c.status)
        for b in seed_bundles
        for c in evaluate(b, DEFAULT, NOW)
        if c.status is not CheckStatus.CONSISTENT
    )


SEEDS = [(200, 42), (60, 7), (5, 1), (500, 3)]


@pytest.mark.parametrize(("customers", "seed"), SEEDS)
def test_the_seed_reports_exactly_its_planted_drift(customers: int, seed: int) -> None:
    data = generate(customers, seed)
    expected = planted(data.manifest)
    assert all(n == 1 for n in expected.values()), "manifest items map to distinct findings"
    assert {kind for kind, items in data.manifest["drift"].items() if items} == set(
        data.manifest["drift"]
    ), "every kind of drift is planted"
    assert reported(bundles(data)) == expected


def test_seed_drift_checks_carry_queue_values_and_repairs() -> None:
    data = generate(200, 42)
    checks = {
        (c.rule, c.subject_id): c
        for b in bundles(data)
        for c in evaluate(b, DEFAULT, NOW)
        if c.status is not CheckStatus.CONSISTENT
    }
    assert all(c.queue is not None for c in checks.values())
    stale = data.manifest["drift"]["amendment_not_in_erp"][0]
    version = checks[(RuleName.CONTRACT_VERSION, stale["contract_id"])]
    assert {(v.system, v.value) for v in version.values} == {
        (System.CONTRACTS, str(stale["contract_version"])),
        (System.BILLING, str(stale["contract_version"])),
        (System.ERP, str(stale["erp_version"])),
    }
    assert version.repair is not None and version.repair.kind == "AMEND_CONTRACT"
    variance = data.manifest["drift"]["value_variance"][0]
    value = checks[(RuleName.CONTRACT_VALUE, variance["contract_id"])]
    assert value.variance is not None
    assert value.variance.amount == Decimal(variance["erp_total"]) - Decimal(
        variance["contract_total"]
    )
    assert value.variance.currency == variance["currency"]
    unposted = data.manifest["drift"]["invoices_not_posted"][0]
    posting_check = checks[(RuleName.INVOICE_POSTING, unposted["invoice_id"])]
    assert posting_check.repair is not None and posting_check.repair.kind == "POST_INVOICE"


def _erp_down(b: CustomerBundle) -> CustomerBundle:
    erp = down(System.ERP)
    contracts, invoices = b.contracts, b.invoices
    assert not isinstance(contracts, Unreadable) and not isinstance(invoices, Unreadable)
    return dataclasses.replace(
        b,
        erp_customers=erp,
        erp_parent_account_id=erp,
        contracts=tuple(dataclasses.replace(c, schedules=erp) for c in contracts),
        invoices=tuple(dataclasses.replace(i, postings=erp) for i in invoices),
    )


def _billing_down(b: CustomerBundle) -> CustomerBundle:
    billing = down(System.BILLING)
    contracts = b.contracts
    assert not isinstance(contracts, Unreadable)
    return dataclasses.replace(
        b,
        billing_customers=billing,
        contracts=tuple(dataclasses.replace(c, subscriptions=billing) for c in contracts),
        invoices=billing,
    )


@pytest.mark.parametrize(
    ("outage", "system"), [(_erp_down, System.ERP), (_billing_down, System.BILLING)]
)
def test_an_outage_never_reads_as_consistent_or_missing(outage: Any, system: System) -> None:
    """Over the whole seed: a check that needs the unreadable system is UNKNOWN."""
    for b in bundles(generate(100, 5)):
        for check in evaluate(outage(b), DEFAULT, NOW):
            if system in check.systems:
                assert check.status is CheckStatus.UNKNOWN, check
