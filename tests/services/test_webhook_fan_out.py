"""The fan-out from the event log: each event once per matching endpoint (however many passes
run at once), nothing from before an endpoint existed or from another mode, types filtered."""

from __future__ import annotations

import asyncio
import json

import sqlalchemy as sa
from sqlmodel import col

from models.webhook_endpoint import WebhookDelivery
from services.infra.database import Database
from services.ledger import service as ledger
from services.organizations import api_keys
from services.webhook_endpoints import dispatch, service
from services.webhook_endpoints.policy import WebhookPolicy
from services.webhook_endpoints.secrets import SecretBox

POLICY = WebhookPolicy()
BOX = SecretBox("test-secret-key")


async def credit(db: Database, org_id: str, livemode: bool, amount: int) -> None:
    async with db.transaction() as session:
        await ledger.credit(
            session,
            organization_id=org_id,
            livemode=livemode,
            currency="usd",
            amount=amount,
            description=None,
            available_in_seconds=0,
        )


async def endpoint(db: Database, viewer: api_keys.Viewer, events: list[str] | None) -> str:
    async with db.transaction() as session:
        created = await service.create_endpoint(
            session,
            viewer,
            BOX,
            POLICY,
            url="https://203.0.114.9/hook",
            events=events,
            description=None,
        )
    return created.endpoint.id


async def test_each_event_fans_out_once_to_matching_endpoints(private_database_url: str) -> None:
    db = Database(private_database_url)
    try:
        async with db.transaction() as session:
            org = await api_keys.create_organization(session, name="Fan-out")
        test = api_keys.Viewer(org.organization.id, "Fan-out", "US", "usd", False, "key_t")
        live = api_keys.Viewer(org.organization.id, "Fan-out", "US", "usd", True, "key_l")
        await credit(db, org.organization.id, False, 100)  # before any endpoint: never sent
        every = await endpoint(db, test, None)
        paid_only = await endpoint(db, test, ["payout.paid"])
        live_every = await endpoint(db, live, None)
        for amount in (200, 300, 400):
            await credit(db, org.organization.id, False, amount)
        # Several passes at once (every process runs one): still one delivery per event.
        await asyncio.gather(*(dispatch.fan_out_pass(db) for _ in range(4)))
        assert await dispatch.fan_out_pass(db) == 0
        assert not await dispatch.has_backlog(db)
        async with db.read() as session:
            rows = list(
                (
                    await session.execute(
                        sa.select(WebhookDelivery).where(
                            col(WebhookDelivery.organization_id) == org.organization.id
                        )
                    )
                ).scalars()
            )
    finally:
        await db.dispose()
    assert {r.endpoint_id for r in rows} == {every}  # not paid_only, not live_every
    assert paid_only and live_every
    amounts = sorted(json.loads(r.body)["data"]["availableAmount"] for r in rows)
    assert amounts == [300, 600, 1000]  # the whole available balance after each release
    assert all(r.event_type == "payout.available" and r.status == "PENDING" for r in rows)
    assert len({r.event_id for r in rows}) == 3
