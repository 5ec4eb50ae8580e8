"""Trusted documents (SPEC §3.12): the operations a merchant's own frontend build produced,
loaded once at start from ``PAYOUTS_TRUSTED_DOCUMENTS`` (the ``persisted-documents.json`` of
GraphQL Code Generator's client preset: ``{"<sha256 hex>": "<document>"}``).

Each document is hashed, parsed, bounded, validated against the schema and costed at start; a
bad one stops the start naming its id. A request then names one by ``documentId`` (JSON body
or GET query string, folded into the operation's extensions by the HTTP view), by Apollo's
``extensions.persistedQuery.sha256Hash``, or (graphql-ws) by the same fields of a ``subscribe``
payload. The request skips parsing (the document parsed at start is used) and validation
(``GatedValidation`` trusts it). The mode decides who must name one: ``client_sessions``
(tokens; keys may still send any document), ``all``, or ``off``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    specified_rules,
)
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from api.cost import query_cost
from api.document_bounds import measure
from api.document_cache import parse_for_keeps, pin, placeholder_document
from api.document_gate import DocumentLimits

Mode = Literal["client_sessions", "all", "off"]
MODES: tuple[Mode, ...] = ("client_sessions", "all", "off")
DOCUMENT_ID_KEY = "documentId"

_HEX_ID = re.compile(r"^(?:sha256:)?([0-9a-f]{64})$")

# graphql-ws: strawberry passes no extensions for a ``subscribe`` message, so the WebSocket
# handler sets the payload's document reference here just before it starts the operation's
# task (which copies the context); ``TrustedDocumentGate`` reads it there.
SUBSCRIBE_REFERENCE: ContextVar[Mapping[str, Any] | None] = ContextVar(
    "payouts_subscribe_reference", default=None
)


MALFORMED = object()  # a reference that is not a string: refused as bad input


class ManifestError(ValueError):
    """The trusted documents file cannot be used; the server must not start."""


@dataclass(frozen=True, slots=True)
class TrustedDocument:
    id: str
    text: str
    document: DocumentNode
    cost: int


class TrustedDocuments:
    """The loaded manifest and the mode; empty (and ``off``) without a file."""

    def __init__(self, mode: Mode = "off") -> None:
        self.mode: Mode = mode
        self.by_id: dict[str, TrustedDocument] = {}
        self.by_text: dict[str, TrustedDocument] = {}
        self._documents: set[int] = set()

    def __len__(self) -> int:
        return len(self.by_id)

    def find(self, reference: str) -> TrustedDocument | None:
        match = _HEX_ID.match(reference)
        return None if match is None else self.by_id.get(match.group(1))

    def is_trusted(self, document: DocumentNode) -> bool:
        return id(document) in self._documents

    def requires_id(self, viewer: object) -> bool:
        if self.mode == "all":
            return True
        return self.mode == "client_sessions" and getattr(viewer, "scopes", None) is not None

    def add(self, trusted: TrustedDocument) -> None:
        self.by_id[trusted.id] = trusted
        self.by_text[trusted.text] = trusted
        self._documents.add(id(trusted.document))  # the registry keeps the document alive

    def load(
        self,
        manifest: Mapping[str, object],
        *,
        schema: GraphQLSchema,
        limits: DocumentLimits,
        max_cost: int,
        default_page_size: int,
    ) -> None:
        for key, text in manifest.items():
            self.add(
                check_document(
                    key,
                    text,
                    schema=schema,
                    limits=limits,
                    max_cost=max_cost,
                    default_page_size=default_page_size,
                )
            )


def read_manifest(path: str | Path) -> dict[str, object]:
    try:
        raw = Path(path).read_bytes()
    except OSError as error:
        raise ManifestError(f"trusted documents file {path}: {error.strerror or error}") from None
    try:
        manifest = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ManifestError(f"trusted documents file {path} is not JSON: {error}") from None
    if not isinstance(manifest, dict):
        raise ManifestError(f"trusted documents file {path} must hold an object of id -> document")
    return manifest


def check_document(
    key: str,
    text: object,
    *,
    schema: GraphQLSchema,
    limits: DocumentLimits,
    max_cost: int,
    default_page_size: int,
) -> TrustedDocument:
    shown = key[:80]
    match = _HEX_ID.match(key)
    if match is None:
        raise ManifestError(
            f"trusted document {shown!r}: an id must be the SHA-256 hex of its document "
            "(64 lower-case hex digits, optionally prefixed sha256:)"
        )
    if not isinstance(text, str):
        raise ManifestError(f"trusted document {shown}: the document must be a string")
    digest = hashlib.sha256(text.encode()).hexdigest()
    if digest != match.group(1):
        raise ManifestError(f"trusted document {shown}: the id is not the document's SHA-256")
    try:
        document = pin(parse_for_keeps(text))
    except GraphQLError as error:
        raise ManifestError(f"trusted document {shown}: {error.message}") from None
    bounds_error = limits.error(measure(document), None)
    if bounds_error is not None:
        raise ManifestError(f"trusted document {shown}: {bounds_error.message}")
    errors = validate_document(schema, document, tuple(specified_rules))
    if errors:
        raise ManifestError(f"trusted document {shown}: {errors[0].message}")
    operations = [
        d.name.value if d.name else None
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
    ]
    cost = max(
        query_cost(schema, document, operation_name=name, default_page_size=default_page_size)
        for name in operations
    )
    if cost > max_cost:
        raise ManifestError(
            f"trusted document {shown}: its cost {cost} exceeds the maximum of {max_cost}"
        )
    return TrustedDocument(match.group(1), text, document, cost)


def requested_reference(extensions: Mapping[str, Any] | None) -> object:
    """The document id a request names: ``documentId`` or Apollo's persisted query hash.
    ``None`` when it names none; anything else that is not a string is refused later."""
    if not extensions:
        return None
    if DOCUMENT_ID_KEY in extensions and extensions[DOCUMENT_ID_KEY] is not None:
        return extensions[DOCUMENT_ID_KEY]
    persisted = extensions.get("persistedQuery")
    if isinstance(persisted, Mapping):
        return persisted.get("sha256Hash")
    if persisted is not None:
        return MALFORMED
    return None


def fold_document_id(data: object) -> object:
    """Moves a request body's (or query string's) top-level ``documentId`` into its
    ``extensions``, where the schema's ``TrustedDocumentGate`` reads it."""
    if not isinstance(data, dict) or data.get(DOCUMENT_ID_KEY) is None:
        return data
    extensions = data.get("extensions")
    if extensions is None:
        extensions = {}
    if isinstance(extensions, dict):
        data = {**data, "extensions": {**extensions, DOCUMENT_ID_KEY: data[DOCUMENT_ID_KEY]}}
    return data


