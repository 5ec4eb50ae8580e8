"""Build an organization's state in both modes for the tenant-isolation tests.

One seeder per object kind, registered with ``@seeder(kind, modes=...)`` and run in
registration order over real HTTP with the organization's key of that mode. Each returns what
it created: ids (with their GraphQL type) and the distinctive values no other tenant may ever
see. To cover a new object kind (payouts, balance transactions...), register a seeder here;
the isolation test refuses to pass while an id argument names a type no seeder produced.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from tests.support.accounts import complete_verification, individual_input, wait_for_account_status
from tests.support.graphql import GraphQLClient
from tests.support.sensitive import remember_sensitive


@dataclass
class Seeded:
    """What a tenant owns in one mode."""

    ids: dict[str, list[str]] = field(default_factory=dict)  # GraphQL type -> ids
    tokens: set[str] = field(default_factory=set)  # forbidden anywhere inside a string
    exact: set[str] = field(default_factory=set)  # forbidden as a whole string value
    cursors: set[str] = field(default_factory=set)  # pagination cursors of its connections

    def add(self, typename: str, object_id: str) -> None:
        ids = self.ids.setdefault(typename, [])
        if object_id not in ids:
            ids.append(object_id)
        self.tokens.add(object_id)

    def merge(self, other: Seeded) -> None:
        for typename, ids in other.ids.items():
            for object_id in ids:
                self.add(typename, object_id)
        self.tokens |= other.tokens
        self.exact |= other.exact
        self.cursors |= other.cursors


@dataclass
class SeedContext:
    client: GraphQLClient
    livemode: bool
    marker: str  # unique to this tenant and mode; put it in every name, email, description
    seeded: Seeded

    @property
    def mode(self) -> str:
        return "live" if self.livemode else "test"


SeedFn = Callable[[SeedContext], Awaitable[None]]


@dataclass(frozen=True)
class Seeder:
    kind: str
    modes: tuple[str, ...]
    run: SeedFn


SEEDERS: list[Seeder] = []


def seeder(kind: str, *, modes: tuple[str, ...] = ("test", "live")) -> Callable[[SeedFn], SeedFn]:
    def register(fn: SeedFn) -> SeedFn:
        SEEDERS.append(Seeder(kind, modes, fn))
        return fn

    return register


async def seed_tenant(client: GraphQLClient, *, livemode: bool, marker: str) -> Seeded:
    seeded = Seeded(tokens={marker})
    context = SeedContext(client, livemode, marker, seeded)
    for entry in SEEDERS:
        if context.mode in entry.modes:
            await entry.run(context)
    return seeded


async def mutate(client: GraphQLClient, query: str, input: dict[str, Any]) -> dict[str, Any]:
    data = await client.data(query, {"input": input})
    (payload,) = data.values()
    assert payload["userErrors"] == [], payload
    result: dict[str, Any] = payload
    return result


# --- today's object kinds --------------------------------------------------------------------
# Live mode has no provider configured by default, so accounts exist only in test mode.

_USED_LAST4: set[str] = {"6888"}  # the generator's own account number ends so


def unique_last4() -> str:
    """Four digits no other seeded account in this process ends with: last4 is short, so it is
    matched as a whole value and must tell tenants apart."""
    while True:
        digits = f"{secrets.randbelow(9000) + 1000}"
        if digits not in _USED_LAST4 and not digits.endswith("0002"):
            _USED_LAST4.add(digits)
            return digits


ADD_BANK = """
mutation($input: AddBankAccountInput!) {
  addBankAccount(input: $input) { bankAccount { id last4 } userErrors { code message } }
}"""


@seeder("payout_account", modes=("test",))
async def seed_payout_account(ctx: SeedContext) -> None:
    last4 = unique_last4()
    data = individual_input(
        account_number=f"0001234{last4}",
        email=f"{ctx.marker}@example.com",
    )
    data["bank"]["accountHolderName"] = f"Holder {ctx.marker}"
    data["individual"]["firstName"] = f"First{ctx.marker}"
    data["individual"]["lastName"] = f"Last{ctx.marker}"
    result = await complete_verification(ctx.client, data)
    assert not result["userErrors"], result
    account = await wait_for_account_status(ctx.client, "VERIFIED")
    ctx.seeded.add("PayoutAccount", account["id"])
    ctx.seeded.add("PayoutBankAccount", account["defaultBankAccount"]["id"])
    ctx.seeded.exact.add(last4)


@seeder("bank_account", modes=("test",))
async def seed_bank_account(ctx: SeedContext) -> None:
    last4 = unique_last4()
    payload = await mutate(
        ctx.client,
        ADD_BANK,
        {"accountNumber": f"0009876{last4}", "accountHolderName": f"Extra {ctx.marker}"},
    )
    ctx.seeded.add("PayoutBankAccount", payload["bankAccount"]["id"])
    ctx.seeded.exact.add(last4)


CREATE_PLAN = """
mutation($input: CreatePlanInput!) {
  createPlan(input: $input) { plan { id } userErrors { code message } }
}"""
CREATE_GROUP = """
mutation($input: CreatePlanGroupInput!) {
  createPlanGroup(input: $input) { planGroup { id } userErrors { code message } }
}"""
ADD_TO_GROUP = """
mutation($input: AddPlanToGroupInput!) {
  addPlanToGroup(input: $input) { planGroup { id } userErrors { code message } }
}"""


@seeder("plans")
async def seed_plans(ctx: SeedContext) -> None:
    """Two plans and a group holding the first: grouped and ungrouped plans both exist."""
    plan_ids = []
    for n in (1, 2):
        payload = await mutate(
            ctx.client,
            CREATE_PLAN,
            {"name": f"Plan {n} {ctx.marker}", "code": f"{ctx.marker}_{n}", "currencies": ["usd"]},
        )
        plan_ids.append(payload["plan"]["id"])
        ctx.seeded.add("Plan", payload["plan"]["id"])
    group = await mutate(
        ctx.client,
        CREATE_GROUP,
        {"name": f"Group {ctx.marker}", "description": f"About {ctx.marker}", "isPublic": True},
    )
    group_id = group["planGroup"]["id"]
    ctx.seeded.add("PlanGroup", group_id)
    await mutate(ctx.client, ADD_TO_GROUP, {"planGroupId": group_id, "planId": plan_ids[0]})


CREDIT = """
mutation($input: TestCreditBalanceInput!) {
  testCreditBalance(input: $input) { balanceTransaction { id } userErrors { code message } }
}"""
REQUEST_PAYOUT = """
mutation($input: RequestPayoutInput!) {
  requestPayout(input: $input) { payout { id } userErrors { code message } }
}"""


@seeder("balance_transaction", modes=("test",))
async def seed_balance_transaction(ctx: SeedContext) -> None:
    payload = await mutate(
        ctx.client, CREDIT, {"amount": 500_000, "description": f"Credit {ctx.marker}"}
    )
    ctx.seeded.add("BalanceTransaction", payload["balanceTransaction"]["id"])


@seeder("payout", modes=("test",))
async def seed_payout(ctx: SeedContext) -> None:
    # Two payouts: one stays cancellable for a moment, one settles through the sandbox.
    for amount in (1_234, 5_678):
        payload = await mutate(
            ctx.client,
            REQUEST_PAYOUT,
            {"amount": amount, "description": f"Payout {ctx.marker} {amount}"},
        )
        ctx.seeded.add("Payout", payload["payout"]["id"])


CREATE_WEBHOOK_ENDPOINT = """
mutation($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) { webhookEndpoint { id } secret userErrors { code message } }
}"""
UPDATE_WEBHOOK_ENDPOINT = """
mutation($input: UpdateWebhookEndpointInput!) {
  updateWebhookEndpoint(input: $input) { webhookEndpoint { id } userErrors { code message } }
}"""
SEND_TEST_WEBHOOK = """
mutation($input: SendTestWebhookInput!) {
  sendTestWebhook(input: $input) { delivery { id eventId } userErrors { code message } }
}"""


@seeder("webhook_endpoints")
async def seed_webhook_endpoint(ctx: SeedContext) -> None:
    """An endpoint (public address literal, so nothing resolves) and a test delivery. The
    endpoint is disabled at once, so the delivery waits unsent and A's view stays still."""
    created = await mutate(
        ctx.client,
        CREATE_WEBHOOK_ENDPOINT,
        {
            "url": f"https://203.0.114.9/hooks/{ctx.marker}",
            "events": ["payout_account.updated"],
            "description": f"Endpoint {ctx.marker}",
        },
    )
    endpoint_id = created["webhookEndpoint"]["id"]
    ctx.seeded.add("WebhookEndpoint", endpoint_id)
    ctx.seeded.tokens.add(created["secret"])
    remember_sensitive(created["secret"])
    await mutate(ctx.client, UPDATE_WEBHOOK_ENDPOINT, {"id": endpoint_id, "enabled": False})
    sent = await mutate(ctx.client, SEND_TEST_WEBHOOK, {"endpointId": endpoint_id})
    ctx.seeded.add("WebhookDelivery", sent["delivery"]["id"])
    ctx.seeded.tokens.add(sent["delivery"]["eventId"])
