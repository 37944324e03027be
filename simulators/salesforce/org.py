"""One simulated Salesforce org: its objects, records, query cursors and writes.

The HTTP layer (:mod:`simulators.salesforce.routes`) and org-specific endpoints
(the contracts amendment) call into :class:`SalesforceOrg`; it validates writes
like Salesforce, runs the objects' behaviour hooks, serialises writes under one
lock (hooks read-modify-write several records), and pages query results.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from simulators.salesforce.cursors import QueryCursors
from simulators.salesforce.errors import SalesforceError, malformed_query, not_found
from simulators.salesforce.executor import compile_query, execute
from simulators.salesforce.ids import new_record_id
from simulators.salesforce.schema import SObjectType, coerce_write
from simulators.salesforce.soql import SoqlSyntaxError, parse
from simulators.salesforce.values import now_datetime
from simulators.storage import Document, DocumentStore

API_VERSION = "v60.0"
API_PREFIX = f"/services/data/{API_VERSION}"
DEFAULT_BATCH_SIZE = 2000
MIN_BATCH_SIZE = 200
MAX_BATCH_SIZE = 2000
AUDIT_ON_INSERT = ("CreatedDate", "LastModifiedDate", "SystemModstamp")
AUDIT_ON_UPDATE = ("LastModifiedDate", "SystemModstamp")


class SalesforceOrg:
    """The records of one org and the operations its REST API exposes."""

    def __init__(self, store: DocumentStore, sobjects: Sequence[SObjectType]) -> None:
        self.store = store
        self.sobjects: dict[str, SObjectType] = {s.name.lower(): s for s in sobjects}
        self.cursors = QueryCursors()
        # Hooks read and write several records across awaits (the store writes to
        # SQL): one lock keeps each write and its hooks atomic for other requests.
        self.write_lock = asyncio.Lock()

    def sobject(self, name: str) -> SObjectType:
        """The object named in a URL; NOT_FOUND (as Salesforce answers) if unknown."""
        sobject = self.sobjects.get(name.lower())
        if sobject is None:
            raise not_found()
        return sobject

    # -- reads -------------------------------------------------------------------

    def render(
        self, sobject: SObjectType, doc: Document, fields: Sequence[str] | None = None
    ) -> dict[str, Any]:
        """A record as the API returns it: ``attributes`` then the (selected) fields."""
        out: dict[str, Any] = {
            "attributes": {
                "type": sobject.name,
                "url": sobject.record_url(doc["Id"], API_PREFIX),
            }
        }
        for name in fields if fields is not None else sobject.field_names:
            out[name] = doc.get(name)
        return out

    def get(self, sobject: SObjectType, record_id: str) -> Document:
        doc = self.store.get(sobject.name, record_id)
        if doc is None:
            raise not_found()
        return doc

    def query(self, soql: str, batch_size: int = DEFAULT_BATCH_SIZE) -> dict[str, Any]:
        """The first page of a SOQL query (with ``nextRecordsUrl`` if there are more)."""
        try:
            parsed = parse(soql)
        except SoqlSyntaxError as exc:
            raise malformed_query(str(exc)) from exc
        compiled = compile_query(parsed, self.sobjects)
        rows = execute(compiled, self.store)
        if compiled.count:
            return {"totalSize": len(rows), "done": True, "records": []}
        sobject, fields = compiled.sobject, compiled.fields
        body: dict[str, Any] = {
            "totalSize": len(rows),
            "done": len(rows) <= batch_size,
            "records": [self.render(sobject, doc, fields) for doc in rows[:batch_size]],
        }
        if not body["done"]:
            locator = self.cursors.open(
                sobject.name, fields, [doc["Id"] for doc in rows], batch_size
            )
            body["nextRecordsUrl"] = f"{API_PREFIX}/query/{locator}-{batch_size}"
        return body

    def query_more(self, token: str) -> dict[str, Any]:
        """The page a ``nextRecordsUrl`` (``{locator}-{offset}``) points at."""
        locator, _, offset_text = token.rpartition("-")
        cursor = self.cursors.get(locator) if offset_text.isdigit() else None
        if cursor is None or int(offset_text) > len(cursor.ids):
            raise SalesforceError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        sobject = self.sobject(cursor.sobject)
        start = int(offset_text)
        end = start + cursor.batch_size
        docs = (self.store.get(sobject.name, i) for i in cursor.ids[start:end])
        body: dict[str, Any] = {
            "totalSize": len(cursor.ids),
            "done": end >= len(cursor.ids),
            "records": [self.render(sobject, d, cursor.fields) for d in docs if d is not None],
        }
        if not body["done"]:
            body["nextRecordsUrl"] = f"{API_PREFIX}/query/{locator}-{end}"
        return body

    # -- writes ------------------------------------------------------------------

    async def insert(self, sobject: SObjectType, body: Any) -> Document:
        """Create a record from a REST body; returns the stored document."""
        if not sobject.createable:
            raise SalesforceError(
                400, "INVALID_TYPE_FOR_OPERATION", f"entity type cannot be inserted: {sobject.name}"
            )
        values = coerce_write(sobject, _json_object(body), creating=True)
        async with self.write_lock:
            self._check_references(sobject, values)
            doc: Document = {spec.name: spec.default for spec in sobject.fields}
            doc.update(values)
            doc["Id"] = new_record_id(self.store, sobject.name, sobject.key_prefix)
            _stamp(sobject, doc, AUDIT_ON_INSERT)
            await sobject.behavior.before_insert(self.store, doc)
            await self.store.put(sobject.name, doc["Id"], doc)
            await sobject.behavior.after_write(self.store, doc, None)
        return doc

    async def update(self, sobject: SObjectType, record_id: str, body: Any) -> Document:
        """Apply a PATCH body to a record; returns the stored document."""
        if not sobject.updateable:
            raise SalesforceError(
                400, "INVALID_TYPE_FOR_OPERATION", f"entity type cannot be updated: {sobject.name}"
            )
        async with self.write_lock:
            current = self.get(sobject, record_id)
            values = coerce_write(sobject, _json_object(body), creating=False)
            self._check_references(sobject, values)
            doc = {**current, **values}
            _stamp(sobject, doc, AUDIT_ON_UPDATE)
            await sobject.behavior.before_update(self.store, current, doc, values)
            await self.store.put(sobject.name, record_id, doc)
            await sobject.behavior.after_write(self.store, doc, current)
        return doc

    def _check_references(self, sobject: SObjectType, values: Mapping[str, Any]) -> None:
        for name, value in values.items():
            spec = sobject.field(name)
            if spec is None or spec.reference_to is None or value is None:
                continue
            target = self.sobject(spec.reference_to)
            if self.store.get(target.name, value) is None:
                raise SalesforceError(
                    400,
                    "INVALID_CROSS_REFERENCE_KEY",
                    f"invalid cross reference id: {value}",
                    fields=[spec.name],
                )


def _stamp(sobject: SObjectType, doc: Document, fields: Sequence[str]) -> None:
    now = now_datetime()
    for name in fields:
        if sobject.field(name) is not None:
            doc[name] = now


def _json_object(body: Any) -> Mapping[str, Any]:
    if not isinstance(body, dict):
        raise SalesforceError(
            400, "JSON_PARSER_ERROR", "Cannot deserialize instance of SObject: expected an object"
        )
    return body


def batch_size_from(header: str | None) -> int:
    """The page size a ``Sforce-Query-Options: batchSize=N`` header asks for.

    Salesforce treats it as a hint within 200..2000; anything else gives the default.
    """
    for part in (header or "").split(","):
        key, _, value = part.partition("=")
        if key.strip().lower() == "batchsize" and value.strip().isdigit():
            return min(MAX_BATCH_SIZE, max(MIN_BATCH_SIZE, int(value.strip())))
    return DEFAULT_BATCH_SIZE
