"""``payoutAccount`` and ``bankAccounts``, and the ``pacct`` / ``ba`` nodes."""

from __future__ import annotations

import strawberry

from resolvers.auth import require_viewer
from resolvers.context import Info
from resolvers.node import Node
from resolvers.pagination import Connection
from resolvers.payout_accounts.types import (
    PayoutAccount,
    PayoutBankAccount,
    bank_account_page,
    bank_account_type,
    payout_account_type,
)
from services.organizations.api_keys import Viewer
from services.payout_accounts import bank_accounts
from services.payout_accounts import service as payout_accounts


@strawberry.type
class PayoutAccountQuery:
    @strawberry.field(description="The payout account of this organization and mode, if any.")
    async def payout_account(self, info: Info) -> PayoutAccount | None:
        viewer = require_viewer(info)
        async with info.context.db.read() as session:
            row = await payout_accounts.find_account(
                session, viewer.organization_id, viewer.livemode
            )
        return payout_account_type(row) if row is not None else None

    @strawberry.field(description="Destination bank accounts, newest first.")
    async def bank_accounts(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[PayoutBankAccount]:
        return await bank_account_page(info, first, after)


async def load_payout_account(info: Info, viewer: Viewer, node_id: str) -> Node | None:
    async with info.context.db.read() as session:
        row = await bank_accounts.get_payout_account(session, viewer, node_id)
    return payout_account_type(row) if row is not None else None


async def load_bank_account(info: Info, viewer: Viewer, node_id: str) -> Node | None:
    async with info.context.db.read() as session:
        row = await bank_accounts.get_bank_account(session, viewer, node_id)
    return bank_account_type(row) if row is not None else None
