"""The CRM simulator: a Salesforce REST org with one object, ``Account``.

Everything HTTP comes from :mod:`simulators.salesforce`; this module declares
the Account fields (shape in ``simulators/SHAPES.md``) and the one rule the org
enforces beyond field validation: the ``ParentId`` hierarchy has no cycles.
"""

from __future__ import annotations

from starlette.applications import Starlette

from simulators.config import SimulatorConfig
from simulators.openapi import OpenApiDocument
from simulators.record_events import RecordEvents
from simulators.salesforce.errors import SalesforceError
from simulators.salesforce.openapi import salesforce_document
from simulators.salesforce.org import SalesforceOrg
from simulators.salesforce.routes import build_salesforce_simulator
from simulators.salesforce.schema import (
    FieldSpec,
    FieldType,
    SObjectBehavior,
    SObjectType,
    standard_fields,
)
from simulators.storage import Document, DocumentStore

CURRENCIES = ("USD", "EUR", "GBP")
SEGMENTS = ("Enterprise", "Mid-Market", "SMB")


class AccountHierarchy(SObjectBehavior):
    """Refuses a ``ParentId`` that would make an account its own ancestor."""

    async def before_update(
        self, store: DocumentStore, current: Document, doc: Document, changes: Document
    ) -> None:
        ancestor = changes.get("ParentId")
        seen: set[str] = set()
        while isinstance(ancestor, str) and ancestor not in seen:
            if ancestor == doc["Id"]:
                raise SalesforceError(
                    400,
                    "FIELD_INTEGRITY_EXCEPTION",
                    "Parent Account: an account cannot be its own parent or ancestor",
                    fields=["ParentId"],
                )
            seen.add(ancestor)
            parent = store.get("Account", ancestor)
            ancestor = parent.get("ParentId") if parent else None


_standard = {f.name: f for f in standard_fields(system_modstamp=True)}

ACCOUNT = SObjectType(
    name="Account",
    key_prefix="001",
    fields=(
        _standard["Id"],
        FieldSpec("Name", FieldType.STRING, required=True),
        FieldSpec("ParentId", FieldType.REFERENCE, reference_to="Account"),
        FieldSpec("CurrencyIsoCode", FieldType.PICKLIST, picklist=CURRENCIES, default="USD"),
        FieldSpec("Segment__c", FieldType.PICKLIST, picklist=SEGMENTS),
        FieldSpec("Billing_Email__c", FieldType.EMAIL),
        FieldSpec("Type", FieldType.PICKLIST),
        FieldSpec("Industry", FieldType.PICKLIST),
        FieldSpec("External_Id__c", FieldType.STRING, external_id=True, label="External ID"),
        _standard["CreatedDate"],
        _standard["LastModifiedDate"],
        _standard["SystemModstamp"],
    ),
    behavior=AccountHierarchy(),
)


def openapi_document() -> OpenApiDocument:
    """The CRM simulator's OpenAPI document (committed as ``simulators/openapi/crm.json``)."""
    return salesforce_document("CRM", [ACCOUNT])


def create_app(store: DocumentStore, config: SimulatorConfig) -> Starlette:
    """The CRM simulator app over ``store`` (records of kind ``Account``); every change
    is a signed webhook (``Account.created`` ...: :mod:`simulators.record_events`)."""
    org = SalesforceOrg(store, [ACCOUNT], events=RecordEvents(config))
    return build_salesforce_simulator("CRM", org, config, openapi=openapi_document())
