"""``invoice.posting``: every finalized invoice has an AR posting of the same amount.

One check per finalized invoice (subject: the billing invoice). Finalized means
``open``, ``paid`` or ``uncollectible``. Not checked:

* ``draft`` — not final, nothing to post yet;
* ``void`` — either way is fine: an invoice voided before it was posted never
  owed anything, and one voided after keeps its posting (the posting flow
  marks it voided, ``INVOICE_STATUS_IDS``), so there is nothing to compare.

The posting is the ERP ``invoice`` whose externalId is the invoice id. It must
carry the invoice's currency and its total within the policy's
``invoice.posting`` threshold (exact by default; reference: the invoice total).

Within the policy's ``posting_window`` from ``finalized_at`` (``created_at`` when
billing did not say) anything off — no posting, another amount — is ``PENDING``:
the posting flow (webhook-driven, retried) may still be on it and upserts the
posting by externalId. After the window: no posting is ``MISSING``, a posting
with another amount or currency is ``DRIFT`` (with the variance), several
postings for one invoice ``DRIFT`` (ambiguous). Repair: ``POST_INVOICE`` (an
upsert: it creates the posting or rewrites its amount), with the parked flow's
correlation id when one waits on the invoice. Postings unreadable: ``UNKNOWN``;
the invoice list itself unreadable: one ``UNKNOWN`` check on the customer.
"""

from __future__ import annotations

from datetime import datetime

from domain.consistency.policy import Policy, duration_text
from domain.consistency.rules.support import (
    make_check,
    money_text,
    repair,
    unknown_for_customer,
    unreadable_message,
    unreadable_value,
)
from domain.consistency.types import (
    Check,
    CheckStatus,
    CustomerBundle,
    InvoiceBundle,
    RuleName,
    SubjectKind,
    SystemValue,
    Unreadable,
)
from domain.money import Money
from domain.records import InvoiceStatus
from domain.transactions import TransactionKind
from sources.systems import System

RULE = RuleName.INVOICE_POSTING
SYSTEMS = (System.BILLING, System.ERP)
FINALIZED = frozenset({InvoiceStatus.OPEN, InvoiceStatus.PAID, InvoiceStatus.UNCOLLECTIBLE})
"""Invoice statuses that must have an AR posting."""


def check(bundle: CustomerBundle, policy: Policy, now: datetime) -> list[Check]:
    """Every finalized invoice of the customer's billing customers."""
    if isinstance(bundle.invoices, Unreadable):
        return unknown_for_customer(RULE, bundle, policy, bundle.invoices, SYSTEMS, "invoice")
    return [
        _check(bundle, policy, now, item)
        for item in bundle.invoices
        if item.invoice.status in FINALIZED
    ]


def _check(bundle: CustomerBundle, policy: Policy, now: datetime, item: InvoiceBundle) -> Check:
    invoice = item.invoice
    threshold = policy.threshold(RULE)

    def result(
        status: CheckStatus,
        message: str,
        values: list[SystemValue],
        variance: Money | None = None,
    ) -> Check:
        return make_check(
            RULE,
            bundle,
            policy,
            kind=SubjectKind.INVOICE,
            subject_id=invoice.id,
            status=status,
            message=message,
            systems=SYSTEMS,
            values=values,
            variance=variance,
            repair=repair(
                TransactionKind.POST_INVOICE,
                "Post the invoice to AR (an upsert by invoice id: creates or corrects it)",
            ),
        )

    billed = SystemValue(
        System.BILLING,
        money_text(invoice.total),
        money=invoice.total,
        record_id=invoice.id,
        attribute="total",
    )
    if isinstance(item.postings, Unreadable):
        return result(
            CheckStatus.UNKNOWN,
            unreadable_message([item.postings]),
            [billed, unreadable_value(item.postings, "total")],
        )
    issued = invoice.finalized_at or invoice.created_at
    late = now - issued > policy.posting_window
    span = duration_text(policy.posting_window)
    window = (
        f"{'past' if late else 'within'} the posting window of {span} from {issued.isoformat()}"
    )
    postings = sorted(item.postings, key=lambda p: p.id)
    values = [billed] + [
        SystemValue(
            System.ERP,
            None if p.total is None else money_text(p.total),
            money=p.total,
            record_id=p.id,
            attribute="total",
        )
        for p in postings
    ]
    if not postings:
        values.append(SystemValue(System.ERP, None, attribute="total"))
        status = CheckStatus.MISSING if late else CheckStatus.PENDING
        return result(status, f"no ERP AR posting ({window})", values)
    if len(postings) > 1:
        status = CheckStatus.DRIFT if late else CheckStatus.PENDING
        ids = ", ".join(p.id for p in postings)
        return result(
            status, f"ambiguous: {len(postings)} ERP AR postings ({ids}) ({window})", values
        )
    posting = postings[0]
    if posting.total is None or posting.currency is None:
        status = CheckStatus.DRIFT if late else CheckStatus.PENDING
        return result(
            status, f"ERP AR posting {posting.id} has no currency or amount ({window})", values
        )
    if posting.total.currency != invoice.total.currency:
        status = CheckStatus.DRIFT if late else CheckStatus.PENDING
        return result(
            status,
            f"ERP AR posting {posting.id} is in {posting.total.currency}, the invoice in "
            f"{invoice.total.currency} ({window})",
            values,
        )
    variance = posting.total - invoice.total
    if threshold.within(variance, invoice.total):
        return result(
            CheckStatus.CONSISTENT,
            f"posted to AR as {posting.id} for {posting.total}",
            values,
            variance,
        )
    status = CheckStatus.DRIFT if late else CheckStatus.PENDING
    return result(
        status,
        f"ERP AR posting {posting.id} is {posting.total}, the invoice {invoice.total}: "
        f"off by {variance} (tolerance {threshold.describe(invoice.total.currency)}; {window})",
        values,
        variance,
    )
