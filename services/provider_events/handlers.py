"""Which service applies each kind of provider event (the one place to add a kind)."""

from __future__ import annotations

from collections.abc import Mapping

from services.payout_accounts.service import apply_account_event
from services.payouts.service import apply_transfer_event
from services.provider_events.ingest import Handler

HANDLERS: Mapping[str, Handler] = {
    "account": apply_account_event,
    "transfer": apply_transfer_event,
}
