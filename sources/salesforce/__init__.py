"""What the two Salesforce-shaped adapters (CRM, Contracts) share.

:class:`~sources.salesforce.client.SalesforceClient` speaks the REST API
(sobjects, composite batch read, SOQL paged by
:class:`~sources.pagination.SoqlPaginator`), :mod:`~sources.salesforce.soql`
builds injection-safe SOQL, and :mod:`~sources.salesforce.errors` turns
Salesforce error bodies into :mod:`sources.errors`.
"""
