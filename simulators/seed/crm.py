"""CRM side of the seed: customer accounts with a parent hierarchy."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from simulators.seed.calendar import add_months, sf_datetime
from simulators.seed.ids import IdFactory


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_FIRST = _words(
    "Acme Apex Atlas Aurora Beacon Blue Bright Cedar Cobalt Crest Delta Eagle Echo Ember "
    "Evergreen Falcon Fusion Galaxy Granite Harbor Horizon Iron Juniper Keystone Lumen Maple "
    "Meridian Nimbus Northstar Oak Onyx Orbit Pacific Pinnacle Polar Prairie Quantum Redwood "
    "River Sable Sierra Silver Solar Spruce Stellar Summit Terra Titan Trident Union Vertex "
    "Vista Willow Zenith Copper Lotus Coral Amber Birch"
)
_SECOND = _words(
    "Analytics Systems Logistics Foods Health Energy Labs Robotics Media Networks Capital "
    "Dynamics Works Industries Solutions Devices Software Materials Mobility Foods Retail "
    "Security Genomics Outfitters Partners Bio Aerospace Marine Textiles Pharma Studios "
    "Telecom Ventures Data Cloud Motors Brands Consulting Insurance Learning"
)
_SUFFIX = ("Inc", "LLC", "Ltd", "GmbH", "Corp", "Group", "Co", "plc", "SA", "AG")
_REGIONS = (
    "EMEA",
    "APAC",
    "Americas",
    "North America",
    "LATAM",
    "Germany",
    "France",
    "UK",
    "Japan",
    "Brazil",
    "Canada",
    "India",
    "Nordics",
    "Benelux",
    "Iberia",
    "Italy",
    "Australia",
)
_INDUSTRIES = (
    "Technology",
    "Manufacturing",
    "Healthcare",
    "Finance",
    "Retail",
    "Energy",
    "Media",
    "Transportation",
    "Education",
    "Hospitality",
)
CURRENCIES = ("USD", "EUR", "GBP")
_CURRENCY_WEIGHTS = (60, 25, 15)
_SEGMENTS = ("Enterprise", "Mid-Market", "SMB")
_SEGMENT_WEIGHTS = (20, 35, 45)
CHILD_SHARE = 0.2


@dataclass(eq=False)
class AccountPlan:
    """One customer as the seed plans it, before any system's record is written."""

    index: int
    id: str
    name: str
    parent: AccountPlan | None
    currency: str
    segment: str
    industry: str
    email: str
    created: date
    hour: int
    children: list[AccountPlan] = field(default_factory=list)
    renamed_to: str | None = None

    @property
    def crm_name(self) -> str:
        """The name the CRM holds (a rename reaches only the CRM when it is drift)."""
        return self.renamed_to or self.name


class NameBook:
    """Unique company names."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._taken: set[str] = set()

    def company(self) -> str:
        rng = self._rng
        for _ in range(8):
            name = f"{rng.choice(_FIRST)} {rng.choice(_SECOND)} {rng.choice(_SUFFIX)}"
            if name not in self._taken:
                break
        n = 2
        base = name
        while name in self._taken:
            name = f"{base} {n}"
            n += 1
        self._taken.add(name)
        return name

    def subsidiary(self, parent: str) -> str:
        name = f"{parent} {self._rng.choice(_REGIONS)}"
        n = 2
        base = name
        while name in self._taken:
            name = f"{base} {n}"
            n += 1
        self._taken.add(name)
        return name


def email_for(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return f"billing@{slug}.example.com"


def plan_accounts(
    rng: random.Random, ids: IdFactory, names: NameBook, count: int
) -> list[AccountPlan]:
    """``count`` accounts; about a fifth are children, some of those grandchildren."""
    accounts: list[AccountPlan] = []
    roots: list[AccountPlan] = []
    children: list[AccountPlan] = []
    for index in range(count):
        parent: AccountPlan | None = None
        if roots and rng.random() < CHILD_SHARE:
            parent = rng.choice(children) if children and rng.random() < 0.25 else rng.choice(roots)
        created = add_months(date(2019, 1, 1), rng.randrange(0, 80))
        created = created.replace(day=rng.randrange(1, 29))
        if parent is None:
            name = names.company()
            currency = rng.choices(CURRENCIES, _CURRENCY_WEIGHTS)[0]
            segment = rng.choices(_SEGMENTS, _SEGMENT_WEIGHTS)[0]
            industry = rng.choice(_INDUSTRIES)
        else:
            # Subsidiaries bill in the parent's currency and sit in its segment.
            name = names.subsidiary(parent.name)
            currency, segment, industry = parent.currency, parent.segment, parent.industry
            created = max(created, parent.created)
        account = AccountPlan(
            index=index,
            id=ids.salesforce("001"),
            name=name,
            parent=parent,
            currency=currency,
            segment=segment,
            industry=industry,
            email=email_for(name),
            created=created,
            hour=rng.randrange(8, 19),
        )
        if parent is None:
            roots.append(account)
        else:
            parent.children.append(account)
            if parent.parent is None:
                children.append(account)
        accounts.append(account)
    return accounts


def account_doc(account: AccountPlan, modified: date) -> dict[str, Any]:
    """The CRM ``Account`` document."""
    return {
        "Id": account.id,
        "Name": account.crm_name,
        "ParentId": account.parent.id if account.parent else None,
        "CurrencyIsoCode": account.currency,
        "Segment__c": account.segment,
        "Billing_Email__c": account.email,
        "Type": "Customer",
        "Industry": account.industry,
        "CreatedDate": sf_datetime(account.created, account.hour),
        "LastModifiedDate": sf_datetime(modified, account.hour),
        "SystemModstamp": sf_datetime(modified, account.hour),
    }
