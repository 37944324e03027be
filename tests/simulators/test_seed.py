"""The seed: deterministic, vendor-shaped, consistent except for exactly the planted drift.

:func:`audit` re-derives every cross-system relation from the records alone
(never from the generator's internals) and reports what disagrees, sorted into
the manifest's drift kinds; anything it cannot explain is ``unexpected``.
"""

from __future__ import annotations

import copy
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest

from simulators.seed import SeedData, generate
from simulators.seed.calendar import REFERENCE_MONTH

Doc = dict[str, Any]
FINALIZED = {"open", "paid", "uncollectible"}


def dec(value: Any) -> Decimal:
    return Decimal(str(value))


@dataclass
class Audit:
    amendment_not_in_erp: dict[str, tuple[int, int, str]] = field(default_factory=dict)
    invoices_not_posted: set[str] = field(default_factory=set)
    renamed_in_crm: set[tuple[str, str, str]] = field(default_factory=set)
    billing_customer_without_erp: dict[str, tuple[list[str], list[str]]] = field(
        default_factory=dict
    )
    value_variance: dict[str, tuple[float, float]] = field(default_factory=dict)
    duplicate_billing_customer: dict[str, set[str]] = field(default_factory=dict)
    unexpected: list[str] = field(default_factory=list)


def audit(records: dict[str, dict[str, list[tuple[str, Doc]]]]) -> Audit:
    """Every cross-system disagreement in ``records``, classified."""
    out = Audit()
    bad = out.unexpected.append

    def docs(system: str, kind: str) -> list[Doc]:
        pairs = records[system][kind]
        for doc_id, doc in pairs:
            if doc_id != doc.get("Id", doc.get("id")):
                bad(f"{system}/{kind} {doc_id}: stored under another id")
        return [doc for _, doc in pairs]

    accounts = {a["Id"]: a for a in docs("CRM", "Account")}
    contracts = {c["Id"]: c for c in docs("CONTRACTS", "Contract")}
    lines_by: dict[tuple[str, int], list[Doc]] = defaultdict(list)
    for line in docs("CONTRACTS", "ContractLineItem"):
        lines_by[(line["ContractId"], line["Version__c"])].append(line)
    versions_by: dict[str, list[Doc]] = defaultdict(list)
    for version in docs("CONTRACTS", "ContractVersion__c"):
        versions_by[version["Contract__c"]].append(version)
    billing_by_crm: dict[str, list[Doc]] = defaultdict(list)
    for customer in docs("BILLING", "customer"):
        crm_id = customer["metadata"].get("crm_account_id")
        if crm_id not in accounts:
            bad(f"billing customer {customer['id']} names no CRM account")
        billing_by_crm[crm_id].append(customer)
    subs_by_contract: dict[str, list[Doc]] = defaultdict(list)
    subs = {s["id"]: s for s in docs("BILLING", "subscription")}
    for sub in subs.values():
        subs_by_contract[sub["metadata"]["contract_id"]].append(sub)
    erp_by_crm: dict[str, list[Doc]] = defaultdict(list)
    for customer in docs("ERP", "customer"):
        if customer["externalId"] not in accounts:
            bad(f"ERP customer {customer['id']} names no CRM account")
        erp_by_crm[customer["externalId"]].append(customer)
    schedules_by: dict[str, list[Doc]] = defaultdict(list)
    for schedule in docs("ERP", "customrecord_rg_revsched"):
        schedules_by[schedule["custrecord_rg_contract"]].append(schedule)
    sched_lines: dict[str, list[Doc]] = defaultdict(list)
    for line in docs("ERP", "customrecord_rg_revsched_line"):
        sched_lines[line["custrecord_rg_schedule"]["id"]].append(line)
    postings = {p["externalId"]: p for p in docs("ERP", "invoice")}
    invoices = docs("BILLING", "invoice")

    def erp_id(crm_id: str) -> str | None:
        found = erp_by_crm.get(crm_id, [])
        return found[0]["id"] if len(found) == 1 else None

    # Customers across the three systems.
    for crm_id, account in accounts.items():
        parent = account["ParentId"]
        if parent is not None:
            if parent not in accounts:
                bad(f"{crm_id}: parent {parent} missing")
            elif accounts[parent]["CurrencyIsoCode"] != account["CurrencyIsoCode"]:
                bad(f"{crm_id}: currency differs from parent")
        billing = billing_by_crm.get(crm_id, [])
        erp = erp_by_crm.get(crm_id, [])
        if len(billing) == 2:
            out.duplicate_billing_customer[crm_id] = {c["id"] for c in billing}
        elif len(billing) != 1:
            bad(f"{crm_id}: {len(billing)} billing customers")
        if len(erp) > 1:
            bad(f"{crm_id}: {len(erp)} ERP customers")
        if not erp:
            out.billing_customer_without_erp[crm_id] = ([], [])
        other_names = {c["name"] for c in billing} | {c["companyName"] for c in erp}
        if len(other_names) != 1:
            bad(f"{crm_id}: billing and ERP disagree on the name: {other_names}")
        elif account["Name"] not in other_names:
            out.renamed_in_crm.add((crm_id, account["Name"], other_names.pop()))
        for customer in billing:
            if customer["currency"] != account["CurrencyIsoCode"].lower():
                bad(f"{customer['id']}: currency")
        for customer in erp:
            if customer["currency"]["refName"] != account["CurrencyIsoCode"]:
                bad(f"{customer['id']}: currency")
            want_parent = erp_id(parent) if parent else None
            got_parent = customer["parent"]["id"] if customer["parent"] else None
            if got_parent != want_parent:
                bad(f"{customer['id']}: ERP parent {got_parent}, CRM says {want_parent}")

    # Contracts, subscriptions and schedules.
    for cid, contract in contracts.items():
        periods = contract["ContractTerm"] // (
            12 if contract["BillingFrequency__c"] == "Annual" else 1
        )
        history = sorted(versions_by[cid], key=lambda v: v["Version__c"])
        if [v["Version__c"] for v in history] != list(range(1, contract["Version__c"] + 1)):
            bad(f"{cid}: version history {[v['Version__c'] for v in history]}")
        totals = {}
        for version in history:
            lines = lines_by[(cid, version["Version__c"])]
            total = sum((dec(x["UnitPrice"]) * x["Quantity"] for x in lines), Decimal(0)) * periods
            totals[version["Version__c"]] = total
            if total != dec(version["TotalValue__c"]) or not lines:
                bad(f"{cid} v{version['Version__c']}: version total")
            if {x["BillingFrequency__c"] for x in lines} != {contract["BillingFrequency__c"]}:
                bad(f"{cid}: line billing frequency")
        current = contract["Version__c"]
        if totals.get(current) != dec(contract["TotalValue__c"]):
            bad(f"{cid}: TotalValue__c is not the current lines' value")
        renewed = contract["RenewalOf__c"]
        if renewed and contracts[renewed]["AccountId"] != contract["AccountId"]:
            bad(f"{cid}: renews another customer's contract")
        account_id = contract["AccountId"]
        account_billing = {c["id"] for c in billing_by_crm.get(account_id, [])}
        contract_subs = subs_by_contract.get(cid, [])
        billed = contract["Status"] in ("Activated", "Terminated")
        if not billed:
            if contract_subs or schedules_by.get(cid):
                bad(f"{cid}: {contract['Status']} contract has billing or ERP records")
            continue
        if len(contract_subs) != 1:
            bad(f"{cid}: {len(contract_subs)} subscriptions")
            continue
        sub = contract_subs[0]
        if sub["customer"] not in account_billing:
            bad(f"{cid}: subscription belongs to another customer")
        if sub["metadata"]["contract_version"] != str(current):
            bad(f"{cid}: subscription at version {sub['metadata']['contract_version']}")
        interval = "month" if contract["BillingFrequency__c"] == "Monthly" else "year"
        items = Counter(
            (i["price"]["unit_amount"], i["quantity"], i["price"]["recurring"]["interval"])
            for i in sub["items"]["data"]
        )
        want = Counter(
            (int(dec(x["UnitPrice"]) * 100), x["Quantity"], interval)
            for x in lines_by[(cid, current)]
        )
        if items != want:
            bad(f"{cid}: subscription items differ from the current lines")
        if (sub["status"] == "canceled") != (contract["Status"] == "Terminated"):
            bad(f"{cid}: subscription {sub['status']} for a {contract['Status']} contract")
        schedules = schedules_by.get(cid, [])
        if not erp_by_crm.get(account_id):
            if schedules:
                bad(f"{cid}: schedule for a customer the ERP lacks")
            else:
                out.billing_customer_without_erp[account_id][0].append(f"{cid}:v{current}")
            continue
        if len(schedules) != 1:
            bad(f"{cid}: {len(schedules)} schedules")
            continue
        schedule = schedules[0]
        version = schedule["custrecord_rg_contract_version"]
        total = dec(schedule["custrecord_rg_total"])
        if schedule["externalId"] != f"{cid}:v{version}":
            bad(f"{cid}: schedule externalId {schedule['externalId']}")
        if schedule["custrecord_rg_customer"]["id"] != erp_id(account_id):
            bad(f"{cid}: schedule on another ERP customer")
        if schedule["currency"]["refName"] != contract["CurrencyIsoCode"]:
            bad(f"{cid}: schedule currency")
        if version == current:
            if total != totals[current]:
                out.value_variance[cid] = (
                    contract["TotalValue__c"],
                    schedule["custrecord_rg_total"],
                )
        elif version == current - 1 and total == totals[version]:
            out.amendment_not_in_erp[cid] = (current, version, schedule["externalId"])
        else:
            bad(f"{cid}: schedule v{version} total {total} for contract v{current}")
        lines = sched_lines[schedule["id"]]
        if len(lines) != contract["ContractTerm"]:
            bad(f"{cid}: {len(lines)} schedule lines for {contract['ContractTerm']} months")
        if sum((dec(x["custrecord_rg_amount"]) for x in lines), Decimal(0)) != total:
            bad(f"{cid}: schedule lines do not sum to the total")
        recognized = [x for x in lines if x["custrecord_rg_recognized"]]
        if any(x["custrecord_rg_period"] >= REFERENCE_MONTH for x in recognized) or any(
            x["custrecord_rg_period"] < REFERENCE_MONTH for x in lines if x not in recognized
        ):
            bad(f"{cid}: recognized flags")
        if sum((dec(x["custrecord_rg_amount"]) for x in recognized), Decimal(0)) != dec(
            schedule["custrecord_rg_recognized_total"]
        ):
            bad(f"{cid}: recognized total")

    # Invoices and their AR postings.
    for invoice in invoices:
        iid = invoice["id"]
        sub = subs[invoice["subscription"]]
        contract = contracts[sub["metadata"]["contract_id"]]
        account_id = contract["AccountId"]
        if invoice["customer"] != sub["customer"]:
            bad(f"{iid}: customer differs from its subscription's")
        amounts = [x["amount"] for x in invoice["lines"]["data"]]
        if invoice["total"] != sum(amounts) or any(
            x["amount"] != x["quantity"] * x["price"]["unit_amount"]
            for x in invoice["lines"]["data"]
        ):
            bad(f"{iid}: total is not the sum of its lines")
        # The lines bill the contract version in force when the period began.
        start = invoice["period_start"]
        effective = [
            v for v in versions_by[contract["Id"]] if _unix_day(v["EffectiveDate__c"]) <= start
        ]
        in_force = max(v["Version__c"] for v in effective)
        billed_lines = Counter(
            (int(dec(x["UnitPrice"]) * 100), x["Quantity"])
            for x in lines_by[(contract["Id"], in_force)]
        )
        got = Counter((x["price"]["unit_amount"], x["quantity"]) for x in invoice["lines"]["data"])
        if got != billed_lines:
            bad(f"{iid}: lines are not those of contract version {in_force}")
        posting = postings.pop(iid, None)
        if invoice["status"] not in FINALIZED:
            if posting is not None:
                bad(f"{iid}: {invoice['status']} invoice posted")
            continue
        if posting is None:
            if erp_by_crm.get(account_id):
                out.invoices_not_posted.add(iid)
            elif account_id in out.billing_customer_without_erp:
                out.billing_customer_without_erp[account_id][1].append(iid)
            continue
        if (
            dec(posting["total"]) * 100 != invoice["total"]
            or posting["tranId"] != invoice["number"]
        ):
            bad(f"{iid}: posting differs")
        if posting["entity"]["id"] != erp_id(account_id):
            bad(f"{iid}: posted to another ERP customer")
        if posting["currency"]["refName"] != invoice["currency"].upper():
            bad(f"{iid}: posting currency")
        want_status = "Paid In Full" if invoice["status"] == "paid" else "Open"
        if posting["status"]["refName"] != want_status:
            bad(f"{iid}: posting status {posting['status']['refName']}")
    for orphan in postings:
        bad(f"posting {orphan} names no Stripe invoice")
    return out


