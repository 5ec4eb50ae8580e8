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

# PostgreSQL: a query returning a row whenever the kind's handler would find the event's object
# (``{provider}``, ``{object_id}`` and ``{livemode}`` are the statement's parameters). Where it
# returns none, the handler would return False: the event is stored pending by one statement
# (``ingest.store_pending``) instead of a transaction, and the pending sweep leaves it until
# the object appears (``ingest.pending_objects``). It may say "known" more often than the
# handler would (the event then takes the transaction), never less often. Plain SQL: the sweep
# runs it on SQLite too, with the pending event's columns as the parameters.
KNOWN_OBJECTS: Mapping[str, str] = {
    "account": (
        "SELECT 1 FROM payout_accounts WHERE provider = {provider}"
        " AND provider_account_id = {object_id} AND livemode = {livemode}"
    ),
    "transfer": (
        "SELECT 1 FROM payouts WHERE provider = {provider} AND provider_transfer_id = {object_id}"
    ),
}
