"""One simulated Salesforce org: its objects, records, query cursors and writes.

The HTTP layer (:mod:`simulators.salesforce.routes`) and org-specific endpoints
(the contracts amendment) call into :class:`SalesforceOrg`; it validates writes
like Salesforce, runs the objects' behaviour hooks, serialises writes under one
lock (hooks read-modify-write several records), and pages query results.

Deleting a record deletes the records whose *required* reference points at it
(master-detail: a contract's lines) and clears optional references to it
(lookups: a child account's ``ParentId``), without running their hooks, as
Salesforce's cascade does. Deleted records are gone: ``queryAll`` answers like
``query`` (the simulator keeps no recycle bin).

With :class:`~simulators.record_events.RecordEvents`, every record the API
creates, updates or deletes is announced as a signed webhook
(``Account.updated`` ...) once its write succeeded: writes run inside
:meth:`SalesforceOrg.writing`, which sends the changes made under it when it
ends without an error (an allOrNone rollback sends none). Records changed only
by hooks or cascades are not announced, as they run no triggers either.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from simulators.record_events import Action, RecordEvents
from simulators.salesforce.cursors import QueryCursors
from simulators.salesforce.errors import (
    MultipleChoices,
    SalesforceError,
    invalid_field,
    malformed_query,
    not_found,
)
from simulators.salesforce.executor import compile_query, execute
from simulators.salesforce.ids import is_salesforce_id, new_record_id
from simulators.salesforce.schema import FieldSpec, SObjectType, coerce_write
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
MAX_COLLECTION_RECORDS = 200
ROLLED_BACK = {
    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "message": "Record rolled back because not all records were valid and the request was "
    "using AllOrNone header",
    "fields": [],
}


class SalesforceOrg:
    """The records of one org and the operations its REST API exposes."""

    def __init__(
        self,
        store: DocumentStore,
        sobjects: Sequence[SObjectType],
        *,
        events: RecordEvents | None = None,
    ) -> None:
        self.store = store
        self.events = events
        self.sobjects: dict[str, SObjectType] = {s.name.lower(): s for s in sobjects}
        self.cursors = QueryCursors()
        # Hooks read and write several records across awaits (the store writes to
        # SQL): one lock keeps each write and its hooks atomic for other requests.
        self.write_lock = asyncio.Lock()
        self._changes: list[tuple[SObjectType, Action, Document]] = []

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
        relationships: dict[str, list[str]] = {}
        for name in fields if fields is not None else sobject.field_names:
            head, dot, tail = name.partition(".")
            if not dot:
                out[name] = doc.get(name)
                continue
            if head not in relationships:
                out[head] = None  # keeps the relationship where its first field was selected
                relationships[head] = []
            relationships[head].append(tail)
        for head, rest in relationships.items():
            ref = sobject.relationship(head)
            assert ref is not None and ref.reference_to is not None, head
            target = self.sobject(ref.reference_to)
            parent_id = doc.get(ref.name)
            parent = self.store.get(target.name, parent_id) if isinstance(parent_id, str) else None
            out[head] = None if parent is None else self.render(target, parent, rest)
        return out

    def get(self, sobject: SObjectType, record_id: str) -> Document:
        doc = self.store.get(sobject.name, record_id)
        if doc is None:
            raise not_found()
        return doc

    def external_id_field(self, sobject: SObjectType, name: str) -> FieldSpec:
        """The field a ``/sobjects/{Object}/{field}/{value}`` URL names (``Id`` or an
        external id field); NOT_FOUND otherwise, as Salesforce answers."""
        spec = sobject.field(name)
        if spec is None or not (spec.external_id or spec.name == "Id"):
            raise SalesforceError(
                404,
                "NOT_FOUND",
                f"Provided external ID field does not exist or is not accessible: {name}",
            )
        return spec

    def find_by(self, sobject: SObjectType, spec: FieldSpec, value: str) -> list[Document]:
        if spec.name == "Id":
            doc = self.store.get(sobject.name, value)
            return [doc] if doc is not None else []
        return self.store.find(sobject.name, spec.name, value)

    def multiple_choices(self, sobject: SObjectType, docs: Sequence[Document]) -> SalesforceError:
        return MultipleChoices([sobject.record_url(d["Id"], API_PREFIX) for d in docs])

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

    @contextlib.asynccontextmanager
    async def writing(self) -> AsyncIterator[None]:
        """The write lock; the changes recorded under it (:meth:`changed`) are announced
        when the block ends without an error."""
        async with self.write_lock:
            self._changes.clear()
            yield
            changes, self._changes = self._changes, []
            # Still under the lock: events leave in the order the writes happened.
            if self.events is not None:
                for sobject, action, doc in changes:
                    self.events.emit(sobject.name, action, doc["Id"], self.render(sobject, doc))

    def changed(self, sobject: SObjectType, action: Action, doc: Document) -> None:
        """Announce ``doc``'s change when the current :meth:`writing` block succeeds."""
        if self.events is not None:
            self._changes.append((sobject, action, doc))

    async def insert(self, sobject: SObjectType, body: Any) -> Document:
        """Create a record from a REST body; returns the stored document."""
        if not sobject.createable:
            raise SalesforceError(
                400, "INVALID_TYPE_FOR_OPERATION", f"entity type cannot be inserted: {sobject.name}"
            )
        values = coerce_write(sobject, _json_object(body), creating=True)
        async with self.writing():
            return await self._insert(sobject, values)

    async def _insert(self, sobject: SObjectType, values: Document) -> Document:
        self._check_references(sobject, values)
        self._check_unique(sobject, values, None)
        doc: Document = {spec.name: spec.default for spec in sobject.fields}
        doc.update(values)
        doc["Id"] = new_record_id(self.store, sobject.name, sobject.key_prefix)
        _stamp(sobject, doc, AUDIT_ON_INSERT)
        await sobject.behavior.before_insert(self.store, doc)
        await self.store.put(sobject.name, doc["Id"], doc)
        await sobject.behavior.after_write(self.store, doc, None)
        self.changed(sobject, "created", doc)
        return doc

    async def update(self, sobject: SObjectType, record_id: str, body: Any) -> Document:
        """Apply a PATCH body to a record; returns the stored document."""
        if not sobject.updateable:
            raise SalesforceError(
                400, "INVALID_TYPE_FOR_OPERATION", f"entity type cannot be updated: {sobject.name}"
            )
        async with self.writing():
            current = self.get(sobject, record_id)
            values = coerce_write(sobject, _json_object(body), creating=False)
            return await self._update(sobject, current, values)

    async def _update(self, sobject: SObjectType, current: Document, values: Document) -> Document:
        self._check_references(sobject, values)
        self._check_unique(sobject, values, current["Id"])
        doc = {**current, **values}
        _stamp(sobject, doc, AUDIT_ON_UPDATE)
        await sobject.behavior.before_update(self.store, current, doc, values)
        await self.store.put(sobject.name, current["Id"], doc)
        await sobject.behavior.after_write(self.store, doc, current)
        self.changed(sobject, "updated", doc)
        return doc

    async def upsert(
        self, sobject: SObjectType, field_name: str, value: str, body: Any
    ) -> tuple[Document, bool]:
        """Update the record whose ``field_name`` is ``value``, or create it; (doc, created)."""
        spec = self.external_id_field(sobject, field_name)
        fields = dict(_json_object(body))
        given = next((k for k in fields if k.lower() == spec.name.lower()), None)
        if given is not None and fields.pop(given) not in (None, value):
            raise invalid_field(
                f"The value of {spec.name} in the request body must match the URL",
                fields=[spec.name],
            )
        async with self.writing():
            matches = self.find_by(sobject, spec, value)
            if len(matches) > 1:
                raise self.multiple_choices(sobject, matches)
            if matches:
                if not sobject.updateable:
                    raise _not_allowed(sobject, "updated")
                values = coerce_write(sobject, fields, creating=False)
                return await self._update(sobject, matches[0], values), False
            if spec.name == "Id":
                raise not_found()
            if not sobject.createable:
                raise _not_allowed(sobject, "inserted")
            values = coerce_write(sobject, {**fields, spec.name: value}, creating=True)
            return await self._insert(sobject, values), True

    async def delete(self, sobject: SObjectType, record_id: str) -> None:
        """Delete a record (NOT_FOUND if there is none)."""
        if not sobject.deletable:
            raise _not_allowed(sobject, "deleted")
        async with self.writing():
            await self._delete(sobject, self.get(sobject, record_id))

    async def _delete(self, sobject: SObjectType, doc: Document) -> None:
        if not sobject.deletable:
            raise _not_allowed(sobject, "deleted")
        await sobject.behavior.before_delete(self.store, doc)
        await self.store.delete(sobject.name, doc["Id"])
        await self._cascade(sobject, doc["Id"])
        await sobject.behavior.after_delete(self.store, doc)
        self.changed(sobject, "deleted", doc)

    async def _cascade(self, sobject: SObjectType, record_id: str) -> None:
        for child in self.sobjects.values():
            for spec in child.fields:
                if spec.reference_to is None or spec.reference_to.lower() != sobject.name.lower():
                    continue
                for doc in list(self.store.find(child.name, spec.name, record_id)):
                    if spec.required:
                        await self.store.delete(child.name, doc["Id"])
                        await self._cascade(child, doc["Id"])
                    else:
                        cleared = {**doc, spec.name: None}
                        _stamp(child, cleared, AUDIT_ON_UPDATE)
                        await self.store.put(child.name, doc["Id"], cleared)

    # -- sObject Collections -----------------------------------------------------

    async def save_collection(self, body: Any, *, creating: bool) -> list[dict[str, Any]]:
        """``POST`` (create) or ``PATCH`` (update) ``/composite/sobjects``: one result
        per record, in order; with ``allOrNone`` a failure rolls every record back."""
        payload = _json_object(body)
        records = payload.get("records")
        all_or_none = payload.get("allOrNone", False)
        if not isinstance(records, list) or not isinstance(all_or_none, bool):
            raise SalesforceError(
                400, "JSON_PARSER_ERROR", "Expected {'allOrNone': boolean, 'records': [...]}"
            )
        check_collection_size(len(records))
        results: list[dict[str, Any]] = []
        undo: list[tuple[SObjectType, str, Document | None]] = []
        async with self.writing():
            for record in records:
                record_id = record.get("Id") if isinstance(record, dict) else None
                try:
                    sobject, values = self._collection_values(record, creating=creating)
                    if creating:
                        doc = await self._insert(sobject, values)
                        undo.append((sobject, doc["Id"], None))
                    else:
                        current = self.get(sobject, str(record_id))
                        doc = await self._update(sobject, current, values)
                        undo.append((sobject, doc["Id"], current))
                    results.append({"id": doc["Id"], "success": True, "errors": []})
                except SalesforceError as exc:
                    failed: dict[str, Any] = {"success": False, "errors": [_error_item(exc)]}
                    if isinstance(record_id, str) and not creating:
                        failed = {"id": record_id, **failed}
                    results.append(failed)
                    if all_or_none:
                        break
            if all_or_none and len(undo) < len(records):
                self._changes.clear()  # nothing happened: nothing to announce
                for sobject, record_id, previous in reversed(undo):
                    if previous is None:
                        await self.store.delete(sobject.name, record_id)
                    else:
                        await self.store.put(sobject.name, record_id, previous)
                results = [
                    result
                    if not result["success"]
                    else {
                        **({} if creating else {"id": result["id"]}),
                        "success": False,
                        "errors": [dict(ROLLED_BACK)],
                    }
                    for result in results
                ]
                results += [
                    {"success": False, "errors": [dict(ROLLED_BACK)]}
                    for _ in records[len(results) :]
                ]
        return results

    def _collection_values(self, record: Any, *, creating: bool) -> tuple[SObjectType, Document]:
        if not isinstance(record, dict):
            raise SalesforceError(400, "JSON_PARSER_ERROR", "Each record must be an object")
        attributes = record.get("attributes")
        type_name = attributes.get("type") if isinstance(attributes, dict) else None
        if not isinstance(type_name, str):
            raise SalesforceError(400, "INVALID_TYPE", "Must send a concrete entity type.")
        sobject = self.sobjects.get(type_name.lower())
        if sobject is None:
            raise SalesforceError(
                400, "INVALID_TYPE", f"sObject type '{type_name}' is not supported."
            )
        fields = {k: v for k, v in record.items() if k not in ("attributes", "Id")}
        if creating:
            if not sobject.createable:
                raise _not_allowed(sobject, "inserted")
            if record.get("Id") is not None:
                raise invalid_field("cannot specify Id in an insert call", fields=["Id"])
        else:
            if not sobject.updateable:
                raise _not_allowed(sobject, "updated")
            record_id = record.get("Id")
            if not isinstance(record_id, str) or not is_salesforce_id(record_id):
                raise SalesforceError(
                    400, "MALFORMED_ID", f"Id in record: {record_id}", fields=["Id"]
                )
        return sobject, coerce_write(sobject, fields, creating=creating)

    async def delete_collection(
        self, ids: Sequence[str], *, all_or_none: bool
    ) -> list[dict[str, Any]]:
        """``DELETE /composite/sobjects?ids=...``: one result per id, in order."""
        check_collection_size(len(ids))
        results: list[dict[str, Any]] = []
        async with self.writing():
            targets: list[tuple[SObjectType, Document] | SalesforceError] = [
                self._find_any(record_id) for record_id in ids
            ]
            if all_or_none and any(isinstance(t, SalesforceError) for t in targets):
                return [
                    {
                        "id": record_id,
                        "success": False,
                        "errors": [
                            _error_item(t) if isinstance(t, SalesforceError) else dict(ROLLED_BACK)
                        ],
                    }
                    for record_id, t in zip(ids, targets, strict=True)
                ]
            for record_id, target in zip(ids, targets, strict=True):
                try:
                    if isinstance(target, SalesforceError):
                        raise target
                    await self._delete(*target)
                    results.append({"id": record_id, "success": True, "errors": []})
                except SalesforceError as exc:
                    failed = {"id": record_id, "success": False, "errors": [_error_item(exc)]}
                    results.append(failed)
        return results

    def _find_any(self, record_id: str) -> tuple[SObjectType, Document] | SalesforceError:
        for sobject in self.sobjects.values():
            if record_id[:3] == sobject.key_prefix:
                doc = self.store.get(sobject.name, record_id)
                if doc is not None:
                    return sobject, doc
        if not is_salesforce_id(record_id):
            return SalesforceError(400, "MALFORMED_ID", f"malformed id {record_id}")
        # Salesforce answers this for ids it no longer has (they went to the recycle bin).
        return SalesforceError(404, "ENTITY_IS_DELETED", "entity is deleted")

    def _check_unique(
        self, sobject: SObjectType, values: Mapping[str, Any], record_id: str | None
    ) -> None:
        for spec in sobject.external_id_fields:
            value = values.get(spec.name)
            if value is None:
                continue
            others = self.store.find(sobject.name, spec.name, value)
            other = next((d for d in others if d["Id"] != record_id), None)
            if other is not None:
                raise SalesforceError(
                    400,
                    "DUPLICATE_VALUE",
                    f"duplicate value found: {spec.name} duplicates value on record with id: "
                    f"{other['Id']}",
                    fields=[spec.name],
                )

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


def check_collection_size(count: int) -> None:
    """EXCEEDED_ID_LIMIT past the 200 records an sObject Collections call takes."""
    if count > MAX_COLLECTION_RECORDS:
        raise SalesforceError(
            400,
            "EXCEEDED_ID_LIMIT",
            f"record limit reached. cannot submit more than {MAX_COLLECTION_RECORDS} records "
            "into this call",
        )


def _not_allowed(sobject: SObjectType, action: str) -> SalesforceError:
    return SalesforceError(
        400, "INVALID_TYPE_FOR_OPERATION", f"entity type cannot be {action}: {sobject.name}"
    )


def _error_item(exc: SalesforceError) -> dict[str, Any]:
    """A per-record error in a collection answer (``statusCode``, not ``errorCode``)."""
    return {"statusCode": exc.error_code, "message": exc.message, "fields": exc.fields}


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