def _unix_day(day: str) -> int:
    from calendar import timegm

    year, month, mday = (int(x) for x in day.split("-"))
    return timegm((year, month, mday, 0, 0, 0))


def assert_matches_manifest(data: SeedData) -> None:
    found = audit(data.records)
    assert found.unexpected == []
    drift = data.manifest["drift"]
    assert found.amendment_not_in_erp == {
        d["contract_id"]: (d["contract_version"], d["erp_version"], d["erp_schedule_external_id"])
        for d in drift["amendment_not_in_erp"]
    }
    assert found.invoices_not_posted == {d["invoice_id"] for d in drift["invoices_not_posted"]}
    assert found.renamed_in_crm == {
        (d["crm_id"], d["crm_name"], d["old_name"]) for d in drift["renamed_in_crm"]
    }
    assert found.billing_customer_without_erp == {
        d["crm_id"]: (d["missing_erp_schedules"], d["missing_erp_postings"])
        for d in drift["billing_customer_without_erp"]
    }
    assert found.value_variance == {
        d["contract_id"]: (float(d["contract_total"]), float(d["erp_total"]))
        for d in drift["value_variance"]
    }
    assert found.duplicate_billing_customer == {
        d["crm_id"]: set(d["billing_customer_ids"]) for d in drift["duplicate_billing_customer"]
    }


