"""A check before validation: a document with several operations and no ``operationName`` is
refused (the GraphQL spec requires an error; strawberry ran the first operation, even a
mutation)."""

from __future__ import annotations

from collections.abc import Iterator

from graphql import GraphQLError, OperationDefinitionNode
from strawberry.extensions import SchemaExtension

AMBIGUOUS_OPERATION = "Must provide operationName when the document contains several operations."


class DocumentPrecheck(SchemaExtension):
    """Placed before ``GatedValidation``, which skips a document already refused."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        # The name the client sent (``operation_name`` falls back to the first operation's).
        if (
            context.pre_execution_errors is None
            and document is not None
            and context._provided_operation_name is None
        ):
            operations = sum(isinstance(d, OperationDefinitionNode) for d in document.definitions)
            if operations > 1:
                error = GraphQLError(AMBIGUOUS_OPERATION, extensions={"code": "BAD_USER_INPUT"})
                context.pre_execution_errors = [error]
        yield
