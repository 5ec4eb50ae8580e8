"""Sandbox transfers: created once per idempotency key, settled by the sandbox's own scheduled,
signed webhooks (``in_transit`` after the delay, then ``paid`` — or ``failed`` with
``account_closed`` for a destination that fails transfers)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlmodel import col

from models.base import new_id, utcnow
from models.sandbox import (
    SandboxAccount,
    SandboxExternalAccount,
    SandboxTransfer,
    SandboxWebhookDelivery,
)
from providers.base import ProviderError, Transfer, TransferRequest
from providers.sandbox import transfer_statement as statement
from providers.sandbox.config import SandboxConfig
from providers.sandbox.outbox import (
    WebhookDeliverer,
    cancel_scheduled,
    schedule_webhook,
    webhook_values,
)

EVENT_TYPE = "transfer.updated"
FAILURE_MESSAGES = {
    "account_closed": "The destination bank account is closed.",
    "provider_forced": "The transfer was failed on request (sandbox).",
}
ADVANCE_STATUSES = frozenset({"in_transit", "paid", "failed"})


class SandboxTransfers:
    db: Any
    config: SandboxConfig
    deliverer: WebhookDeliverer

    async def create_transfer(self, request: TransferRequest) -> Transfer:
        if self.config.refuse_transfers:
            raise ProviderError("sandbox is refusing transfers (simulated outage)")
        try:
            if self.deliverer.is_postgres:
                # One statement in autocommit, retried on a fresh connection if the pooled one
                # was dead: safe, the statement returns the transfer already made with the key.
                created = await self.db.run_statement(
                    lambda connection: self._create_in_one_statement(connection, request)
                )
            else:
                async with self.db.transaction() as session:
                    transfer = await self._create(session, request)
                    created = Transfer(id=transfer.id, status=transfer.status)
        except IntegrityError:
            # A concurrent call with the same idempotency key committed first.
            async with self.db.transaction() as session:
                found = await _by_key(session, request.idempotency_key)
            if found is None:
                raise ProviderError("sandbox could not create the transfer") from None
            created = Transfer(id=found.id, status=found.status)
        # Nothing is due before the delay: waking the deliverer now would only cost a claim.
        delay = self.config.delay_seconds
        self.deliverer.wake_in(delay)
        self.deliverer.wake_in(2 * delay)
        return created

    async def find_transfer(self, idempotency_key: str) -> Transfer | None:
        # Lookups keep working while creation is refused (refuse_transfers), as at real
        # providers where an outage of one endpoint is the common case.
        async with self.db.transaction() as session:
            found = await _by_key(session, idempotency_key)
        return None if found is None else Transfer(id=found.id, status=found.status)

    async def cancel_transfer(self, transfer_id: str) -> bool:
        async with self.db.transaction() as session:
            transfer = await _locked(session, transfer_id)
            if transfer is None or transfer.status != "pending":
                return False
            if await _has_started(session, transfer_id):
                return False
            await cancel_scheduled(session, transfer_id)
            transfer.status = "canceled"
            session.add(transfer)
            schedule_webhook(
                session,
                event_type=EVENT_TYPE,
                livemode=transfer.livemode,
                obj=_object(transfer),
                delay_seconds=0,
            )
        self.deliverer.wake()
        return True

    async def advance_transfer(
        self, transfer_id: str, status: str, failure_code: str | None = None
    ) -> bool:
        """Test helper: send ``status`` for the transfer now, through the real webhook path."""
        if status not in ADVANCE_STATUSES:
            raise ProviderError(f"cannot advance a transfer to {status!r}")
        async with self.db.transaction() as session:
            transfer = await _locked(session, transfer_id)
            if transfer is None or transfer.status == "canceled":
                return False
            if status in ("paid", "failed"):
                await cancel_scheduled(session, transfer_id)  # a forced end replaces the plan
            transfer.status = status
            transfer.failure_code = (
                (failure_code or "provider_forced") if status == "failed" else None
            )
            session.add(transfer)
            schedule_webhook(
                session,
                event_type=EVENT_TYPE,
                livemode=transfer.livemode,
                obj=_object(transfer),
                delay_seconds=0,
            )
        self.deliverer.wake()
        return True

    async def _create_in_one_statement(
        self, connection: AsyncConnection, request: TransferRequest
    ) -> Transfer:
        transfer_id = new_id("sbtr")
        now = utcnow()
        delay = self.config.delay_seconds
        obj = {
            "id": transfer_id,
            "object": "transfer",
            "status": "in_transit",
            "amount": request.amount,
            "currency": request.currency,
            "destination": request.external_account_id,
        }
        first = webhook_values(
            event_type=EVENT_TYPE,
            livemode=request.livemode,
            obj=obj,
            delay_seconds=delay,
            created=now,
        )
        final_created = now + timedelta(seconds=delay)
        paid = webhook_values(
            event_type=EVENT_TYPE,
            livemode=request.livemode,
            obj={**obj, "status": "paid"},
            delay_seconds=delay,
            created=final_created,
        )
        failed = webhook_values(
            event_type=EVENT_TYPE,
            livemode=request.livemode,
            obj=_failed(obj),
            delay_seconds=delay,
            created=final_created,
            event_id=paid["event_id"],
        )
        found = await statement.create_transfer(
            connection,
            transfer_id=transfer_id,
            key=request.idempotency_key,
            livemode=request.livemode,
            account_id=request.account_id,
            external_account_id=request.external_account_id,
            amount=request.amount,
            currency=request.currency,
            event_type=EVENT_TYPE,
            first=_webhook(first),
            paid=_webhook(paid),
            failed_payload=failed["payload"],
            now=now,
        )
        if found is None:
            raise ProviderError("unknown sandbox account or external account")
        return Transfer(id=found[0], status=found[1])

    async def _create(self, session: AsyncSession, request: TransferRequest) -> SandboxTransfer:
        existing = await _by_key(session, request.idempotency_key)
        if existing is not None:
            return existing
        destination = await session.get(SandboxExternalAccount, request.external_account_id)
        account = await session.get(SandboxAccount, request.account_id)
        if account is None or destination is None or destination.account_id != account.id:
            raise ProviderError("unknown sandbox account or external account")
        transfer = SandboxTransfer(
            idempotency_key=request.idempotency_key,
            livemode=request.livemode,
            account_id=account.id,
            external_account_id=destination.id,
            amount=request.amount,
            currency=request.currency,
            status="pending",
        )
        session.add(transfer)
        await session.flush()
        self._schedule_settlement(session, transfer, fails=destination.fails_transfers)
        return transfer

    def _schedule_settlement(
        self, session: AsyncSession, transfer: SandboxTransfer, *, fails: bool
    ) -> None:
        delay = self.config.delay_seconds
        now = utcnow()
        in_transit = {**_object(transfer), "status": "in_transit"}
        schedule_webhook(
            session,
            event_type=EVENT_TYPE,
            livemode=transfer.livemode,
            obj=in_transit,
            delay_seconds=delay,
            created=now,
        )
        final = {**_object(transfer), "status": "paid"}
        if fails:
            final = _failed(final)
        schedule_webhook(
            session,
            event_type=EVENT_TYPE,
            livemode=transfer.livemode,
            obj=final,
            delay_seconds=delay,
            created=now + timedelta(seconds=delay),
        )


def _failed(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        **obj,
        "status": "failed",
        "failure_code": "account_closed",
        "failure_message": FAILURE_MESSAGES["account_closed"],
    }


def _webhook(values: dict[str, Any]) -> statement.Webhook:
    return statement.Webhook(
        id=values["id"],
        event_id=values["event_id"],
        payload=values["payload"],
        deliver_at=values["deliver_at"],
    )


def _object(transfer: SandboxTransfer) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": transfer.id,
        "object": "transfer",
        "status": transfer.status,
        "amount": transfer.amount,
        "currency": transfer.currency,
        "destination": transfer.external_account_id,
    }
    if transfer.failure_code:
        obj["failure_code"] = transfer.failure_code
        obj["failure_message"] = FAILURE_MESSAGES.get(transfer.failure_code, "Transfer failed.")
    return obj


async def _by_key(session: AsyncSession, key: str) -> SandboxTransfer | None:
    result = await session.execute(
        sa.select(SandboxTransfer).where(col(SandboxTransfer.idempotency_key) == key)
    )
    return result.scalars().first()


async def _locked(session: AsyncSession, transfer_id: str) -> SandboxTransfer | None:
    stmt = sa.select(SandboxTransfer).where(col(SandboxTransfer.id) == transfer_id)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalars().first()


async def _has_started(session: AsyncSession, transfer_id: str) -> bool:
    """True once a webhook about the transfer was delivered or is being delivered. The rows are
    locked so the deliverer (which claims with SKIP LOCKED) cannot take them meanwhile."""
    table = SandboxWebhookDelivery
    stmt = sa.select(table).where(col(table.object_id) == transfer_id)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    rows = (await session.execute(stmt)).scalars().all()
    now = utcnow()
    return any(
        row.delivered_at is not None or (row.lease_until is not None and row.lease_until > now)
        for row in rows
    )
