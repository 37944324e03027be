"""The contract org's objects: ``Contract``, ``ContractLineItem``, ``ContractVersion__c``.

Field shapes follow ``simulators/SHAPES.md``. Computed fields (ContractNumber,
EndDate, Version__c, TotalValue__c, ActivatedDate) are read-only through the
API, as formula and trigger-maintained fields are in Salesforce; the version
history is written only by activation and amendments.
"""

from __future__ import annotations

from simulators.contracts.lifecycle import (
    CONTRACT,
    LINE,
    STATUSES,
    VERSION,
    ContractRules,
    LineRules,
)
from simulators.salesforce.schema import (
    FieldSpec,
    FieldType,
    SObjectType,
    read_only,
    standard_fields,
)

CURRENCIES = ("USD", "EUR", "GBP")
FREQUENCIES = ("Monthly", "Annual")
_standard = {f.name: f for f in standard_fields()}

CONTRACT_TYPE = SObjectType(
    name=CONTRACT,
    key_prefix="800",
    fields=(
        _standard["Id"],
        read_only("ContractNumber", FieldType.STRING),
        # The CRM Account lives in another org: only the id's shape is checked.
        FieldSpec("AccountId", FieldType.REFERENCE, required=True),
        FieldSpec("Status", FieldType.PICKLIST, picklist=STATUSES, required=True, default="Draft"),
        FieldSpec("StartDate", FieldType.DATE),
        read_only("EndDate", FieldType.DATE),
        FieldSpec("ContractTerm", FieldType.INT),
        FieldSpec("CurrencyIsoCode", FieldType.PICKLIST, picklist=CURRENCIES, default="USD"),
        read_only("Version__c", FieldType.INT, default=1),
        FieldSpec(
            "BillingFrequency__c", FieldType.PICKLIST, picklist=FREQUENCIES, default="Monthly"
        ),
        read_only("TotalValue__c", FieldType.CURRENCY),
        read_only("ActivatedDate", FieldType.DATETIME),
        FieldSpec("TerminatedDate__c", FieldType.DATE),
        # An integration's external id: the gateway creates contracts by upsert on it,
        # so a retried create lands on the same record.
        FieldSpec("Integration_Key__c", FieldType.STRING, external_id=True),
        FieldSpec("RenewalOf__c", FieldType.REFERENCE, reference_to=CONTRACT),
        _standard["CreatedDate"],
        _standard["LastModifiedDate"],
    ),
    behavior=ContractRules(),
)

LINE_TYPE = SObjectType(
    name=LINE,
    key_prefix="811",
    fields=(
        _standard["Id"],
        FieldSpec(
            "ContractId",
            FieldType.REFERENCE,
            reference_to=CONTRACT,
            required=True,
            updateable=False,
        ),
        FieldSpec("Product2Id", FieldType.STRING, required=True),
        FieldSpec("ProductName__c", FieldType.STRING),
        FieldSpec("Quantity", FieldType.INT, required=True),
        FieldSpec("UnitPrice", FieldType.CURRENCY, required=True),
        FieldSpec("BillingFrequency__c", FieldType.PICKLIST, picklist=FREQUENCIES),
        read_only("Version__c", FieldType.INT),
        FieldSpec("Integration_Key__c", FieldType.STRING, external_id=True),
    ),
    behavior=LineRules(),
)

VERSION_TYPE = SObjectType(
    name=VERSION,
    key_prefix="a0V",
    fields=(
        _standard["Id"],
        FieldSpec("Contract__c", FieldType.REFERENCE, reference_to=CONTRACT),
        FieldSpec("Version__c", FieldType.INT),
        FieldSpec("EffectiveDate__c", FieldType.DATE),
        FieldSpec("Reason__c", FieldType.PICKLIST),
        FieldSpec("TotalValue__c", FieldType.CURRENCY),
        _standard["CreatedDate"],
    ),
    createable=False,
    updateable=False,
    deletable=False,
)

CONTRACT_OBJECTS = (CONTRACT_TYPE, LINE_TYPE, VERSION_TYPE)
