"""Describe bodies: ``GET /sobjects`` (global), ``/sobjects/{Object}`` and ``.../describe``.

Built from the org's :class:`~simulators.salesforce.schema.SObjectType` s with the
keys Salesforce's describe results carry (a subset: no layouts, record types
or search metadata), so clients that read the schema (simple-salesforce,
ETL tools) see the same fields the API accepts.
"""

from __future__ import annotations

from typing import Any

from simulators.salesforce.org import API_PREFIX, MAX_COLLECTION_RECORDS, SalesforceOrg
from simulators.salesforce.schema import ID_TYPES, FieldSpec, FieldType, SObjectType

_SOAP_TYPES = {
    FieldType.ID: "tns:ID",
    FieldType.REFERENCE: "tns:ID",
    FieldType.STRING: "xsd:string",
    FieldType.PICKLIST: "xsd:string",
    FieldType.EMAIL: "xsd:string",
    FieldType.INT: "xsd:int",
    FieldType.DOUBLE: "xsd:double",
    FieldType.CURRENCY: "xsd:double",
    FieldType.DATE: "xsd:date",
    FieldType.DATETIME: "xsd:dateTime",
    FieldType.BOOLEAN: "xsd:boolean",
}
_LENGTHS = {
    FieldType.ID: 18,
    FieldType.REFERENCE: 18,
    FieldType.STRING: 255,
    FieldType.PICKLIST: 255,
    FieldType.EMAIL: 80,
}


def urls(sobject: SObjectType) -> dict[str, str]:
    base = f"{API_PREFIX}/sobjects/{sobject.name}"
    return {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"}


def basic(sobject: SObjectType) -> dict[str, Any]:
    """What the global describe lists for an object."""
    return {
        "name": sobject.name,
        "label": sobject.display_label,
        "labelPlural": sobject.display_label_plural,
        "keyPrefix": sobject.key_prefix,
        "custom": sobject.custom,
        "createable": sobject.createable,
        "updateable": sobject.updateable,
        "deletable": sobject.deletable,
        "queryable": True,
        "retrieveable": True,
        "searchable": False,
        "layoutable": False,
        "urls": urls(sobject),
    }


def field(spec: FieldSpec) -> dict[str, Any]:
    system = spec.type == FieldType.ID or spec.name in (
        "CreatedDate",
        "LastModifiedDate",
        "SystemModstamp",
    )
    return {
        "name": spec.name,
        "label": spec.display_label,
        "type": str(spec.type),
        "soapType": _SOAP_TYPES[spec.type],
        "length": _LENGTHS.get(spec.type, 0),
        "precision": 18 if spec.type in (FieldType.CURRENCY, FieldType.DOUBLE) else 0,
        "scale": 2 if spec.type == FieldType.CURRENCY else 0,
        "digits": 9 if spec.type == FieldType.INT else 0,
        "nillable": not spec.required and spec.type != FieldType.ID,
        "createable": spec.createable,
        "updateable": spec.updateable,
        "defaultedOnCreate": spec.default is not None or system,
        "defaultValue": spec.default,
        "calculated": not system and not spec.createable and not spec.updateable,
        "custom": spec.custom,
        "externalId": spec.external_id,
        "idLookup": spec.external_id or spec.type == FieldType.ID,
        "unique": spec.external_id,
        "caseSensitive": False,
        "filterable": True,
        "sortable": True,
        "groupable": spec.type not in (FieldType.DOUBLE, FieldType.CURRENCY, FieldType.DATETIME),
        "referenceTo": [spec.reference_to] if spec.reference_to else [],
        "relationshipName": spec.relationship_name,
        "cascadeDelete": spec.reference_to is not None and spec.required,
        "picklistValues": [
            {
                "active": True,
                "defaultValue": value == spec.default,
                "label": value,
                "validFor": None,
                "value": value,
            }
            for value in spec.picklist
        ],
        "restrictedPicklist": bool(spec.picklist),
        "idType": spec.type in ID_TYPES,
    }


def describe(org: SalesforceOrg, sobject: SObjectType) -> dict[str, Any]:
    """``GET /sobjects/{Object}/describe``."""
    children = [
        {
            "childSObject": child.name,
            "field": spec.name,
            "cascadeDelete": spec.required,
            "relationshipName": None,
        }
        for child in org.sobjects.values()
        for spec in child.fields
        if spec.reference_to and spec.reference_to.lower() == sobject.name.lower()
    ]
    return {
        **basic(sobject),
        "fields": [field(spec) for spec in sobject.fields],
        "childRelationships": children,
        "recordTypeInfos": [],
    }


def global_describe(org: SalesforceOrg) -> dict[str, Any]:
    """``GET /sobjects``."""
    return {
        "encoding": "UTF-8",
        "maxBatchSize": MAX_COLLECTION_RECORDS,
        "sobjects": [basic(sobject) for sobject in org.sobjects.values()],
    }
