"""``node(id)``: the id's prefix picks the domain's loader (one table, below)."""

from __future__ import annotations

import strawberry

from resolvers.auth import require_viewer
from resolvers.balance.queries import load_transaction
from resolvers.context import Info
from resolvers.node import Node, NodeLoader
from resolvers.payout_accounts.queries import load_bank_account, load_payout_account
from resolvers.payouts.queries import load_payout
from resolvers.plans.queries import load_plan, load_plan_group
from resolvers.scopes import may_load_node
from resolvers.webhook_endpoints.queries import load_webhook_delivery, load_webhook_endpoint
from services.organizations.api_keys import Viewer

NODE_LOADERS: dict[str, NodeLoader] = {
    "pacct": load_payout_account,
    "ba": load_bank_account,
    "txn": load_transaction,
    "po": load_payout,
    "plan": load_plan,
    "plg": load_plan_group,
    "we": load_webhook_endpoint,
    "whd": load_webhook_delivery,
}


async def load_node(info: Info, viewer: Viewer, node_id: str) -> Node | None:
    prefix, _, rest = node_id.partition("_")
    loader = NODE_LOADERS.get(prefix)
    if loader is None or not rest:
        return None
    node = await loader(info, viewer, node_id)
    if node is None or viewer.scopes is None:
        return node
    # A client session sees through ``node`` only the objects its scopes cover.
    definition = getattr(node, "__strawberry_definition__", None)
    return (
        node if definition is not None and may_load_node(definition.name, viewer.scopes) else None
    )


@strawberry.type
class NodeQuery:
    @strawberry.field(description="Any object by its id; null when it is not yours or unknown.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return await load_node(info, require_viewer(info), str(id))
