"""The gate that refuses (``FORBIDDEN``) an operation selecting a root field outside the
caller's client-session scopes, whole and before anything runs (SPEC §3.12). The rules are the
table in ``resolvers/scopes.py``, next to the schema's root types."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationType,
    SelectionSetNode,
)
from strawberry.extensions import SchemaExtension

from api.cost import select_operation
from api.document_cache import DocumentMemo
from resolvers.scopes import ROOT_FIELD_SCOPES, allows

_ROOT_TYPE = {
    OperationType.QUERY: "Query",
    OperationType.MUTATION: "Mutation",
    OperationType.SUBSCRIPTION: "Subscription",
}


def root_fields(document: DocumentNode, operation_name: str | None) -> tuple[str, set[str]] | None:
    """(root type name, root field names) of the operation that will run; None when no single
    operation is selected (execution refuses those itself)."""
    operation = select_operation(document, operation_name)
    if operation is None:
        return None
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    names: set[str] = set()
    _collect(operation.selection_set, fragments, names, set())
    return _ROOT_TYPE[operation.operation], names


def _collect(
    selection_set: SelectionSetNode | None,
    fragments: Mapping[str, FragmentDefinitionNode],
    names: set[str],
    visited: set[str],
) -> None:
    if selection_set is None:
        return
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            names.add(selection.name.value)
        elif isinstance(selection, InlineFragmentNode):
            _collect(selection.selection_set, fragments, names, visited)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in visited or name not in fragments:
                continue  # a cycle or an unknown fragment: validation reports it
            visited.add(name)
            _collect(fragments[name].selection_set, fragments, names, visited)


def forbidden_fields(
    document: DocumentNode, operation_name: str | None, scopes: frozenset[str]
) -> list[str]:
    found = root_fields(document, operation_name)
    if found is None:
        return []
    type_name, names = found
    rules = ROOT_FIELD_SCOPES[type_name]
    # A name missing from the table is not a field of the schema (a test keeps the table
    # complete): validation answers it with BAD_USER_INPUT.
    return sorted(name for name in names if name in rules and not allows(rules[name], scopes))


def forbidden(fields: list[str], scopes: frozenset[str]) -> GraphQLError:
    granted = ", ".join(sorted(scopes)) or "none"
    return GraphQLError(
        f"This client session may not use {', '.join(fields)} (its scopes: {granted}). "
        "Nothing was run.",
        extensions={"code": "FORBIDDEN"},
    )


_FORBIDDEN: DocumentMemo[list[str]] = DocumentMemo()


def viewer_scopes(context: Any) -> frozenset[str] | None:
    viewer = getattr(context, "viewer", None)
    return getattr(viewer, "scopes", None)


class ScopeGate(SchemaExtension):
    """Refuses (``FORBIDDEN``) an operation selecting a root field outside the caller's
    client-session scopes, before validation and execution, over HTTP and WebSocket alike."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        scopes = viewer_scopes(context.context)
        if context.pre_execution_errors is None and document is not None and scopes is not None:
            key = (context.operation_name, scopes)
            fields = _FORBIDDEN.get(
                document, key, lambda: forbidden_fields(document, context.operation_name, scopes)
            )
            if fields:
                context.pre_execution_errors = [forbidden(fields, scopes)]
        yield


__all__ = ["ScopeGate", "forbidden_fields", "root_fields"]
