"""The Mutation root: every write goes to its owner and runs as a keyed, durable flow.

Each mutation takes an ``idempotencyKey`` (or the ``Idempotency-Key`` header)
and answers with a payload: the changed entity (read again, live), the
``correlationId``, the ``transaction`` (which systems have the change) and
``userErrors``. Every call, accepted or refused, writes an audit record
(:mod:`resolvers.audit`; :class:`~domain.flows.commands.Commands` audits the
keyed ones, :func:`_audited` the rest). Expected failures — a field another system owns, an illegal
lifecycle transition, a stale ``version``, a reused key — are userErrors, and
nothing is written anywhere. The work itself is :mod:`domain.flows`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.permission import BasePermission

from domain.access import QUEUE_ROLES, may_work_queue, separation_of_duties
from domain.audit import Outcome
from domain.consistency.sweep import SweepRunning
from domain.consistency.types import SubjectKind
from domain.flows.checks import contract_check, customer_fields_check, new_contract_check
from domain.flows.commands import CommandResult, Commands, UserError
from domain.flows.finance import posting_correlation_id
from domain.transactions import TransactionKind
from domain.transitions import Action
from resolvers.audit_trail import actor_of, audit_call
from resolvers.billing import Invoice
from resolvers.consistency import ConsistencyReport, ReconciliationRun, keeper_of, report_of
from resolvers.context import AppInfo
from resolvers.contracts import Contract
from resolvers.customers import Customer
from resolvers.errors import UserInputError, source_error_code
from resolvers.node import global_id, key_of, parse_global_id, resolve_nodes
from resolvers.operations import ExceptionItem, Transaction, step_slo
from resolvers.permissions import (
    FORBIDDEN,
    Administers,
    Approves,
    Finance,
    FinanceOrSalesOps,
    SalesOps,
    WorksExceptions,
)
from resolvers.resources import resources_of
from sources.errors import SourceError
from store.exceptions import ExceptionRepository
from store.journal import JournalRepository

IDEMPOTENCY_HEADER = "idempotency-key"
_K = TransactionKind


@strawberry.type(description="An expected failure: nothing was changed anywhere.")
class MutationError:
    field: str | None = strawberry.field(description="The input field at fault, if one is.")
    code: str = strawberry.field(
        description="OWNED_BY_OTHER_SYSTEM, ILLEGAL_TRANSITION, VERSION_CONFLICT, NOT_FOUND, "
        "IDEMPOTENCY_KEY_REUSED, FLOW_IN_PROGRESS, VALIDATION, CONFLICT, BAD_INPUT ..."
    )
    message: str


@strawberry.interface(description="What every mutation answers.")
class MutationPayload:
    correlation_id: str | None = strawberry.field(
        description="The flow's correlation id (null when refused)."
    )
    transaction: Transaction | None = strawberry.field(
        description="The flow: which systems have the change and which do not."
    )
    user_errors: list[MutationError]
    replayed: bool = strawberry.field(
        description="True when the idempotency key had been used: nothing ran again."
    )


@strawberry.type
class CustomerPayload(MutationPayload):
    customer: Customer | None = strawberry.field(description="The customer, read again live.")


@strawberry.type
class ContractPayload(MutationPayload):
    contract: Contract | None = strawberry.field(description="The contract, read again live.")
    renewal: Contract | None = strawberry.field(
        default=None, description="renewContract: the new Draft contract."
    )


@strawberry.type
class InvoicePayload(MutationPayload):
    invoice: Invoice | None


@strawberry.type
class RevenuePayload(MutationPayload):
    period: str


@strawberry.type
class ExceptionPayload(MutationPayload):
    exception_item: ExceptionItem | None


@strawberry.type
class TransactionPayload(MutationPayload):
    pass


@strawberry.type
class ConsistencyPayload:
    report: ConsistencyReport | None = strawberry.field(
        description="The subject's report, recomputed live."
    )
    user_errors: list[MutationError]


@strawberry.type
class ReconciliationPayload:
    run: ReconciliationRun | None = strawberry.field(description="Poll it: reconciliationRun(id).")
    user_errors: list[MutationError]


_SUBJECT_KINDS = {
    "Customer": SubjectKind.CUSTOMER,
    "Contract": SubjectKind.CONTRACT,
    "Invoice": SubjectKind.INVOICE,
}


@strawberry.input
class ContractLineInput:
    product_id: str
    product_name: str | None = None
    quantity: int
    unit_price: str = strawberry.field(description="Per billing period, a decimal string.")
    billing_frequency: str | None = strawberry.field(
        default=None, description="Monthly or Annual (default: the contract's)."
    )


@strawberry.input
class CreateCustomerInput:
    name: str
    currency: str
    parent_id: strawberry.ID | None = None
    segment: str | None = None
    billing_email: str | None = None


@strawberry.input
class UpdateCustomerInput:
    id: strawberry.ID = strawberry.field(description="Customer global id or CRM account id.")
    name: str | None = None
    currency: str | None = None
    parent_id: strawberry.ID | None = None
    segment: str | None = None
    billing_email: str | None = None
    ar_balance: str | None = strawberry.field(
        default=None, description="Owned by the ERP: always refused here (shown for routing)."
    )


@strawberry.input
class CreateContractInput:
    customer_id: strawberry.ID
    start_date: date
    term_months: int
    currency: str
    billing_frequency: str = "Monthly"
    lines: list[ContractLineInput]


@strawberry.input
class AmendContractInput:
    id: strawberry.ID
    version: int
    effective_date: date
    reason: str | None = None
    lines: list[ContractLineInput]


# --- plumbing ----------------------------------------------------------------------------


def _commands(info: AppInfo) -> Commands:
    commands: Commands = resources_of(info).commands
    return commands


async def _execute(
    info: AppInfo, kind: TransactionKind, flow_input: dict[str, Any], **options: Any
) -> CommandResult:
    """Run a command; a system its checks could not ask is a GraphQL error (nothing changed)."""
    try:
        return await _commands(info).execute(
            kind, flow_input, actor=actor_of(info), mutation=info.field_name, **options
        )
    except SourceError as error:
        raise GraphQLError(
            f"{error.system} could not be asked, so nothing was changed: retry with the "
            "same idempotency key",
            extensions={
                "code": source_error_code(error),
                "system": error.system.value,
                "retryable": error.retryable,
            },
        ) from error


def _key(info: AppInfo, argument: str | None) -> str | None:
    if argument:
        return argument
    request = info.context.request
    header: str | None = request.headers.get(IDEMPOTENCY_HEADER) if request else None
    return header or None


def _errors(errors: Sequence[UserError]) -> list[MutationError]:
    return [MutationError(field=e.field, code=e.code, message=e.message) for e in errors]


def _common(info: AppInfo, result: CommandResult) -> dict[str, Any]:
    now = datetime.now(UTC)
    tx = Transaction.build(result.transaction, step_slo(info), now) if result.transaction else None
    return {
        "correlation_id": result.correlation_id,
        "transaction": tx,
        "user_errors": _errors(result.user_errors),
        "replayed": result.replayed,
    }


def _refused(*errors: UserError) -> CommandResult:
    return CommandResult(None, None, tuple(errors))


async def _audited(
    info: AppInfo, input: dict[str, Any], result: CommandResult, subject: str | None = None
) -> CommandResult:
    """Audit a mutation that does not go through ``Commands.execute`` (its own transaction)."""
    if result.user_errors:
        kind, details = Outcome.REFUSED, [e.code for e in result.user_errors]
    else:
        kind = Outcome.ACCEPTED
        details = [str(result.transaction.status)] if result.transaction else []
    await audit_call(
        info, input, kind, details, subject=subject, correlation_id=result.correlation_id
    )
    return result


async def _node(info: AppInfo, type_name: str, key: str | None) -> Any:
    if not key:
        return None
    try:
        (found,) = await resolve_nodes(info, [global_id(type_name, key)])
    except SourceError as error:
        info.context.failures.record(error, type_name.lower(), info.path.as_list())
        return None
    return found


def _decimal(value: str, field: str) -> UserError | None:
    try:
        Decimal(value)
    except InvalidOperation:
        return UserError("BAD_INPUT", f"{value!r} is not a decimal number", field)
    return None


def _lines(lines: Sequence[ContractLineInput]) -> tuple[list[dict[str, Any]], list[UserError]]:
    errors: list[UserError] = []
    out: list[dict[str, Any]] = []
    if not lines:
        errors.append(UserError("BAD_INPUT", "a contract needs at least one line", "lines"))
    for n, line in enumerate(lines):
        bad = _decimal(line.unit_price, f"lines.{n}.unitPrice")
        if bad:
            errors.append(bad)
        if line.quantity < 1:
            errors.append(
                UserError("BAD_INPUT", "quantity must be positive", f"lines.{n}.quantity")
            )
        out.append(
            {
                "product_id": line.product_id,
                "product_name": line.product_name,
                "quantity": line.quantity,
                "unit_price": line.unit_price,
                "billing_frequency": line.billing_frequency,
            }
        )
    return out, errors


async def _contract_command(
    info: AppInfo,
    kind: TransactionKind,
    action: Action,
    contract_id: str,
    version: int,
    key: str | None,
    extra: dict[str, Any] | None = None,
    problems: Sequence[UserError] = (),
) -> ContractPayload:
    raw = key_of(contract_id, "Contract")
    clients = info.context.clients

    async def check() -> Sequence[UserError]:
        if problems:
            return problems
        if action is Action.APPROVE:
            refused = await _segregation_of_duties(info, raw)
            if refused:
                return [refused]
        return await contract_check(clients, action, raw, version)

    result = await _execute(
        info,
        kind,
        {"contract_id": raw, "version": version, **(extra or {})},
        subject=raw,
        key=_key(info, key),
        check=check,
    )
    renewal_id = None
    if kind is _K.RENEW_CONTRACT and result.transaction:
        renewal_id = next((s.created_id for s in result.transaction.steps if s.created_id), None)
    return ContractPayload(
        **_common(info, result),
        contract=await _node(info, "Contract", raw if result.correlation_id else None),
        renewal=await _node(info, "Contract", renewal_id),
    )


async def _segregation_of_duties(info: AppInfo, contract_id: str) -> UserError | None:
    """The approver is neither the contract's creator nor its last amender."""
    journal: JournalRepository = _commands(info).runner.journal
    creator, amender = await journal.contract_authors(contract_id)
    why = separation_of_duties(actor_of(info).name, creator, amender)
    return UserError("SEGREGATION_OF_DUTIES", why, "id") if why else None


