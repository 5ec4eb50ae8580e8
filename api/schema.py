"""The strawberry schema, assembled from the resolver modules, with limits and caches."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import DisableIntrospection, MaxTokensLimiter, SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from api.accepted_operations import AcceptedOperations
from api.client_scopes import ScopeGate
from api.cost import QueryCost
from api.document_cache import DocumentCache
from api.document_checks import DocumentPrecheck
from api.document_gate import DocumentLimits, GatedValidation
from api.errors import ErrorShaping, is_unexpected
from api.execution import PayoutsExecutionContext
from api.extensions import CachedParser, RejectNulCharacters
from api.extensions_runner import LeanExtensionsRunner
from api.metrics import OperationObserver
from api.settings import Settings
from api.trusted_documents import TrustedDocumentGate, TrustedDocuments, read_manifest
from resolvers.balance.mutations import BalanceMutation
from resolvers.balance.queries import BalanceQuery
from resolvers.client_sessions.mutations import ClientSessionMutation
from resolvers.descriptions import describe_schema
from resolvers.live.subscriptions import LiveSubscription
from resolvers.node_query import NodeQuery
from resolvers.payout_accounts.mutations import PayoutAccountMutation
from resolvers.payout_accounts.queries import PayoutAccountQuery
from resolvers.payouts.mutations import PayoutMutation
from resolvers.payouts.queries import PayoutQuery
from resolvers.plans.mutations import PlanMutation
from resolvers.plans.queries import PlanQuery
from resolvers.scalars import SCALAR_MAP
from resolvers.viewer import ViewerQuery
from resolvers.webhook_endpoints.mutations import WebhookEndpointMutation
from resolvers.webhook_endpoints.queries import WebhookEndpointQuery

QUERY_TYPES: tuple[type, ...] = (
    ViewerQuery,
    NodeQuery,
    PayoutAccountQuery,
    BalanceQuery,
    PayoutQuery,
    PlanQuery,
    WebhookEndpointQuery,
)
MUTATION_TYPES: tuple[type, ...] = (
    PayoutAccountMutation,
    BalanceMutation,
    PayoutMutation,
    PlanMutation,
    ClientSessionMutation,
    WebhookEndpointMutation,
)
SUBSCRIPTION_TYPES: tuple[type, ...] = (LiveSubscription,)


class PayoutsSchema(strawberry.Schema):
    # Filled by ``build_schema``: what the HTTP fast path (``api/fast_path.py``) reads.
    accepted_operations: AcceptedOperations
    documents: DocumentCache
    trusted_documents: TrustedDocuments
    settings: Settings

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Client mistakes are not server errors; ErrorShaping logs the unexpected ones.
        del errors, execution_context

    def create_extensions_runner(
        self, execution_context: ExecutionContext, extensions: list[SchemaExtension]
    ) -> SchemaExtensionsRunner:
        return LeanExtensionsRunner(execution_context, extensions)


def build_schema(
    settings: Settings | None = None, trusted_documents: TrustedDocuments | None = None
) -> strawberry.Schema:
    """``trusted_documents`` is filled once the schema exists (``api.trusted_documents``)."""
    settings = settings or Settings()
    if trusted_documents is None:
        trusted_documents = TrustedDocuments()
    accepted = AcceptedOperations()
    documents = DocumentCache(
        max_objects=settings.document_cache_objects, max_entries=settings.parser_cache_size
    )
    schema = PayoutsSchema(
        query=merge_types("Query", QUERY_TYPES),
        mutation=merge_types("Mutation", MUTATION_TYPES) if MUTATION_TYPES else None,
        subscription=(
            merge_types("Subscription", SUBSCRIPTION_TYPES) if SUBSCRIPTION_TYPES else None
        ),
        extensions=_extensions(settings, trusted_documents, accepted, documents),
        execution_context_class=PayoutsExecutionContext,
        config=StrawberryConfig(
            scalar_map=SCALAR_MAP,
            disable_field_suggestions=not settings.introspection,
        ),
    )
    describe_schema(schema._schema)
    schema.accepted_operations = accepted
    schema.documents = documents
    schema.trusted_documents = trusted_documents
    schema.settings = settings
    return schema


def _extensions(
    settings: Settings,
    trusted_documents: TrustedDocuments,
    accepted: AcceptedOperations,
    documents: DocumentCache,
) -> list[Callable[[], SchemaExtension] | type[SchemaExtension]]:
    factory: Any = functools.partial
    extensions: list[Any] = [
        ErrorShaping,
        factory(MaxTokensLimiter, max_token_count=settings.max_query_tokens),
        factory(TrustedDocumentGate, trusted_documents),
        factory(CachedParser, documents),
        RejectNulCharacters,
        DocumentPrecheck,
        ScopeGate,
        factory(
            GatedValidation,
            document_limits(settings),
            trusted_documents.is_trusted,
            accepted,
        ),
        OperationObserver,
        factory(
            QueryCost,
            max_cost=settings.max_query_cost,
            default_page_size=settings.cost_default_page_size,
        ),
    ]
    if not settings.introspection:
        extensions.append(DisableIntrospection)
    return extensions


def document_limits(settings: Settings) -> DocumentLimits:
    return DocumentLimits(
        max_depth=settings.max_query_depth,
        max_aliases=settings.max_query_aliases,
        max_fields=settings.max_query_fields,
        max_comparisons=settings.max_query_comparisons,
    )


def export_sdl(schema: strawberry.Schema | None = None) -> str:
    return (schema or build_schema()).as_str() + "\n"


__all__ = ["build_schema", "export_sdl", "is_unexpected"]


def load_trusted_documents(
    settings: Settings, schema: strawberry.Schema, documents: TrustedDocuments
) -> None:
    """Parse, bound, validate and cost every trusted document once (``ManifestError`` names
    the first bad one: the server must not start with it)."""
    documents.mode = settings.trusted_documents_enforcement
    if not settings.trusted_documents:
        return
    documents.load(
        read_manifest(settings.trusted_documents),
        schema=schema._schema,
        limits=document_limits(settings),
        max_cost=settings.max_query_cost,
        default_page_size=settings.cost_default_page_size,
    )