@pytest.fixture(scope="module")
def seed200() -> SeedData:
    return generate(200, 42)


def test_same_arguments_give_identical_records() -> None:
    first, second = generate(30, 7), generate(30, 7)
    assert json.dumps(first.records, sort_keys=True) == json.dumps(second.records, sort_keys=True)
    assert first.manifest == second.manifest


def test_another_seed_gives_other_records() -> None:
    first, second = generate(30, 7), generate(30, 8)

    def ids(data: SeedData) -> set[str]:
        return {i for i, _ in data.records["CRM"]["Account"]}

    def names(data: SeedData) -> list[str]:
        return [d["Name"] for _, d in data.records["CRM"]["Account"]]

    assert ids(first).isdisjoint(ids(second))
    assert names(first) != names(second)


@pytest.mark.parametrize(("customers", "seed"), [(5, 1), (20, 3), (40, 11), (200, 42)])
def test_every_planted_drift_is_present_and_nothing_else(customers: int, seed: int) -> None:
    data = generate(customers, seed)
    for kind, items in data.manifest["drift"].items():
        assert items, f"no {kind} planted"
    assert_matches_manifest(data)


def test_audit_catches_unplanted_inconsistency(seed200: SeedData) -> None:
    """The checker is not vacuous: a single bent record is reported."""
    records = copy.deepcopy(seed200.records)
    _, posting = records["ERP"]["invoice"][0]
    posting["total"] = round(posting["total"] + 1, 2)
    _, schedule_line = records["ERP"]["customrecord_rg_revsched_line"][5]
    schedule_line["custrecord_rg_amount"] = 0.0
    found = audit(records)
    assert any("posting differs" in p for p in found.unexpected)
    assert any("do not sum" in p for p in found.unexpected)