def _lifecycle(
    kind: TransactionKind, action: Action, description: str, permission: type[BasePermission]
) -> Any:
    """A contract mutation that only moves the lifecycle: id, version, key."""

    async def resolve(
        info: AppInfo, id: strawberry.ID, version: int, idempotency_key: str | None = None
    ) -> ContractPayload:
        return await _contract_command(info, kind, action, id, version, idempotency_key)

    return strawberry.mutation(
        resolver=resolve, description=description, permission_classes=[permission]
    )


@strawberry.type
class Mutation:
    # --- customers ------------------------------------------------------------------

    @strawberry.mutation(
        description="Onboard a customer: CRM account → billing customer → ERP customer → "
        "crosswalk.",
        permission_classes=[SalesOps],
    )
    async def create_customer(
        self, info: AppInfo, input: CreateCustomerInput, idempotency_key: str | None = None
    ) -> CustomerPayload:
        data: dict[str, Any] = {"name": input.name, "currency": input.currency.upper()}
        if input.parent_id:
            data["parent_id"] = key_of(input.parent_id, "Customer")
        if input.segment:
            data["segment"] = input.segment
        if input.billing_email:
            data["billing_email"] = input.billing_email
        result = await _execute(
            info,
            _K.CREATE_CUSTOMER,
            data,
            subject=None,
            key=_key(info, idempotency_key),
            check=lambda: customer_fields_check(data),
        )
        return CustomerPayload(
            **_common(info, result),
            customer=await _node(info, "Customer", result.subject),
        )

    @strawberry.mutation(
        description="Change a customer in the CRM; billing and the ERP follow (name, parent, "
        "currency).",
        permission_classes=[SalesOps],
    )
    async def update_customer(
        self, info: AppInfo, input: UpdateCustomerInput, idempotency_key: str | None = None
    ) -> CustomerPayload:
        account_id = key_of(input.id, "Customer")
        data: dict[str, Any] = {"account_id": account_id}
        fields: list[str] = []
        for name, field, value in (
            ("name", "name", input.name),
            ("currency", "currency", input.currency.upper() if input.currency else None),
            (
                "parent_id",
                "parent",
                key_of(input.parent_id, "Customer") if input.parent_id else None,
            ),
            ("segment", "segment", input.segment),
            ("billing_email", "billingEmail", input.billing_email),
            ("ar_balance", "arBalance", input.ar_balance),
        ):
            if value is not None:
                data[name] = value
                fields.append(field)
        result = await _execute(
            info,
            _K.UPDATE_CUSTOMER,
            data,
            subject=account_id,
            key=_key(info, idempotency_key),
            check=lambda: customer_fields_check(data, fields, info.context.clients),
        )
        return CustomerPayload(
            **_common(info, result),
            customer=await _node(info, "Customer", account_id if result.correlation_id else None),
        )

    # --- contracts ------------------------------------------------------------------

    submit_contract: ContractPayload = _lifecycle(
        _K.SUBMIT_CONTRACT, Action.SUBMIT, "Draft → InApproval.", SalesOps
    )
    approve_contract: ContractPayload = _lifecycle(
        _K.APPROVE_CONTRACT,
        Action.APPROVE,
        "InApproval → approved (Activated in the contract system). Not by the person "
        "who created or last amended the contract.",
        Approves,
    )
    activate_contract: ContractPayload = _lifecycle(
        _K.ACTIVATE_CONTRACT,
        Action.ACTIVATE,
        "Start billing and revenue: a billing subscription carrying the contract id and "
        "version, then an ERP revenue schedule spread ratably over the term.",
        Finance,
    )
    suspend_contract: ContractPayload = _lifecycle(
        _K.SUSPEND_CONTRACT,
        Action.SUSPEND,
        "Pause billing (the subscription's collection).",
        Finance,
    )
    resume_contract: ContractPayload = _lifecycle(
        _K.RESUME_CONTRACT, Action.RESUME, "Resume a suspended contract's billing.", Finance
    )

    @strawberry.mutation(
        description="A new Draft contract with its lines.", permission_classes=[SalesOps]
    )
    async def create_contract(
        self, info: AppInfo, input: CreateContractInput, idempotency_key: str | None = None
    ) -> ContractPayload:
        lines, problems = _lines(input.lines)
        if input.term_months < 1:
            problems.append(UserError("BAD_INPUT", "termMonths must be positive", "termMonths"))
        data = {
            "account_id": key_of(input.customer_id, "Customer"),
            "start_date": input.start_date.isoformat(),
            "term_months": input.term_months,
            "currency": input.currency.upper(),
            "billing_frequency": input.billing_frequency,
            "lines": lines,
        }

        async def check() -> Sequence[UserError]:
            return problems or await new_contract_check(info.context.clients, data)

        result = await _execute(
            info,
            _K.CREATE_CONTRACT,
            data,
            subject=None,
            key=_key(info, idempotency_key),
            check=check,
        )
        return ContractPayload(
            **_common(info, result),
            contract=await _node(info, "Contract", result.subject),
        )

    @strawberry.mutation(
        description="A new version from the effective date: the subscription is repriced with "
        "proration and the ERP schedule revised prospectively.",
        permission_classes=[SalesOps],
    )
    async def amend_contract(
        self, info: AppInfo, input: AmendContractInput, idempotency_key: str | None = None
    ) -> ContractPayload:
        lines, problems = _lines(input.lines)
        return await _contract_command(
            info,
            _K.AMEND_CONTRACT,
            Action.AMEND,
            input.id,
            input.version,
            idempotency_key,
            {
                "effective_date": input.effective_date.isoformat(),
                "reason": input.reason,
                "lines": lines,
            },
            problems,
        )

    @strawberry.mutation(
        description="A new Draft contract for the next term, with these lines.",
        permission_classes=[SalesOps],
    )
    async def renew_contract(
        self,
        info: AppInfo,
        id: strawberry.ID,
        version: int,
        term_months: int | None = None,
        idempotency_key: str | None = None,
    ) -> ContractPayload:
        problems = (
            [UserError("BAD_INPUT", "termMonths must be positive", "termMonths")]
            if term_months is not None and term_months < 1
            else []
        )
        return await _contract_command(
            info,
            _K.RENEW_CONTRACT,
            Action.RENEW,
            id,
            version,
            idempotency_key,
            {"term_months": term_months},
            problems,
        )

    @strawberry.mutation(
        description="Terminate at the effective date: billing cancelled, ERP schedule truncated.",
        permission_classes=[Finance],
    )
    async def terminate_contract(
        self,
        info: AppInfo,
        id: strawberry.ID,
        version: int,
        effective_date: date,
        idempotency_key: str | None = None,
    ) -> ContractPayload:
        return await _contract_command(
            info,
            _K.TERMINATE_CONTRACT,
            Action.TERMINATE,
            id,
            version,
            idempotency_key,
            {"effective_date": effective_date.isoformat()},
        )

    # --- finance --------------------------------------------------------------------

    @strawberry.mutation(
        description="Post a finalized billing invoice to ERP AR (one posting per invoice, "
        "also when billing's invoice.finalized webhook started it).",
        permission_classes=[Finance],
    )
    async def post_invoice(
        self, info: AppInfo, invoice_id: strawberry.ID, idempotency_key: str | None = None
    ) -> InvoicePayload:
        raw = key_of(invoice_id, "Invoice")
        result = await _execute(
            info,
            _K.POST_INVOICE,
            {"invoice_id": raw},
            subject=raw,
            key=_key(info, idempotency_key),
            correlation_id=posting_correlation_id(raw),
        )
        return InvoicePayload(**_common(info, result), invoice=await _node(info, "Invoice", raw))

    @strawberry.mutation(
        description="Recognize the revenue of a period (YYYY-MM) in the ERP.",
        permission_classes=[Finance],
    )
    async def recognize_revenue(
        self, info: AppInfo, period: str, idempotency_key: str | None = None
    ) -> RevenuePayload:
        problems: list[UserError] = []
        try:
            datetime.strptime(period, "%Y-%m")
        except ValueError:
            problems.append(UserError("BAD_INPUT", "period must be YYYY-MM", "period"))

        async def check() -> Sequence[UserError]:
            return problems

        result = await _execute(
            info,
            _K.RECOGNIZE_REVENUE,
            {"period": period},
            subject=f"period:{period}",
            key=_key(info, idempotency_key),
            check=check,
        )
        return RevenuePayload(**_common(info, result), period=period)

    # --- consistency ----------------------------------------------------------------

    @strawberry.mutation(
        description="Recompute one subject's consistency now (its whole customer), live.",
        permission_classes=[FinanceOrSalesOps],
    )
    async def refresh_consistency(
        self, info: AppInfo, subject_id: strawberry.ID
    ) -> ConsistencyPayload:
        try:
            type_name, key = parse_global_id(subject_id)
        except UserInputError:
            type_name, key = "", subject_id
        kind = _SUBJECT_KINDS.get(type_name)
        if kind is None:
            error = MutationError(
                field="subjectId",
                code="BAD_INPUT",
                message="subjectId must be the id of a Customer, Contract or Invoice",
            )
            await audit_call(info, {"subject_id": subject_id}, Outcome.REFUSED, [error.code])
            return ConsistencyPayload(report=None, user_errors=[error])
        report = await report_of(info, kind, key, fresh=True)
        if report is None and not info.context.failures:
            missing = MutationError(field="subjectId", code="NOT_FOUND", message="no such subject")
            await audit_call(
                info, {"subject_id": subject_id}, Outcome.REFUSED, [missing.code], subject=key
            )
            return ConsistencyPayload(report=None, user_errors=[missing])
        await audit_call(info, {"subject_id": subject_id}, Outcome.ACCEPTED, subject=key)
        return ConsistencyPayload(report=report, user_errors=[])

    @strawberry.mutation(
        description="Start a reconciliation sweep of every customer (resume: continue an "
        "interrupted one); answers at once with the run to poll.",
        permission_classes=[Finance],
    )
    async def run_reconciliation(
        self, info: AppInfo, resume: bool = False
    ) -> ReconciliationPayload:
        try:
            run = await keeper_of(info).run_sweep(resume=resume)
        except SweepRunning as running:
            busy = MutationError(
                field=None,
                code="RECONCILIATION_RUNNING",
                message=f"run {running.run.id if running.run else '?'} is still running",
            )
            current = ReconciliationRun.build(running.run) if running.run else None
            await audit_call(info, {"resume": resume}, Outcome.REFUSED, [busy.code])
            return ReconciliationPayload(run=current, user_errors=[busy])
        await audit_call(
            info, {"resume": resume}, Outcome.ACCEPTED, subject=f"reconciliation:{run.id}"
        )
        return ReconciliationPayload(run=ReconciliationRun.build(run), user_errors=[])

    # --- operations -----------------------------------------------------------------

    @strawberry.mutation(
        description="Run a parked flow again from its failed step (the exception item "
        "resolves when the flow completes). Each queue has its roles: FINANCE_OPS finance, "
        "SALES_OPS sales_ops, PLATFORM admin.",
        permission_classes=[WorksExceptions],
    )
    async def retry_exception(self, info: AppInfo, id: strawberry.ID) -> ExceptionPayload:
        return await _operate(info, id, note=None)

    @strawberry.mutation(
        description="Close an exception item by hand with a note; its flow ends FAILED. "
        "Each queue has its roles, as for retryException.",
        permission_classes=[WorksExceptions],
    )
    async def resolve_exception(
        self, info: AppInfo, id: strawberry.ID, note: str
    ) -> ExceptionPayload:
        if not note.strip():
            refusal = _refused(UserError("BAD_INPUT", "a note is required", "note"))
            await _audited(info, {"id": id, "note": note}, refusal)
            return ExceptionPayload(**_common(info, refusal), exception_item=None)
        return await _operate(info, id, note=note)

    @strawberry.mutation(
        description="Resume a transaction that is not finished (parked or abandoned) now.",
        permission_classes=[Administers],
    )
    async def replay_transaction(self, info: AppInfo, correlation_id: str) -> TransactionPayload:
        resources = resources_of(info)
        commands: Commands = resources.commands
        journal: JournalRepository = commands.runner.journal
        tx = await journal.get(correlation_id)
        asked = {"correlation_id": correlation_id}
        if tx is None:
            refusal = _refused(UserError("NOT_FOUND", "no such transaction", "correlationId"))
            await _audited(info, asked, refusal)
            return TransactionPayload(**_common(info, refusal))
        if tx.finished:
            refusal = _refused(
                UserError(
                    "ILLEGAL_TRANSITION",
                    f"the transaction is {tx.status}: nothing to replay",
                    "correlationId",
                )
            )
            await _audited(info, asked, refusal, tx.subject)
            return TransactionPayload(**_common(info, refusal))
        result = await commands.resume(correlation_id)
        await _audited(info, asked, result, tx.subject)
        return TransactionPayload(**_common(info, result))


