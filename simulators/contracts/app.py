"""The Contracts/CPQ simulator: a Salesforce-style org plus the amendment Apex service.

The standard REST API (sobjects, composite batch read, SOQL) comes from
:mod:`simulators.salesforce`; this org adds its objects
(:mod:`.objects`), their lifecycle rules (:mod:`.lifecycle`) and
``POST /services/apexrest/rg/v1/contracts/{id}/amend`` (:mod:`.amendment`).
"""

from __future__ import annotations

from starlette.applications import Starlette

from simulators.config import SimulatorConfig
from simulators.contracts.amendment import amendment_openapi, amendment_routes
from simulators.contracts.objects import CONTRACT_OBJECTS
from simulators.openapi import OpenApiDocument
from simulators.record_events import RecordEvents
from simulators.salesforce.openapi import salesforce_document
from simulators.salesforce.org import SalesforceOrg
from simulators.salesforce.routes import build_salesforce_simulator
from simulators.storage import DocumentStore


def openapi_document() -> OpenApiDocument:
    """The Contracts simulator's OpenAPI document (``simulators/openapi/contracts.json``)."""
    return salesforce_document("Contracts", CONTRACT_OBJECTS, extra_paths=amendment_openapi())


def create_app(store: DocumentStore, config: SimulatorConfig) -> Starlette:
    """The Contracts simulator app over ``store`` (kinds Contract, ContractLineItem,
    ContractVersion__c); every change made through the API, amendments included,
    is a signed webhook (``Contract.updated`` ...: :mod:`simulators.record_events`)."""
    org = SalesforceOrg(store, CONTRACT_OBJECTS, events=RecordEvents(config))
    return build_salesforce_simulator(
        "CONTRACTS",
        org,
        config,
        extra_routes=amendment_routes(org),
        openapi=openapi_document(),
    )
