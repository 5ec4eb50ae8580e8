"""Operations the full pipeline has already accepted: parsed, bounded, scope-checked and
validated for a caller with a viewer (``GatedValidation`` records them). The HTTP fast path
(``api/fast_path.py``) serves only these; anything else takes strawberry's path.

Remembered on the document's record in the ``DocumentCache`` (evicted with it), per operation
name the client sent and the caller's client-session scopes (None for an API key): everything
the checks before execution depend on except the variables, which the fast path checks per
request. One registry per schema (settings differ per schema).
"""

from __future__ import annotations

from dataclasses import dataclass

from graphql import DocumentNode, OperationDefinitionNode, OperationType

from api.cost import select_operation
from api.document_cache import DocumentMemo


@dataclass(frozen=True, slots=True)
class Accepted:
    document: DocumentNode
    operation: OperationDefinitionNode
    # The name strawberry's context would report: the one sent, else the operation's own.
    operation_name: str | None


_SERVED = frozenset({OperationType.QUERY, OperationType.MUTATION})
_ACCEPTED: DocumentMemo[Accepted | None] = DocumentMemo()


class AcceptedOperations:
    """Queries and mutations (subscriptions run over WebSocket only). A document the cache does
    not keep (too heavy, or evicted) is never served by the fast path. A mutation's own work
    (its idempotency claim, transaction and userErrors) is in its resolver, which both paths
    run alike; the fast path serves POST only, where the full path allows mutations too."""

    def record(
        self, document: DocumentNode, operation_name: str | None, scopes: frozenset[str] | None
    ) -> None:
        operation = select_operation(document, operation_name)
        if operation is None or operation.operation not in _SERVED:
            return
        name = operation_name
        if name is None and operation.name is not None:
            name = operation.name.value
        accepted = Accepted(document, operation, name)
        _ACCEPTED.put(document, (self, operation_name, scopes), accepted)

    def get(
        self, document: DocumentNode, operation_name: str | None, scopes: frozenset[str] | None
    ) -> Accepted | None:
        return _ACCEPTED.peek(document, (self, operation_name, scopes))
