"""GraphQL helpers for outbound webhook tests (over real HTTP)."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.support.graphql import GraphQLClient
from tests.support.sensitive import remember_sensitive

ENDPOINT_FIELDS = "id url events description enabled disabledReason createdAt livemode"
DELIVERY_FIELDS = """
  id eventId eventType status attemptCount nextAttemptAt createdAt livemode payload
  endpoint { id }
  attempts { attemptedAt durationMs statusCode error responseBody }
"""
CREATE = f"""
mutation($input: CreateWebhookEndpointInput!) {{
  createWebhookEndpoint(input: $input) {{
    webhookEndpoint {{ {ENDPOINT_FIELDS} }} secret userErrors {{ code message field }}
  }}
}}"""
UPDATE = f"""
mutation($input: UpdateWebhookEndpointInput!) {{
  updateWebhookEndpoint(input: $input) {{
    webhookEndpoint {{ {ENDPOINT_FIELDS} }} userErrors {{ code message field }}
  }}
}}"""
ROTATE = f"""
mutation($input: RotateWebhookEndpointSecretInput!) {{
  rotateWebhookEndpointSecret(input: $input) {{
    webhookEndpoint {{ {ENDPOINT_FIELDS} }} secret userErrors {{ code message field }}
  }}
}}"""
DELETE = """
mutation($input: DeleteWebhookEndpointInput!) {
  deleteWebhookEndpoint(input: $input) { deletedId userErrors { code message field } }
}"""
SEND_TEST = f"""
mutation($input: SendTestWebhookInput!) {{
  sendTestWebhook(input: $input) {{
    delivery {{ {DELIVERY_FIELDS} }} userErrors {{ code message field }}
  }}
}}"""
REDELIVER = f"""
mutation($input: RedeliverWebhookInput!) {{
  redeliverWebhook(input: $input) {{
    delivery {{ {DELIVERY_FIELDS} }} userErrors {{ code message field }}
  }}
}}"""
ENDPOINT = f"query($id: ID!) {{ webhookEndpoint(id: $id) {{ {ENDPOINT_FIELDS} }} }}"
ENDPOINTS = f"{{ webhookEndpoints {{ edges {{ node {{ {ENDPOINT_FIELDS} }} }} }} }}"
DELIVERIES = f"""
query($endpointId: ID, $status: WebhookDeliveryStatus, $first: Int, $after: String) {{
  webhookDeliveries(endpointId: $endpointId, status: $status, first: $first, after: $after) {{
    edges {{ cursor node {{ {DELIVERY_FIELDS} }} }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}"""


async def create_endpoint(
    client: GraphQLClient, url: str, events: list[str] | None = None, **extra: Any
) -> tuple[dict[str, Any], str]:
    """(the endpoint, its secret)."""
    data = await client.data(CREATE, {"input": {"url": url, "events": events, **extra}})
    payload = data["createWebhookEndpoint"]
    assert payload["userErrors"] == [], payload
    remember_sensitive(payload["secret"])  # must never appear in a server log
    return payload["webhookEndpoint"], payload["secret"]


async def deliveries(
    client: GraphQLClient, endpoint_id: str | None = None, **args: Any
) -> list[dict[str, Any]]:
    data = await client.data(DELIVERIES, {"endpointId": endpoint_id, **args})
    return [edge["node"] for edge in data["webhookDeliveries"]["edges"]]


async def endpoint(client: GraphQLClient, endpoint_id: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = (await client.data(ENDPOINT, {"id": endpoint_id}))[
        "webhookEndpoint"
    ]
    return found


async def wait_for_endpoint(
    client: GraphQLClient, endpoint_id: str, predicate: Any, timeout: float = 30.0
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    current: dict[str, Any] | None = None
    while asyncio.get_running_loop().time() < deadline:
        current = await endpoint(client, endpoint_id)
        if current is not None and predicate(current):
            return current
        await asyncio.sleep(0.1)
    raise AssertionError(f"endpoint never reached the expected state: {current}")


async def wait_for_deliveries(
    client: GraphQLClient, endpoint_id: str, predicate: Any, timeout: float = 30.0
) -> list[dict[str, Any]]:
    deadline = asyncio.get_running_loop().time() + timeout
    current: list[dict[str, Any]] = []
    while asyncio.get_running_loop().time() < deadline:
        current = await deliveries(client, endpoint_id, first=100)
        if predicate(current):
            return current
        await asyncio.sleep(0.1)
    summary = [(d["eventType"], d["status"], d["attemptCount"]) for d in current]
    raise AssertionError(f"deliveries never reached the expected state: {summary}")
