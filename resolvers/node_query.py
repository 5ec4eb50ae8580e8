"""``node(id)``: the id's prefix picks the domain's loader (one table, below)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from resolvers.auth import require_viewer
from resolvers.balance.queries import load_transaction
from resolvers.context import Info
from resolvers.errors import bad_user_input
from resolvers.node import Node, NodeLoader
from resolvers.payout_accounts.queries import load_bank_account, load_payout_account
from resolvers.payouts.queries import load_payout
from resolvers.plans.queries import load_plan, load_plan_group
from resolvers.scopes import may_load_node
from resolvers.viewer import load_organization
from resolvers.webhook_endpoints.queries import load_webhook_delivery, load_webhook_endpoint
from services.organizations.api_keys import Viewer

NODE_LOADERS: dict[str, NodeLoader] = {
    "pacct": load_payout_account,
    "ba": load_bank_account,
    "txn": load_transaction,
    "po": load_payout,
    "plan": load_plan,
    "plg": load_plan_group,
    "org": load_organization,
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


MAX_NODES = 100


@strawberry.type
class NodeQuery:
    @strawberry.field(description="Any object by its id; null when it is not yours or unknown.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return await load_node(info, require_viewer(info), str(id))

    @strawberry.field(
        description=f"Several objects by id (at most {MAX_NODES}), in the order asked; null "
        "for each id that is not yours or unknown."
    )
    async def nodes(
        self,
        info: Info,
        ids: Annotated[
            list[strawberry.ID], strawberry.argument(description="The ids, any object types.")
        ],
    ) -> list[Node | None]:
        viewer = require_viewer(info)
        if len(ids) > MAX_NODES:
            raise bad_user_input(f"nodes takes at most {MAX_NODES} ids")
        return [await load_node(info, viewer, str(node_id)) for node_id in ids]
