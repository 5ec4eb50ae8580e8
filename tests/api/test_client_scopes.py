"""The scope table: complete for the schema, and what each operation's root fields need."""

from __future__ import annotations

import pytest
from graphql import parse

from api.client_scopes import forbidden_fields, root_fields
from api.schema import build_schema
from resolvers.scopes import KEY_ONLY, OPEN, ROOT_FIELD_SCOPES, may_load_node

ALL = frozenset({"PAYOUTS_READ", "PAYOUTS_WRITE", "ACCOUNT_READ", "ACCOUNT_WRITE"})


def test_every_root_field_of_the_schema_has_a_scope_rule() -> None:
    schema = build_schema()._schema
    missing = []
    for root in (schema.query_type, schema.mutation_type, schema.subscription_type):
        assert root is not None
        rules = ROOT_FIELD_SCOPES[root.name]
        missing += [f"{root.name}.{name}" for name in root.fields if name not in rules]
    assert missing == [], (
        "decide which client-session scope may call these fields (resolvers/scopes.py): "
        + ", ".join(missing)
    )


def test_spec_rules() -> None:
    query, mutation = ROOT_FIELD_SCOPES["Query"], ROOT_FIELD_SCOPES["Mutation"]
    subscription = ROOT_FIELD_SCOPES["Subscription"]
    assert query["viewer"] is OPEN
    for name in ("balance", "balanceTransactions", "payouts", "payout"):
        assert query[name] == {"PAYOUTS_READ"}
    assert subscription["payoutUpdated"] == subscription["balanceUpdated"] == {"PAYOUTS_READ"}
    assert query["payoutAccount"] == query["bankAccounts"] == {"ACCOUNT_READ"}
    assert subscription["payoutAccountUpdated"] == {"ACCOUNT_READ"}
    assert mutation["requestPayout"] == mutation["cancelPayout"] == {"PAYOUTS_WRITE"}
    assert mutation["completeVerification"] == mutation["addBankAccount"] == {"ACCOUNT_WRITE"}
    for name in ("createClientSession", "revokeClientSessions", "testCreditBalance", "createPlan"):
        assert mutation[name] is KEY_ONLY
    for name in ("plans", "planGroups", "planGroup"):
        assert query[name] is KEY_ONLY


def test_root_fields_follow_fragments_and_the_chosen_operation() -> None:
    document = parse(
        """
        fragment Money on Query { balance { available } ...More }
        fragment More on Query { ... on Query { payouts { edges { cursor } } } }
        query A { viewer { livemode } ...Money }
        mutation B { requestPayout(input: {amount: 1000}) { userErrors { code } } }
        """
    )
    assert root_fields(document, "A") == ("Query", {"viewer", "balance", "payouts"})
    assert root_fields(document, "B") == ("Mutation", {"requestPayout"})
    assert root_fields(document, None) is None  # two operations, none chosen


def test_a_fragment_cycle_does_not_loop() -> None:
    document = parse("fragment X on Query { ...Y } fragment Y on Query { ...X } { ...X }")
    assert root_fields(document, None) == ("Query", set())


@pytest.mark.parametrize(
    ("query", "scopes", "refused"),
    [
        ("{ viewer { livemode } }", frozenset(), []),
        ("{ balance { available } }", frozenset({"ACCOUNT_READ"}), ["balance"]),
        ("{ balance { available } plans { edges { cursor } } }", ALL, ["plans"]),
        ("{ payoutAccount { id } bankAccounts { edges { cursor } } }", ALL, []),
        ('{ node(id: "po_1") { id } }', frozenset({"ACCOUNT_READ"}), []),
        ('{ node(id: "po_1") { id } }', frozenset({"PAYOUTS_WRITE"}), ["node"]),
        ("mutation { createClientSession { x } }", ALL, ["createClientSession"]),
        ("{ __schema { queryType { name } } }", ALL, ["__schema"]),
        ("{ __typename }", frozenset(), []),
        ("{ noSuchField }", frozenset(), []),  # validation answers it
    ],
)
def test_forbidden_fields(query: str, scopes: frozenset[str], refused: list[str]) -> None:
    assert forbidden_fields(parse(query), None, scopes) == refused


def test_node_objects_need_their_own_scope() -> None:
    assert may_load_node("Payout", None)  # API keys see everything of theirs
    assert may_load_node("PlanGroup", None)
    assert may_load_node("Payout", frozenset({"PAYOUTS_READ"}))
    assert may_load_node("BalanceTransaction", frozenset({"PAYOUTS_READ"}))
    assert not may_load_node("PayoutAccount", frozenset({"PAYOUTS_READ"}))
    assert may_load_node("PayoutBankAccount", frozenset({"ACCOUNT_READ"}))
    assert not may_load_node("Plan", ALL)
    assert not may_load_node("PlanGroup", ALL)
    assert may_load_node("Organization", frozenset())
