"""Operations the full pipeline has already accepted: parsed, bounded, scope-checked and
validated for a caller with a viewer (``GatedValidation`` records them). The HTTP fast path
(``api/fast_path.py``) serves only these; anything else takes strawberry's path.

Keyed by the document object (the parse cache and the trusted documents hand out the same one
for the same text), the operation name the client sent and the caller's client-session scopes
(None for an API key): everything the checks before execution depend on except the variables,
which the fast path checks per request. One registry per schema (settings differ per schema).
"""

from __future__ import annotations

from dataclasses import dataclass

from graphql import DocumentNode, OperationDefinitionNode, OperationType

from api.cost import select_operation

Key = tuple[int, str | None, frozenset[str] | None]


@dataclass(frozen=True, slots=True)
class Accepted:
    document: DocumentNode
    operation: OperationDefinitionNode
    # The name strawberry's context would report: the one sent, else the operation's own.
    operation_name: str | None


class AcceptedOperations:
    """Bounded: cleared when full. Queries only (mutations keep the full path)."""

    def __init__(self, maxsize: int = 1024) -> None:
        self.maxsize = maxsize
        self._entries: dict[Key, Accepted] = {}

    def record(
        self, document: DocumentNode, operation_name: str | None, scopes: frozenset[str] | None
    ) -> None:
        operation = select_operation(document, operation_name)
        if operation is None or operation.operation is not OperationType.QUERY:
            return
        if len(self._entries) >= self.maxsize:
            self._entries.clear()
        name = operation_name
        if name is None and operation.name is not None:
            name = operation.name.value
        self._entries[(id(document), operation_name, scopes)] = Accepted(document, operation, name)

    def get(
        self, document: DocumentNode, operation_name: str | None, scopes: frozenset[str] | None
    ) -> Accepted | None:
        entry = self._entries.get((id(document), operation_name, scopes))
        return entry if entry is not None and entry.document is document else None

    def __len__(self) -> int:
        return len(self._entries)
