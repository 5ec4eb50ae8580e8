"""Which client-session scopes may select each root field (SPEC §3.12), and the gate that
refuses an operation selecting any other, whole and before anything runs.

``ROOT_FIELD_SCOPES`` is the one place that decides: every root field of the schema must have
an entry (``tests/api/test_client_scopes.py`` fails otherwise), so a new field cannot ship
without someone choosing who may call it. A rule is the set of scopes any one of which grants
the field; ``OPEN`` lets every token in, ``KEY_ONLY`` none (API keys only).
"""

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
from api.extensions import DocumentMemo
from services.client_sessions.tokens import (
    ACCOUNT_READ,
    ACCOUNT_WRITE,
    PAYOUTS_READ,
    PAYOUTS_WRITE,
)

Rule = frozenset[str]
OPEN: Rule = frozenset({"*"})
KEY_ONLY: Rule = frozenset()

_PAYOUTS_READ = frozenset({PAYOUTS_READ})
_PAYOUTS_WRITE = frozenset({PAYOUTS_WRITE})
_ACCOUNT_READ = frozenset({ACCOUNT_READ})
_ACCOUNT_WRITE = frozenset({ACCOUNT_WRITE})

ROOT_FIELD_SCOPES: Mapping[str, Mapping[str, Rule]] = {
    "Query": {
        "__typename": OPEN,
        "viewer": OPEN,
        "balance": _PAYOUTS_READ,
        "balanceTransactions": _PAYOUTS_READ,
        "payouts": _PAYOUTS_READ,
        "payout": _PAYOUTS_READ,
        # Root access for either; the resolver answers null for an object outside the scopes.
        "node": _PAYOUTS_READ | _ACCOUNT_READ,
        "payoutAccount": _ACCOUNT_READ,
        "bankAccounts": _ACCOUNT_READ,
        "plans": KEY_ONLY,
        "planGroups": KEY_ONLY,
        "planGroup": KEY_ONLY,
        "webhookEndpoints": KEY_ONLY,
        "webhookEndpoint": KEY_ONLY,
        "webhookDeliveries": KEY_ONLY,
        "__schema": KEY_ONLY,
        "__type": KEY_ONLY,
    },
    "Mutation": {
        "__typename": OPEN,
        "requestPayout": _PAYOUTS_WRITE,
        "cancelPayout": _PAYOUTS_WRITE,
        "completeVerification": _ACCOUNT_WRITE,
        "addBankAccount": _ACCOUNT_WRITE,
        "createClientSession": KEY_ONLY,
        "revokeClientSessions": KEY_ONLY,
        "testCreditBalance": KEY_ONLY,
        "testAdvancePayout": KEY_ONLY,
        "testSetPayoutAccountStatus": KEY_ONLY,
        "createPlan": KEY_ONLY,
        "createPlanGroup": KEY_ONLY,
        "updatePlanGroup": KEY_ONLY,
        "deletePlanGroup": KEY_ONLY,
        "addPlanToGroup": KEY_ONLY,
        "removePlanFromGroup": KEY_ONLY,
        "reorderPlansInGroup": KEY_ONLY,
        "createWebhookEndpoint": KEY_ONLY,
        "updateWebhookEndpoint": KEY_ONLY,
        "rotateWebhookEndpointSecret": KEY_ONLY,
        "deleteWebhookEndpoint": KEY_ONLY,
        "sendTestWebhook": KEY_ONLY,
        "redeliverWebhook": KEY_ONLY,
    },
    "Subscription": {
        "__typename": OPEN,
        "payoutUpdated": _PAYOUTS_READ,
        "balanceUpdated": _PAYOUTS_READ,
        "payoutAccountUpdated": _ACCOUNT_READ,
    },
}

# Which scope lets a token fetch an object through ``node``, by GraphQL type name.
NODE_TYPE_SCOPES: Mapping[str, str] = {
    "Payout": PAYOUTS_READ,
    "BalanceTransaction": PAYOUTS_READ,
    "PayoutAccount": ACCOUNT_READ,
    "PayoutBankAccount": ACCOUNT_READ,
}

_ROOT_TYPE = {
    OperationType.QUERY: "Query",
    OperationType.MUTATION: "Mutation",
    OperationType.SUBSCRIPTION: "Subscription",
}


def allows(rule: Rule, scopes: frozenset[str]) -> bool:
    return rule is OPEN or "*" in rule or not rule.isdisjoint(scopes)


def may_load_node(type_name: str, scopes: frozenset[str] | None) -> bool:
    """Whether a caller may see an object of this type through ``node`` (keys: always)."""
    if scopes is None:
        return True
    needed = NODE_TYPE_SCOPES.get(type_name)
    return needed is not None and needed in scopes


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


_FORBIDDEN: DocumentMemo[list[str]] = DocumentMemo(maxsize=1024)


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


__all__ = ["KEY_ONLY", "OPEN", "ROOT_FIELD_SCOPES", "ScopeGate", "may_load_node"]