def test_manifest_counts_and_scale(seed200: SeedData) -> None:
    manifest = seed200.manifest
    json.loads(json.dumps(manifest))
    assert manifest["seed"] == 42 and manifest["customers"] == 200
    assert manifest["counts"]["CRM"]["Account"] == 200
    drift = manifest["drift"]
    assert len(drift["invoices_not_posted"]) == 8
    assert len(drift["renamed_in_crm"]) == len(drift["value_variance"]) == 4
    assert len(drift["duplicate_billing_customer"]) == 2
    for kind, docs in seed200.records["BILLING"].items():
        assert manifest["counts"]["BILLING"][kind] == len(docs)


def test_variety(seed200: SeedData) -> None:
    records = seed200.records
    accounts = [d for _, d in records["CRM"]["Account"]]
    by_id = {a["Id"]: a for a in accounts}
    children = [a for a in accounts if a["ParentId"]]
    assert 0.1 < len(children) / len(accounts) < 0.3
    assert any(by_id[a["ParentId"]]["ParentId"] for a in children), "no grandchildren"
    assert {a["CurrencyIsoCode"] for a in accounts} == {"USD", "EUR", "GBP"}
    assert {a["Segment__c"] for a in accounts} == {"Enterprise", "Mid-Market", "SMB"}
    contracts = [d for _, d in records["CONTRACTS"]["Contract"]]
    assert {c["Status"] for c in contracts} == {
        "Draft",
        "InApproval",
        "Activated",
        "Terminated",
        "Expired",
    }
    assert {c["Version__c"] for c in contracts if c["Status"] == "Activated"} == {1, 2, 3}
    assert {c["BillingFrequency__c"] for c in contracts} == {"Monthly", "Annual"}
    renewals = [c for c in contracts if c["RenewalOf__c"]]
    assert renewals
    assert all(c["Status"] == "Activated" for c in renewals)
    reasons = {v["Reason__c"] for _, v in records["CONTRACTS"]["ContractVersion__c"]}
    assert reasons == {"Initial", "Upsell", "Downsell", "Price change"}
    subs = [d for _, d in records["BILLING"]["subscription"]]
    assert {s["status"] for s in subs} == {"active", "canceled", "past_due", "paused"}
    invoices = [d for _, d in records["BILLING"]["invoice"]]
    assert {i["status"] for i in invoices} == {"draft", "open", "paid", "void", "uncollectible"}
    assert all(i["number"] is None for i in invoices if i["status"] == "draft")


