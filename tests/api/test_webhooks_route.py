"""``POST /webhooks/{provider}`` on the running server: signatures, storage, duplicates."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import col

from models import ProviderEvent
from models.base import new_id
from services.infra.database import Database
from tests.support.live_server import LiveServer
from tests.support.webhooks import sandbox_event, signed

pytestmark = pytest.mark.e2e


async def stored(db: Database, event_id: str) -> int:
    async with db.read() as session:
        result = await session.execute(
            sa.select(sa.func.count()).where(col(ProviderEvent.event_id) == event_id)
        )
        return int(result.scalar_one())


def unknown_transfer_event() -> dict[str, object]:
    return sandbox_event("transfer.updated", {"id": new_id("sbtr"), "status": "paid"})


async def test_signed_event_is_stored_once_for_five_deliveries(
    server: LiveServer, db: Database
) -> None:
    payload = unknown_transfer_event()
    body, headers = signed(payload)
    async with httpx.AsyncClient() as http:
        responses = await asyncio.gather(
            *(
                http.post(f"{server.url}/webhooks/sandbox", content=body, headers=headers)
                for _ in range(5)
            )
        )
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    assert sum(1 for r in responses if r.json()["duplicate"]) == 4
    assert await stored(db, str(payload["id"])) == 1


@pytest.mark.parametrize("problem", ["bad-signature", "stale", "missing-headers", "wrong-secret"])
async def test_bad_signature_is_rejected_and_nothing_stored(
    server: LiveServer, db: Database, problem: str
) -> None:
    payload = unknown_transfer_event()
    if problem == "stale":
        body, headers = signed(payload, age=timedelta(minutes=6))
    elif problem == "wrong-secret":
        body, headers = signed(payload, secret="whsec_" + "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldA==")
    else:
        body, headers = signed(payload)
        if problem == "bad-signature":
            headers["webhook-signature"] = "v1,AAAA" + headers["webhook-signature"][7:]
        else:
            headers = {"content-type": "application/json"}
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{server.url}/webhooks/sandbox", content=body, headers=headers)
    assert response.status_code in (400, 401)
    assert await stored(db, str(payload["id"])) == 0


async def test_tampered_body_is_rejected(server: LiveServer, db: Database) -> None:
    payload = unknown_transfer_event()
    body, headers = signed(payload)
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{server.url}/webhooks/sandbox",
            content=body.replace(b'"paid"', b'"failed"'),
            headers=headers,
        )
    assert response.status_code == 401
    assert await stored(db, str(payload["id"])) == 0


async def test_signed_but_malformed_event_is_400(server: LiveServer, db: Database) -> None:
    payload = sandbox_event("transfer.updated", {"id": "x", "status": "teleported"})
    body, headers = signed(payload)
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{server.url}/webhooks/sandbox", content=body, headers=headers)
    assert response.status_code == 400
    assert await stored(db, str(payload["id"])) == 0


async def test_unknown_provider_is_404(server: LiveServer) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{server.url}/webhooks/nope", content=b"{}")
    assert response.status_code == 404


async def test_event_for_unknown_object_is_kept_pending(server: LiveServer, db: Database) -> None:
    payload = unknown_transfer_event()
    body, headers = signed(payload)
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{server.url}/webhooks/sandbox", content=body, headers=headers)
    assert response.json() == {"received": True, "duplicate": False, "applied": False}
    async with db.read() as session:
        row = (
            await session.execute(
                sa.select(ProviderEvent).where(col(ProviderEvent.event_id) == payload["id"])
            )
        ).scalar_one()
    assert row.applied_at is None and row.object_kind == "transfer"


async def test_webhook_answers_carry_the_request_id_and_other_methods_reach_the_router(
    server: LiveServer,
) -> None:
    """The webhook lane serves POST /webhooks/{provider} before the router; the request id
    middleware still sees it, and everything else is answered by the router as before."""
    body, headers = signed(unknown_transfer_event())
    async with httpx.AsyncClient() as http:
        posted = await http.post(
            f"{server.url}/webhooks/sandbox",
            content=body,
            headers={**headers, "x-request-id": "req-webhook-lane-1"},
        )
        fetched = await http.get(f"{server.url}/webhooks/sandbox")
        nested = await http.post(
            f"{server.url}/webhooks/sandbox/extra", content=body, headers=headers
        )
    assert posted.status_code == 200 and posted.headers["x-request-id"] == "req-webhook-lane-1"
    assert fetched.status_code == 405
    assert nested.status_code == 404


async def test_oversized_webhook_is_413_and_nothing_stored(
    server: LiveServer, db: Database
) -> None:
    payload = unknown_transfer_event()
    body, headers = signed(payload)
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{server.url}/webhooks/sandbox", content=body + b" " * 300_000, headers=headers
        )
    assert response.status_code == 413
    assert await stored(db, str(payload["id"])) == 0
