"""Which documents ``/graphql`` runs: trusted (persisted) documents and introspection.

**Trusted documents** (``REVGRAPH_API_TRUSTED_DOCUMENTS_DIR``): a directory of
``.graphql`` files (searched recursively), each one operation document known by
its id, ``sha256:<hex>`` of the file's exact UTF-8 text (``revgraph documents
hash DIR`` prints them). They are read and validated against the schema when
the gateway starts; a file that does not parse or validate is a
:class:`~api.lifespan.StartupError` naming it. While they are enabled a request
names its document by id, either way:

- ``{"documentId": "sha256:<hex>", "variables": ...}`` (GraphQL-over-HTTP
  persisted documents; over GET, the ``documentId`` parameter);
- ``{"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "<hex>"}}}``
  (Apollo's automatic persisted queries, without the registration step: only
  the directory's documents exist).

Anything else is refused before it is parsed: an unknown id is
``PERSISTED_QUERY_NOT_FOUND``, a raw ``query`` that is not a trusted document
``PERSISTED_QUERY_REQUIRED``. A raw ``query`` whose text is exactly a trusted
document (same hash) is accepted: it is the same document, and clients that
retry with the full text after a miss keep working. A ``query`` sent with an id
must hash to that id (400 otherwise). Without trusted documents, a request that
names an id but has no ``query`` is ``PERSISTED_QUERY_NOT_SUPPORTED``.

**Introspection** (``REVGRAPH_API_INTROSPECTION``): when off, an operation
selecting ``__schema`` or ``__type`` anywhere (fragments included) is refused
with ``INTROSPECTION_DISABLED``; ``__typename`` stays allowed.

All these refusals are request errors (no ``data``, nothing executed) and
follow the view's rule for them: 200 under ``application/json``, 400 under
``application/graphql-response+json``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cross_web import HTTPException
from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    SelectionSetNode,
    parse,
    validate,
)
from starlette.responses import Response

from api.negotiation import GRAPHQL_RESPONSE, JSON, RequestRejected, negotiate

ID_PREFIX = "sha256:"
SUFFIX = ".graphql"
_INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})
# A cheap filter before any parse: \b keeps ``__typename`` out.
_MENTIONS_INTROSPECTION = re.compile(r"__(?:schema|type)\b")


class DocumentError(ValueError):
    """A trusted-documents directory that cannot be used; the message names the file."""


class DocumentRefused(HTTPException):
    """A request refused for the document it asks for, before anything ran.

    Answered as a GraphQL request error (see the module docstring), not as a
    plain HTTP error: ``code`` is its ``extensions.code``.
    """

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(400, reason)
        self.code = code


def document_id(text: str) -> str:
    """A document's id: ``sha256:`` and the hex SHA-256 of its UTF-8 text."""
    return ID_PREFIX + hashlib.sha256(text.encode("utf-8")).hexdigest()


def document_files(directory: Path) -> list[Path]:
    """The ``.graphql`` files under ``directory``, in a stable order."""
    if not directory.is_dir():
        raise DocumentError(f"{directory} is not a directory")
    return sorted(p for p in directory.rglob(f"*{SUFFIX}") if p.is_file())


@dataclass(frozen=True)
class TrustedDocuments:
    """The documents a gateway runs, by id (see the module docstring)."""

    directory: Path
    by_id: Mapping[str, str]

    @classmethod
    def load(cls, directory: Path, schema: GraphQLSchema) -> TrustedDocuments:
        """Read and validate every ``.graphql`` file; :class:`DocumentError` names a bad one."""
        files = document_files(directory)
        if not files:
            raise DocumentError(f"{directory} holds no {SUFFIX} files")
        by_id: dict[str, str] = {}
        for path in files:
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise DocumentError(f"{path}: cannot be read as UTF-8 ({exc})") from exc
            try:
                document = parse(text)
            except GraphQLError as exc:
                raise DocumentError(f"{path}: does not parse: {exc.message}") from exc
            errors = validate(schema, document)
            if errors:
                messages = "; ".join(error.message for error in errors[:3])
                raise DocumentError(f"{path}: does not validate against the schema: {messages}")
            by_id[document_id(text)] = text
        return cls(directory, by_id)

    def __len__(self) -> int:
        return len(self.by_id)

    def get(self, identifier: str) -> str | None:
        return self.by_id.get(identifier)


