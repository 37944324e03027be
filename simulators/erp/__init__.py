"""A NetSuite-shaped ERP: SuiteTalk REST records and SuiteQL over a document store.

* :mod:`simulators.erp.app` — the Starlette app (``create_app``) and its routes;
* :mod:`simulators.erp.records` — record types, validation and writes (including
  keeping a revenue schedule's recognized total in step with its lines);
* :mod:`simulators.erp.tables` — how records appear as SuiteQL tables;
* :mod:`simulators.erp.suiteql` — the SuiteQL parser and executor;
* :mod:`simulators.erp.listing` — the ``q`` filter of record collections;
* :mod:`simulators.erp.present` — records as REST sends them; the metadata catalog;
* :mod:`simulators.erp.limits` — the account's concurrency governance;
* :mod:`simulators.erp.openapi` — the OpenAPI document;
* :mod:`simulators.erp.errors` — NetSuite's error bodies.
"""
