"""Which client-session scopes may select each root field (SPEC §3.12).

``ROOT_FIELD_SCOPES`` is the one place that decides: every root field of the schema must have
an entry (``tests/api/test_client_scopes.py`` fails otherwise), so a new field cannot ship
without someone choosing who may call it. A rule is the set of scopes any one of which grants
the field; ``OPEN`` lets every token in, ``KEY_ONLY`` none (API keys only). The gate applying
it is ``api/client_scopes.py``.
"""

from __future__ import annotations

from collections.abc import Mapping

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
        "nodes": _PAYOUTS_READ | _ACCOUNT_READ,
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
    "Organization": "*",  # the caller's own organization, as ``viewer`` shows it to every token
    "Payout": PAYOUTS_READ,
    "BalanceTransaction": PAYOUTS_READ,
    "PayoutAccount": ACCOUNT_READ,
    "PayoutBankAccount": ACCOUNT_READ,
}


def allows(rule: Rule, scopes: frozenset[str]) -> bool:
    return rule is OPEN or "*" in rule or not rule.isdisjoint(scopes)


def may_load_node(type_name: str, scopes: frozenset[str] | None) -> bool:
    """Whether a caller may see an object of this type through ``node`` (keys: always)."""
    if scopes is None:
        return True
    needed = NODE_TYPE_SCOPES.get(type_name)
    return needed is not None and (needed == "*" or needed in scopes)