SF_DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000\+0000$")
NS_DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
DATE = re.compile(r"^\d{4}-\d\d-\d\d$")

SHAPES: dict[tuple[str, str], set[str]] = {
    ("CRM", "Account"): {
        "Id",
        "Name",
        "ParentId",
        "CurrencyIsoCode",
        "Segment__c",
        "Billing_Email__c",
        "Type",
        "Industry",
        "CreatedDate",
        "LastModifiedDate",
        "SystemModstamp",
    },
    ("CONTRACTS", "Contract"): {
        "Id",
        "ContractNumber",
        "AccountId",
        "Status",
        "StartDate",
        "EndDate",
        "ContractTerm",
        "CurrencyIsoCode",
        "Version__c",
        "BillingFrequency__c",
        "TotalValue__c",
        "ActivatedDate",
        "TerminatedDate__c",
        "RenewalOf__c",
        "CreatedDate",
        "LastModifiedDate",
    },
    ("CONTRACTS", "ContractLineItem"): {
        "Id",
        "ContractId",
        "Product2Id",
        "ProductName__c",
        "Quantity",
        "UnitPrice",
        "BillingFrequency__c",
        "Version__c",
    },
    ("CONTRACTS", "ContractVersion__c"): {
        "Id",
        "Contract__c",
        "Version__c",
        "EffectiveDate__c",
        "Reason__c",
        "TotalValue__c",
        "CreatedDate",
    },
    ("BILLING", "customer"): {
        "id",
        "object",
        "name",
        "email",
        "currency",
        "created",
        "livemode",
        "metadata",
    },
    ("BILLING", "subscription"): {
        "id",
        "object",
        "customer",
        "status",
        "currency",
        "start_date",
        "current_period_start",
        "current_period_end",
        "cancel_at",
        "canceled_at",
        "created",
        "items",
        "metadata",
    },
    ("BILLING", "invoice"): {
        "id",
        "object",
        "number",
        "customer",
        "subscription",
        "status",
        "currency",
        "subtotal",
        "total",
        "amount_due",
        "amount_paid",
        "amount_remaining",
        "created",
        "due_date",
        "period_start",
        "period_end",
        "status_transitions",
        "lines",
        "metadata",
    },
    ("ERP", "customer"): {
        "id",
        "externalId",
        "entityId",
        "companyName",
        "email",
        "currency",
        "parent",
        "isInactive",
        "dateCreated",
        "lastModifiedDate",
    },
    ("ERP", "invoice"): {
        "id",
        "externalId",
        "tranId",
        "entity",
        "currency",
        "total",
        "amountRemaining",
        "tranDate",
        "dueDate",
        "status",
        "memo",
        "lastModifiedDate",
    },
    ("ERP", "customrecord_rg_revsched"): {
        "id",
        "externalId",
        "custrecord_rg_contract",
        "custrecord_rg_contract_version",
        "custrecord_rg_customer",
        "custrecord_rg_total",
        "custrecord_rg_recognized_total",
        "currency",
        "custrecord_rg_start",
        "custrecord_rg_end",
    },
    ("ERP", "customrecord_rg_revsched_line"): {
        "id",
        "custrecord_rg_schedule",
        "custrecord_rg_period",
        "custrecord_rg_amount",
        "custrecord_rg_recognized",
    },
}
PRICE_KEYS = {"id", "object", "unit_amount", "currency", "product", "recurring"}


