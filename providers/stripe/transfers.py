"""A payout on Stripe Connect: a transfer of the net amount to the connected account, then a
payout from that account's balance to the chosen external account (``Stripe-Account``).

Both calls carry idempotency keys derived from our payout's key, and ``metadata.payout_id``.
The transfer's ``transfer_group`` is our key, so "did Stripe already create it?" has an exact
answer even after the 24 h idempotency window: a list of transfers filtered by that group.
"""

from __future__ import annotations

import logging
from typing import Any

import stripe
from stripe.params import PayoutCreateParams, TransferCreateParams

from providers.base import Transfer, TransferRequest
from providers.stripe.client import call, translate
from providers.stripe.events import OUR_REVERSAL

log = logging.getLogger(__name__)
# What the transfer remembers so that its payout can be (re)created from the transfer alone.
DESTINATION_KEY = "external_account"


class StripeTransfers:
    client: stripe.StripeClient

    async def create_transfer(self, request: TransferRequest) -> Transfer:
        payout_id = request.metadata.get("payout_id", "")
        params: TransferCreateParams = {
            "amount": request.amount,
            "currency": request.currency,
            "destination": request.account_id,
            "transfer_group": request.idempotency_key,
            "metadata": {
                **request.metadata,
                "payout_id": payout_id,
                DESTINATION_KEY: request.external_account_id,
            },
        }
        if request.description:
            params["description"] = request.description
        transfer = await call(
            "transfer creation",
            self.client.v1.transfers.create_async(
                params, {"idempotency_key": f"{request.idempotency_key}:transfer"}
            ),
        )
        await self._ensure_payout(transfer, request.idempotency_key)
        return Transfer(id=str(transfer.id), status="pending")

    async def find_transfer(self, idempotency_key: str) -> Transfer | None:
        """The transfer of this key, found by its ``transfer_group``; when it exists its payout
        is made sure of too (the process may have died between the two calls)."""
        listing = await call(
            "transfer lookup",
            self.client.v1.transfers.list_async({"transfer_group": idempotency_key, "limit": 10}),
        )
        found = [t for t in listing.data if t.transfer_group == idempotency_key]
        if not found:
            return None
        if len(found) > 1:
            log.critical("several Stripe transfers share the group %s", idempotency_key)
        transfer = found[-1]  # the oldest: lists are newest first
        await self._ensure_payout(transfer, idempotency_key)
        return Transfer(id=str(transfer.id), status="pending")

    async def cancel_transfer(self, transfer_id: str) -> bool:
        """Cancel the bank payout while Stripe still allows it (pending), then reverse the
        transfer so the money is back on the platform's balance."""
        transfer = await call(
            "transfer retrieval", self.client.v1.transfers.retrieve_async(transfer_id)
        )
        account = str(transfer.destination)
        payout = await self._payout_of(transfer)
        if payout is not None and payout.status == "pending":
            try:
                payout = await self.client.v1.payouts.cancel_async(
                    payout.id, options={"stripe_account": account}
                )
            except stripe.InvalidRequestError:
                return False  # it left for the bank meanwhile
            except stripe.StripeError as exc:
                raise translate(exc, "payout cancelation") from None
        if payout is not None and payout.status != "canceled":
            return False
        await self._reverse(transfer)
        return True

    async def return_to_platform(self, transfer_id: str) -> None:
        """Reverse what is left of the transfer (after its payout failed or was canceled, the
        money is back on the connected account's balance). Idempotent."""
        transfer = await self.retrieve_transfer(transfer_id)
        await self._reverse(transfer)

    async def _reverse(self, transfer: Any) -> None:
        remaining = int(transfer.amount) - int(transfer.amount_reversed or 0)
        if remaining <= 0:
            return
        await call(
            "transfer reversal",
            self.client.v1.transfers.reversals.create_async(
                transfer.id,
                {"amount": remaining, "metadata": {"reason": OUR_REVERSAL}},
                {"idempotency_key": f"{transfer.id}:reversal:{remaining}"},
            ),
        )

    async def retrieve_payout(self, account: str, payout_id: str) -> Any:
        return await call(
            "payout retrieval",
            self.client.v1.payouts.retrieve_async(payout_id, options={"stripe_account": account}),
        )

    async def retrieve_transfer(self, transfer_id: str) -> Any:
        return await call(
            "transfer retrieval", self.client.v1.transfers.retrieve_async(transfer_id)
        )

    async def _ensure_payout(self, transfer: Any, idempotency_key: str) -> Any:
        metadata = _metadata(transfer)
        params: PayoutCreateParams = {
            "amount": transfer.amount,
            "currency": transfer.currency,
            "metadata": {"payout_id": metadata.get("payout_id", ""), "transfer": transfer.id},
        }
        if metadata.get(DESTINATION_KEY):
            params["destination"] = metadata[DESTINATION_KEY]
        if transfer.description:
            params["description"] = transfer.description
        return await call(
            "payout creation",
            self.client.v1.payouts.create_async(
                params,
                {
                    "stripe_account": str(transfer.destination),
                    "idempotency_key": f"{idempotency_key}:payout",
                },
            ),
        )

    async def _payout_of(self, transfer: Any) -> Any:
        """The connected account's payout made for this transfer (newest first, since the
        transfer), or None."""
        account = str(transfer.destination)
        listing = await call(
            "payout lookup",
            self.client.v1.payouts.list_async(
                {"created": {"gte": int(transfer.created) - 60}, "limit": 100},
                {"stripe_account": account},
            ),
        )
        async for payout in listing.auto_paging_iter():
            if _metadata(payout).get("transfer") == transfer.id:
                return payout
        return None


def _metadata(obj: Any) -> dict[str, str]:
    metadata = getattr(obj, "metadata", None)
    return {} if metadata is None else dict(metadata.to_dict())
