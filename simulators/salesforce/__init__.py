"""Salesforce REST machinery shared by the CRM and Contracts simulators.

An org is a set of :class:`~simulators.salesforce.schema.SObjectType` over a
:class:`~simulators.storage.DocumentStore`; :mod:`.routes` serves its REST API
(sobjects, composite batch read, SOQL with ``nextRecordsUrl`` paging) with
Salesforce's error bodies, and :mod:`.soql` / :mod:`.executor` run the queries.
Each simulator only declares its objects and their behaviour.
"""
