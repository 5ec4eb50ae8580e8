"""Signed but malformed provider events (issue 17, item 13): 400, never a 500 a provider would
retry for days, and the raw event kept for inspection. Unsigned junk is 401 and kept nowhere."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import col
from standardwebhooks.webhooks import Webhook

from api.settings import Settings
from models import ProviderEvent, RejectedProviderEvent
from models.base import new_id, utcnow
from services.infra.database import Database
from tests.support.live_server import LiveServer
from tests.support.webhooks import sandbox_event, signed

pytestmark = pytest.mark.e2e


def transfer_event(**changes: Any) -> dict[str, Any]:
    event = sandbox_event("transfer.updated", {"id": new_id("sbtr"), "status": "paid"})
    event.update(changes)
    return event


def signed_raw(body: bytes, webhook_id: str) -> dict[str, str]:
    stamp = utcnow()
    signature = Webhook(Settings().sandbox_webhook_secret).sign(webhook_id, stamp, body.decode())
    return {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(stamp.timestamp())),
        "webhook-signature": signature,
    }


async def kept(db: Database, body: bytes) -> list[RejectedProviderEvent]:
    async with db.read() as session:
        rows = await session.execute(
            sa.select(RejectedProviderEvent).where(col(RejectedProviderEvent.body) == body)
        )
        return list(rows.scalars())


async def stored_events(db: Database, marker: str) -> int:
    async with db.read() as session:
        result = await session.execute(
            sa.select(sa.func.count()).where(col(ProviderEvent.event_id).endswith(marker))
        )
        return int(result.scalar_one())


async def post(server: LiveServer, body: bytes, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.post(f"{server.url}/webhooks/sandbox", content=body, headers=headers)


@pytest.mark.parametrize(
    "problem",
    [
        "naive created",
        "NUL in id",
        "lone surrogate in id",
        "id too long",
        "object id too long",
        "NUL in failure message",
        "not an object",
        "nested JSON",
    ],
)
async def test_signed_malformed_event_is_400_and_kept(
    server: LiveServer, db: Database, problem: str
) -> None:
    marker = new_id("m")  # ends every event id: found without sending odd characters
    event_id = f"sbevt_{marker}"
    if problem == "naive created":
        body, headers = signed(transfer_event(id=event_id, created="2026-01-01T00:00:00"))
    elif problem == "NUL in id":
        body = json.dumps(transfer_event(id=f"sbevt_\x00{marker}")).encode()
        headers = signed_raw(body, f"msg_{marker}")
    elif problem == "lone surrogate in id":
        body = (
            b'{"id":"sbevt_\\ud800%s","type":"transfer.updated","created":"%s",'
            % (marker.encode(), utcnow().isoformat().encode())
            + b'"livemode":false,"data":{"object":{"id":"sbtr_x","status":"paid"}}}'
        )
        headers = signed_raw(body, f"msg_{marker}")
    elif problem == "id too long":
        event_id = "sbevt_" + "x" * 200 + marker
        body, headers = signed(transfer_event(id=event_id))
    elif problem == "object id too long":
        event = transfer_event(id=event_id)
        event["data"]["object"]["id"] = "sbtr_" + "y" * 300
        body, headers = signed(event)
    elif problem == "NUL in failure message":
        event = transfer_event(id=event_id)
        event["data"]["object"].update(status="failed", failure_message="bank \x00 said no")
        body, headers = signed(event)
    elif problem == "not an object":
        body = b'["transfer.updated"]'
        headers = signed_raw(body, event_id)
    else:
        body = b'{"id":"%s","data":%s}' % (event_id.encode(), b"[" * 20_000 + b"]" * 20_000)
        headers = signed_raw(body, event_id)
    response = await post(server, body, headers)
    assert response.status_code == 400, response.text
    [row] = await kept(db, body)
    assert row.provider == "sandbox" and row.id == response.json()["kept"]
    assert await stored_events(db, marker) == 0


@pytest.mark.parametrize("problem", ["not UTF-8", "garbled signature header"])
async def test_unsigned_junk_is_401_and_kept_nowhere(
    server: LiveServer, db: Database, problem: str
) -> None:
    body, headers = signed(transfer_event())
    if problem == "not UTF-8":
        body = b"\xff\xfe" + body
    else:
        headers["webhook-signature"] = "no-comma-here"
    response = await post(server, body, headers)
    assert response.status_code == 401, response.text
    assert await kept(db, body) == []


async def test_signed_event_with_an_over_long_failure_message_is_taken(
    server: LiveServer, db: Database
) -> None:
    event = transfer_event()
    event["data"]["object"].update(status="failed", failure_message="z" * 5000)
    body, headers = signed(event)
    response = await post(server, body, headers)
    assert response.status_code == 200, response.text  # cut to fit, not refused
    assert await kept(db, body) == []
    assert await stored_events(db, str(event["id"])) == 1
