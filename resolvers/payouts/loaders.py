"""Per-operation batch loaders of what a ``Payout`` links to.

Not cached: a WebSocket connection keeps one context, and a row read for an earlier event
would be stale (a bank account's status changes, a history grows).
"""

from __future__ import annotations

from strawberry.dataloader import DataLoader

from models import BankAccount
from models.payout import PayoutStatusChange
from resolvers.auth import require_viewer
from resolvers.context import Info
from services.payouts import queries


def destination_banks(info: Info) -> DataLoader[str, BankAccount | None]:
    """One query for the destination banks of every payout in a response."""
    loader: DataLoader[str, BankAccount | None] | None = info.context.state.get("payout_bank")
    if loader is None:
        db = info.context.db
        viewer = require_viewer(info)

        async def load(ids: list[str]) -> list[BankAccount | None]:
            async with db.read() as session:
                found = await queries.bank_accounts_by_id(session, viewer, ids)
            return [found.get(i) for i in ids]

        loader = DataLoader(load_fn=load, cache=False, max_batch_size=100)
        info.context.state["payout_bank"] = loader
    return loader


def status_histories(info: Info) -> DataLoader[str, list[PayoutStatusChange]]:
    """One query for the histories of every payout in a response."""
    loader: DataLoader[str, list[PayoutStatusChange]] | None = info.context.state.get(
        "payout_history"
    )
    if loader is None:
        db = info.context.db
        viewer = require_viewer(info)

        async def load(ids: list[str]) -> list[list[PayoutStatusChange]]:
            async with db.read() as session:
                found = await queries.status_histories(session, viewer, ids)
            return [found[i] for i in ids]

        loader = DataLoader(load_fn=load, cache=False, max_batch_size=100)
        info.context.state["payout_history"] = loader
    return loader