def requested_id(data: Mapping[str, object]) -> str | None:
    """The document id a request names (``documentId`` or Apollo's ``persistedQuery``)."""
    ids: list[str] = []
    named = data.get("documentId")
    if named is not None:
        if not isinstance(named, str):
            raise RequestRejected(400, "`documentId` must be a string.")
        ids.append(named.strip().lower())
    extensions = data.get("extensions")
    persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
    if persisted is not None:
        digest = persisted.get("sha256Hash") if isinstance(persisted, dict) else None
        if not isinstance(digest, str):
            raise RequestRejected(400, "`extensions.persistedQuery.sha256Hash` must be a string.")
        ids.append(ID_PREFIX + digest.strip().lower())
    if len(set(ids)) > 1:
        raise RequestRejected(400, "`documentId` and `persistedQuery` name different documents.")
    return ids[0] if ids else None


def resolve_query(data: Mapping[str, object], documents: TrustedDocuments | None) -> str | None:
    """The text to run for a request object, or :class:`DocumentRefused`.

    ``data`` is the request object (POST body or GET parameters), already
    checked by :func:`api.negotiation.request_data`.
    """
    query = data.get("query")
    text = query if isinstance(query, str) and query else None
    identifier = requested_id(data)
    if documents is None:
        if identifier is not None and text is None:
            raise DocumentRefused(
                "PERSISTED_QUERY_NOT_SUPPORTED",
                "This gateway has no trusted documents: send the document as `query`.",
            )
        return text
    if identifier is not None:
        trusted = documents.get(identifier)
        if trusted is None:
            raise DocumentRefused(
                "PERSISTED_QUERY_NOT_FOUND", f"No trusted document has the id {identifier}."
            )
        if text is not None and document_id(text) != identifier:
            raise RequestRejected(400, "`query` is not the document its id names.")
        return trusted
    if text is None:
        return None  # no query at all: the view's usual 400
    if documents.get(document_id(text)) is None:
        raise DocumentRefused(
            "PERSISTED_QUERY_REQUIRED",
            "This gateway runs trusted documents only: send `documentId` "
            f"({ID_PREFIX}<hex>) of one of them.",
        )
    return text


def check_introspection(query: str, max_chars: int, max_tokens: int) -> None:
    """:class:`DocumentRefused` (``INTROSPECTION_DISABLED``) if ``query`` selects
    ``__schema`` or ``__type``; a document that does not parse, or is over the
    limits, is left for the schema to refuse."""
    if len(query) > max_chars or not _MENTIONS_INTROSPECTION.search(query):
        return
    try:
        document = parse(query, no_location=True, max_tokens=max_tokens)
    except (GraphQLError, RecursionError):
        return
    if selects_introspection(document):
        raise DocumentRefused(
            "INTROSPECTION_DISABLED",
            "Introspection (__schema, __type) is disabled on this gateway.",
        )


def selects_introspection(document: DocumentNode) -> bool:
    """Whether any selection set of ``document`` has a ``__schema`` or ``__type`` field."""
    pending: list[SelectionSetNode] = [
        selections
        for definition in document.definitions
        if (selections := getattr(definition, "selection_set", None)) is not None
    ]
    while pending:  # iterative: deep documents must not hit the recursion limit
        for selection in pending.pop().selections:
            if isinstance(selection, FieldNode) and selection.name.value in _INTROSPECTION_FIELDS:
                return True
            inner = getattr(selection, "selection_set", None)
            if inner is not None:
                pending.append(inner)
    return False


def refusal_response(exc: DocumentRefused, accept: str | None) -> Response:
    """A refusal as a GraphQL request error: 200 as ``application/json``, 400 as
    ``application/graphql-response+json`` (the view's rule for request errors)."""
    media_type = negotiate(accept) or JSON
    body = {"errors": [{"message": exc.reason, "extensions": {"code": exc.code}}]}
    return Response(
        json.dumps(body, separators=(",", ":")),
        status_code=400 if media_type == GRAPHQL_RESPONSE else 200,
        media_type=f"{media_type}; charset=utf-8",
    )
