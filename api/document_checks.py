"""Checks that run before validation, so that no validation rule (ours or strawberry's limit
rules, which index fragments by name) ever sees a document they would crash on, and so that an
ambiguous document is refused instead of running its first operation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    OperationDefinitionNode,
    Visitor,
    visit,
)
from strawberry.extensions import SchemaExtension, ValidationCache

from api.extensions import DocumentMemo


class DocumentPrecheck(SchemaExtension):
    """Refuses, as BAD_USER_INPUT validation errors: spreads of fragments that are not defined,
    and several operations without an ``operationName`` (the spec requires an error; strawberry
    ran the first one, even a mutation)."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and not context.pre_execution_errors:
            errors = _UNKNOWN_FRAGMENTS.get(document, None, lambda: _unknown_fragments(document))
            # The name the client sent (``operation_name`` falls back to the first operation's).
            if not errors and context._provided_operation_name is None:
                errors = _ambiguous_operation(document)
            if errors:
                context.pre_execution_errors = list(errors)
        yield


class PrecheckedValidationCache(ValidationCache):
    """strawberry's validation cache, skipped when a precheck already refused the document."""

    def on_validate(self) -> Iterator[None]:
        if self.execution_context.pre_execution_errors:
            yield
            return
        yield from super().on_validate()


_UNKNOWN_FRAGMENTS: DocumentMemo[tuple[GraphQLError, ...]] = DocumentMemo()


class _SpreadCollector(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.spreads: list[FragmentSpreadNode] = []

    def enter_fragment_spread(self, node: FragmentSpreadNode, *_: Any) -> None:
        self.spreads.append(node)


def _unknown_fragments(document: DocumentNode) -> tuple[GraphQLError, ...]:
    defined = {
        definition.name.value
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    collector = _SpreadCollector()
    visit(document, collector)
    return tuple(
        GraphQLError(
            f"Unknown fragment '{spread.name.value}'.",
            spread,
            extensions={"code": "BAD_USER_INPUT"},
        )
        for spread in collector.spreads
        if spread.name.value not in defined
    )


def _ambiguous_operation(document: DocumentNode) -> tuple[GraphQLError, ...]:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) <= 1:
        return ()
    return (
        GraphQLError(
            "Must provide operationName when the document contains several operations.",
            extensions={"code": "BAD_USER_INPUT"},
        ),
    )
