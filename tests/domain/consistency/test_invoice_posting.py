"""invoice.posting: finalized invoices have an AR posting of the same amount."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.consistency.rules import invoice_posting
from domain.consistency.types import CheckStatus, Repair, RuleName, SubjectKind, SystemValue
from domain.exception_items import ExceptionQueue
from domain.money import Money
from domain.records import InvoiceStatus
from sources.systems import System

from .builders import (
    ACCOUNT,
    DEFAULT,
    INVOICE,
    NOW,
    bundle,
    down,
    invoice,
    invoice_bundle,
    only,
    policy,
    posting,
    usd,
)

FINALIZED_AT = datetime(2026, 1, 1, 13, tzinfo=UTC)
INSIDE = FINALIZED_AT + timedelta(hours=71)
AFTER = FINALIZED_AT + timedelta(hours=73)
WITHIN = "within the posting window of 72h from 2026-01-01T13:00:00+00:00"
PAST = "past the posting window of 72h from 2026-01-01T13:00:00+00:00"


@pytest.mark.parametrize(
    ("changes", "now", "status", "message", "variance"),
    [
        ({}, NOW, CheckStatus.CONSISTENT, "posted to AR as 9001 for 200.00 USD", usd("0.00")),
        (
            {"the_invoice": invoice(status=InvoiceStatus.OPEN)},
            NOW,
            CheckStatus.CONSISTENT,
            "posted to AR as 9001 for 200.00 USD",
            usd("0.00"),
        ),
        (
            {"the_invoice": invoice(status=InvoiceStatus.UNCOLLECTIBLE)},
            NOW,
            CheckStatus.CONSISTENT,
            "posted to AR as 9001 for 200.00 USD",
            usd("0.00"),
        ),
        ({"postings": ()}, INSIDE, CheckStatus.PENDING, f"no ERP AR posting ({WITHIN})", None),
        ({"postings": ()}, AFTER, CheckStatus.MISSING, f"no ERP AR posting ({PAST})", None),
        # Without finalized_at the window runs from created_at (an hour earlier here).
        (
            {"the_invoice": invoice(finalized_at=None), "postings": ()},
            INSIDE,
            CheckStatus.PENDING,
            "no ERP AR posting (within the posting window of 72h from 2026-01-01T12:00:00+00:00)",
            None,
        ),
        (
            {"the_invoice": invoice(finalized_at=None), "postings": ()},
            INSIDE + timedelta(minutes=90),
            CheckStatus.MISSING,
            "no ERP AR posting (past the posting window of 72h from 2026-01-01T12:00:00+00:00)",
            None,
        ),
        (
            {"postings": (posting(total=usd("180.00")),)},
            INSIDE,
            CheckStatus.PENDING,
            "ERP AR posting 9001 is 180.00 USD, the invoice 200.00 USD: off by -20.00 USD "
            f"(tolerance exact; {WITHIN})",
            usd("-20.00"),
        ),
        (
            {"postings": (posting(total=usd("180.00")),)},
            AFTER,
            CheckStatus.DRIFT,
            "ERP AR posting 9001 is 180.00 USD, the invoice 200.00 USD: off by -20.00 USD "
            f"(tolerance exact; {PAST})",
            usd("-20.00"),
        ),
        (
            {"postings": (posting(total=Money.of("200.00", "EUR")),)},
            AFTER,
            CheckStatus.DRIFT,
            f"ERP AR posting 9001 is in EUR, the invoice in USD ({PAST})",
            None,
        ),
        (
            {"postings": (posting(total=None),)},
            AFTER,
            CheckStatus.DRIFT,
            f"ERP AR posting 9001 has no currency or amount ({PAST})",
            None,
        ),
        (
            {"postings": (posting(), posting(id="9002"))},
            AFTER,
            CheckStatus.DRIFT,
            f"ambiguous: 2 ERP AR postings (9001, 9002) ({PAST})",
            None,
        ),
        (
            {"postings": down(System.ERP)},
            AFTER,
            CheckStatus.UNKNOWN,
            "ERP could not be read (timeout)",
            None,
        ),
        # JPY has no minor unit: 5000 yen posted as 5000 yen.
        (
            {
                "the_invoice": invoice(total=Money.of("5000", "JPY")),
                "postings": (posting(total=Money.of("5000", "JPY")),),
            },
            NOW,
            CheckStatus.CONSISTENT,
            "posted to AR as 9001 for 5000 JPY",
            Money.of("0", "JPY"),
        ),
    ],
)
def test_posting(
    changes: dict[str, Any],
    now: datetime,
    status: CheckStatus,
    message: str,
    variance: Money | None,
) -> None:
    check = only(invoice_posting.check(bundle(invoices=(invoice_bundle(**changes),)), DEFAULT, now))
    assert (check.rule, check.subject_kind, check.subject_id, check.customer_id) == (
        RuleName.INVOICE_POSTING,
        SubjectKind.INVOICE,
        INVOICE,
        ACCOUNT,
    )
    assert (check.status, check.message, check.variance) == (status, message, variance)
    assert check.systems == (System.BILLING, System.ERP)
    assert check.queue == (None if status is CheckStatus.CONSISTENT else ExceptionQueue.FINANCE_OPS)
    assert (check.repair is not None) is (status in (CheckStatus.DRIFT, CheckStatus.MISSING))


@pytest.mark.parametrize("status", [InvoiceStatus.DRAFT, InvoiceStatus.VOID])
def test_drafts_and_void_invoices_are_not_checked(status: InvoiceStatus) -> None:
    item = invoice_bundle(invoice(status=status), postings=())
    assert invoice_posting.check(bundle(invoices=(item,)), DEFAULT, NOW) == []


def test_a_missing_posting_is_repaired_by_posting_naming_a_parked_flow() -> None:
    item = invoice_bundle(postings=())
    check = only(
        invoice_posting.check(bundle(invoices=(item,), parked={INVOICE: "post:in_1"}), DEFAULT, NOW)
    )
    assert check.repair == Repair(
        "POST_INVOICE",
        "Post the invoice to AR (an upsert by invoice id: creates or corrects it)",
        "post:in_1",
    )
    assert check.values == (
        SystemValue(System.BILLING, "200.00", usd("200.00"), INVOICE, attribute="total"),
        SystemValue(System.ERP, None, attribute="total"),
    )


def test_a_threshold_tolerates_small_posting_differences() -> None:
    tolerant = policy(
        '[rules."invoice.posting"]\nqueue = "PLATFORM"\nposting_window = "1h"\n'
        'absolute = { USD = "0.01" }'
    )
    off_by_a_cent = invoice_bundle(postings=(posting(total=usd("200.01")),))
    check = only(invoice_posting.check(bundle(invoices=(off_by_a_cent,)), tolerant, NOW))
    assert check.status is CheckStatus.CONSISTENT
    off_by_two = invoice_bundle(postings=(posting(total=usd("199.98")),))
    check = only(invoice_posting.check(bundle(invoices=(off_by_two,)), tolerant, NOW))
    assert check.status is CheckStatus.DRIFT
    assert check.queue is ExceptionQueue.PLATFORM
    assert "tolerance ±0.01 USD" in check.message


def test_an_unreadable_invoice_list_is_one_unknown_check_on_the_customer() -> None:
    check = only(invoice_posting.check(bundle(invoices=down(System.BILLING)), DEFAULT, NOW))
    assert (check.subject_kind, check.subject_id, check.status) == (
        SubjectKind.CUSTOMER,
        ACCOUNT,
        CheckStatus.UNKNOWN,
    )
    assert check.message == (
        "BILLING could not be read (timeout): no invoice of this customer was checked"
    )
