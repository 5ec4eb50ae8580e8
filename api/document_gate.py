"""Validation behind two cheap gates: the document's bounds, then the caller's key.

Every step before execution is bounded by the document's size: the bounds are measured in one
memoized pass (``api/document_bounds.py``), and only a document within them reaches
graphql-core's validation (cached per document and rule set). A caller without a valid key may
validate introspection only; anything else is refused before validation, so an anonymous
client cannot make the server validate expensive documents.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from graphql import DocumentNode, GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from api.accepted_operations import AcceptedOperations
from api.client_scopes import viewer_scopes
from api.document_bounds import Bounds, measure
from api.document_cache import DocumentMemo, collector_paused
from api.error_frames import release_frames
from resolvers.errors import unauthenticated

_BOUNDS: DocumentMemo[Bounds] = DocumentMemo()
_VALIDATION: DocumentMemo[list[GraphQLError]] = DocumentMemo()


@dataclass(frozen=True, slots=True)
class DocumentLimits:
    max_depth: int
    max_aliases: int
    max_fields: int
    max_comparisons: int

    def error(self, bounds: Bounds, operation_name: str | None) -> GraphQLError | None:
        def too_complex(message: str) -> GraphQLError:
            return GraphQLError(message, extensions={"code": "QUERY_TOO_COMPLEX"})

        if bounds.depth > self.max_depth:
            name = operation_name or "anonymous"
            return too_complex(f"'{name}' exceeds maximum operation depth of {self.max_depth}")
        if bounds.aliases > self.max_aliases:
            return too_complex(f"{bounds.aliases} aliases found. Allowed: {self.max_aliases}")
        if bounds.fields > self.max_fields:
            return too_complex(
                f"The document expands to more than {self.max_fields} selections "
                "once its fragments are inlined."
            )
        if bounds.comparisons > self.max_comparisons:
            return too_complex(
                "The document repeats response names too often "
                f"({bounds.comparisons} comparisons of same-name selections; "
                f"allowed: {self.max_comparisons})."
            )
        return None


class GatedValidation(SchemaExtension):
    """Replaces strawberry's depth/alias limiters and ``ValidationCache`` (see module doc)."""

    def __init__(
        self,
        limits: DocumentLimits,
        trusted: Callable[[DocumentNode], bool] | None = None,
        accepted: AcceptedOperations | None = None,
    ) -> None:
        self.limits = limits
        self.trusted = trusted
        self.accepted = accepted

    async def on_validate(self) -> AsyncIterator[None]:
        context = self.execution_context
        document = context.graphql_document
        fresh = False  # validated in this request (first seen, or evicted since)
        if (
            context.pre_execution_errors is None
            and document is not None
            and self.trusted is not None
            and self.trusted(document)
        ):
            # Bounded, validated and costed when the manifest was loaded.
            context.pre_execution_errors = [] if _has_viewer(context) else [unauthenticated()]
        if context.pre_execution_errors is None and document is not None:
            bounds = _BOUNDS.get(document, None, lambda: _measure(document))
            error = self.limits.error(bounds, context.operation_name)
            if error is None and not bounds.introspection_only and not _has_viewer(context):
                error = unauthenticated()
            if error is not None:
                context.pre_execution_errors = [error]
            else:
                schema, rules = context.schema._schema, context.validation_rules
                fresh = _VALIDATION.peek(document, (schema, rules)) is None
                if fresh:
                    # Parsed for this request, most likely: let the loop run between the parse
                    # and the validation, and again before execution, so that no one tick of
                    # the loop holds all three for a large document.
                    await asyncio.sleep(0)
                context.pre_execution_errors = _validate(schema, document, rules)
        if (
            self.accepted is not None
            and context.pre_execution_errors == []
            and document is not None
            and _has_viewer(context)
        ):
            # The last check before execution: every earlier one passed too.
            self.accepted.record(
                document, context._provided_operation_name, viewer_scopes(context.context)
            )
        if fresh:
            await asyncio.sleep(0)
        yield


def _measure(document: DocumentNode) -> Bounds:
    with collector_paused():
        return measure(document)


def _validate(schema: Any, document: DocumentNode, rules: Any) -> list[GraphQLError]:
    """graphql-core's validation, remembered on the document's record per schema and rules."""

    def validate() -> list[GraphQLError]:
        with collector_paused():
            errors = validate_document(schema, document, rules)
        release_frames(errors)  # they are kept on the document's record
        return errors

    return _VALIDATION.get(document, (schema, rules), validate)


def _has_viewer(execution_context: Any) -> bool:
    return getattr(execution_context.context, "viewer", None) is not None