async def _operate(info: AppInfo, item_id: str, note: str | None) -> ExceptionPayload:
    commands: Commands = resources_of(info).commands
    repo: ExceptionRepository = commands.runner.exceptions
    raw = key_of(item_id, "ExceptionItem")
    asked: dict[str, Any] = {"id": item_id} if note is None else {"id": item_id, "note": note}
    try:
        number = int(raw)
    except ValueError:
        number = -1
    item = await repo.get(number)
    if item is None:
        refusal = _refused(UserError("NOT_FOUND", "no such exception item", "id"))
        await _audited(info, asked, refusal)
        return ExceptionPayload(**_common(info, refusal), exception_item=None)
    identity = info.context.identity
    if identity is None or not may_work_queue(identity, item.queue):
        roles = sorted({"admin", *QUEUE_ROLES.get(item.queue, ())})
        refusal = _refused(
            UserError(
                FORBIDDEN,
                f"items in {item.queue} are worked by the roles {', '.join(roles)}",
                "id",
            )
        )
        await _audited(info, asked, refusal, item.subject)
        return ExceptionPayload(**_common(info, refusal), exception_item=None)
    if note is None:
        result = await commands.retry_exception(item)
    else:
        result = await commands.resolve_exception(item, note, actor_of(info).name)
    await _audited(info, asked, result, item.subject)
    fresh = await repo.get(number)
    return ExceptionPayload(
        **_common(info, result), exception_item=ExceptionItem.build(fresh) if fresh else None
    )