def _two_decimals(value: Any) -> bool:
    return isinstance(value, float) and dec(value) == dec(value).quantize(Decimal("0.01"))


def test_records_follow_shapes(seed200: SeedData) -> None:
    records = seed200.records
    assert set(records) == {"CRM", "CONTRACTS", "BILLING", "ERP"}
    assert {(s, k) for s, kinds in records.items() for k in kinds} == set(SHAPES)
    for (system, kind), keys in SHAPES.items():
        for _, doc in records[system][kind]:
            assert set(doc) == keys, (system, kind, set(doc) ^ keys)
    json.dumps(records)
    for _, a in records["CRM"]["Account"]:
        assert re.fullmatch(r"001[0-9A-Za-z]{15}", a["Id"])
        assert SF_DATETIME.match(a["CreatedDate"]) and a["Type"] == "Customer"
    for _, c in records["CONTRACTS"]["Contract"]:
        assert c["Id"].startswith("800") and len(c["Id"]) == 18
        assert re.fullmatch(r"C-\d{4,}", c["ContractNumber"])
        assert DATE.match(c["StartDate"]) and DATE.match(c["EndDate"])
        assert _two_decimals(c["TotalValue__c"])
        assert (c["ActivatedDate"] is None) == (c["Status"] in ("Draft", "InApproval"))
        assert (c["TerminatedDate__c"] is None) == (c["Status"] != "Terminated")
    for _, line in records["CONTRACTS"]["ContractLineItem"]:
        assert line["Id"].startswith("811") and line["Product2Id"].startswith("01t")
        assert isinstance(line["Quantity"], int) and _two_decimals(line["UnitPrice"])
    for _, v in records["CONTRACTS"]["ContractVersion__c"]:
        assert v["Id"].startswith("a0V") and _two_decimals(v["TotalValue__c"])
    for _, cus in records["BILLING"]["customer"]:
        assert cus["id"].startswith("cus_") and cus["object"] == "customer"
        assert cus["currency"] in ("usd", "eur", "gbp") and cus["livemode"] is False
        assert isinstance(cus["created"], int) and set(cus["metadata"]) == {"crm_account_id"}
    for _, sub in records["BILLING"]["subscription"]:
        assert sub["id"].startswith("sub_")
        assert set(sub["metadata"]) == {"contract_id", "contract_version"}
        assert isinstance(sub["metadata"]["contract_version"], str)
        assert sub["items"]["object"] == "list" and sub["items"]["data"]
        for item in sub["items"]["data"]:
            assert item["id"].startswith("si_") and item["object"] == "subscription_item"
            assert set(item["price"]) == PRICE_KEYS and item["price"]["id"].startswith("price_")
            assert item["price"]["recurring"] == {
                "interval": item["price"]["recurring"]["interval"],
                "interval_count": 1,
            }
            assert isinstance(item["price"]["unit_amount"], int)
    for _, inv in records["BILLING"]["invoice"]:
        assert inv["id"].startswith("in_") and inv["object"] == "invoice"
        assert inv["number"] is None or re.fullmatch(r"RG-\d{6}", inv["number"])
        assert set(inv["status_transitions"]) == {"finalized_at", "paid_at", "voided_at"}
        for amount in ("subtotal", "total", "amount_due", "amount_paid", "amount_remaining"):
            assert isinstance(inv[amount], int)
        for line in inv["lines"]["data"]:
            assert line["id"].startswith("il_") and line["object"] == "line_item"
            assert set(line["period"]) == {"start", "end"} and set(line["price"]) == PRICE_KEYS
    for _, cus in records["ERP"]["customer"]:
        assert cus["id"].isdigit() and set(cus["currency"]) == {"id", "refName"}
        assert NS_DATETIME.match(cus["dateCreated"])
    for _, post in records["ERP"]["invoice"]:
        assert post["id"].isdigit() and _two_decimals(post["total"])
        assert post["status"]["refName"] in ("Open", "Paid In Full")
    for _, sched in records["ERP"]["customrecord_rg_revsched"]:
        assert re.fullmatch(r"800\w{15}:v\d", sched["externalId"])
        assert isinstance(sched["custrecord_rg_contract_version"], int)
        assert _two_decimals(sched["custrecord_rg_total"])
    for _, line in records["ERP"]["customrecord_rg_revsched_line"]:
        assert re.fullmatch(r"\d{4}-\d\d", line["custrecord_rg_period"])
        assert isinstance(line["custrecord_rg_recognized"], bool)


def test_ids_are_unique(seed200: SeedData) -> None:
    for kinds in seed200.records.values():
        for kind, docs in kinds.items():
            ids = [i for i, _ in docs]
            assert len(ids) == len(set(ids)), kind
    external = [d["externalId"] for _, d in seed200.records["ERP"]["customrecord_rg_revsched"]]
    assert len(external) == len(set(external))


def test_ten_thousand_customers() -> None:
    data = generate(10_000, 42)
    assert data.manifest["counts"]["CRM"]["Account"] == 10_000
    assert len(data.manifest["drift"]["billing_customer_without_erp"]) == 100
    assert_matches_manifest(data)