def _error(message: str, code: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code})


class TrustedDocumentGate(SchemaExtension):
    """Swaps a named document in (parsed at start) or refuses the request before parsing."""

    def __init__(self, documents: TrustedDocuments) -> None:
        self.documents = documents

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        reference = requested_reference(context.operation_extensions)
        if reference is None:
            reference = requested_reference(SUBSCRIBE_REFERENCE.get())
        refusal = self._resolve(context, reference)
        if refusal is not None:
            context.graphql_document = placeholder_document(context.operation_name)
            context.pre_execution_errors = [refusal]
        yield

    def _resolve(self, context: Any, reference: object) -> GraphQLError | None:
        viewer = getattr(context.context, "viewer", None)
        refusal, query, document = resolve_document(
            self.documents, viewer, context.query, reference
        )
        if refusal is None:
            context.query = query
            if document is not None:
                context.graphql_document = document
        return refusal


def resolve_document(
    documents: TrustedDocuments, viewer: object, query: str | None, reference: object
) -> tuple[GraphQLError | None, str | None, DocumentNode | None]:
    """(refusal, query, trusted document) for a request naming ``reference`` (or none) and
    sending ``query``; the document is None when the query text is not a trusted one."""
    if reference is None:
        if documents.requires_id(viewer):
            return (
                _error(
                    "This client must name a trusted document (documentId) instead of "
                    "sending a query.",
                    "PERSISTED_QUERY_ID_REQUIRED",
                ),
                query,
                None,
            )
        trusted = documents.by_text.get(query) if query else None
        return None, query, None if trusted is None else trusted.document
    if not isinstance(reference, str):
        return (
            _error(
                "Name a trusted document with a string: documentId or "
                "extensions.persistedQuery.sha256Hash.",
                "BAD_USER_INPUT",
            ),
            query,
            None,
        )
    trusted = documents.find(reference)
    if trusted is None:
        return _error("PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND"), query, None
    if query and query != trusted.text:
        return (
            _error(
                "The query sent does not match the trusted document it names.", "BAD_USER_INPUT"
            ),
            query,
            None,
        )
    return None, trusted.text, trusted.document
