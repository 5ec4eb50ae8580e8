"""A gql WebSocket subscriber for end-to-end live-update tests: collects results in the
background with their receipt time, so a test can wait for some and check that others never
came."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from gql import Client, gql
from gql.client import AsyncClientSession
from gql.transport.websockets import WebsocketsTransport

from services.infra.database import Database
from services.infra.event_streams import encode_event_cursor, log_head
from tests.support.live_server import LiveServer

PROTOCOL = [WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL]  # "graphql-transport-ws"

PAYOUT_UPDATED = """subscription ($id: ID, $after: String) {
  payoutUpdated(id: $id, after: $after) {
    cursor type occurredAt
    payout { id status amount statusHistory { status } destinationBank { id } }
  }
}"""
BALANCE_UPDATED = """subscription ($after: String) {
  balanceUpdated(after: $after) {
    cursor type occurredAt balance { available pending inTransit paidOut livemode }
  }
}"""
PAYOUT_ACCOUNT_UPDATED = """subscription ($after: String) {
  payoutAccountUpdated(after: $after) {
    cursor type occurredAt payoutAccount { id status livemode }
  }
}"""
_OPEN = re.compile(r"^payouts_open_subscriptions(?:\{[^}]*\})? ([0-9.e+]+)$", re.M)


@dataclass(frozen=True)
class Received:
    at: datetime
    data: dict[str, Any]


@asynccontextmanager
async def ws_session(url: str, key: str) -> AsyncIterator[AsyncClientSession]:
    transport = WebsocketsTransport(url=url, subprotocols=PROTOCOL, init_payload={"x-api-key": key})
    async with Client(transport=transport) as session:
        yield session


class Subscriber:
    """One subscription on a gql session, read in the background."""

    def __init__(
        self, session: AsyncClientSession, query: str, variables: dict[str, Any] | None = None
    ) -> None:
        request = gql(query)
        request.variable_values = variables or {}
        self.field = query.split("{", 2)[1].split("(")[0].strip()
        self.received: list[Received] = []
        self._arrived = asyncio.Event()
        self._updates = session.subscribe(request)
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        try:
            async for result in self._updates:
                self.received.append(Received(datetime.now(UTC), result[self.field]))
                self._arrived.set()
        finally:
            self._arrived.set()

    @property
    def events(self) -> list[dict[str, Any]]:
        return [r.data for r in self.received]

    async def wait_for(self, count: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        async with asyncio.timeout(timeout):
            while len(self.received) < count:
                if self._task.done():
                    self._task.result()
                    raise AssertionError(f"the subscription ended early: {self.events}")
                self._arrived.clear()
                await self._arrived.wait()
        return self.events

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task
        with contextlib.suppress(Exception):
            await self._updates.aclose()


async def open_subscriptions(server: LiveServer) -> float:
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"{server.url}/metrics")).text
    return sum(float(m) for m in _OPEN.findall(text))


async def metric(server: LiveServer, name: str) -> float:
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"{server.url}/metrics")).text
    pattern = re.compile(rf"^{re.escape(name)}(?:\{{[^}}]*\}})? ([0-9.e+]+)$", re.M)
    return sum(float(m) for m in pattern.findall(text))


async def wait_for_open_subscriptions(server: LiveServer, count: float) -> None:
    """Until the server has at least ``count`` subscription operations open."""
    async with asyncio.timeout(15):
        while await open_subscriptions(server) < count:
            await asyncio.sleep(0.02)


async def head_cursor(db: Database, organization_id: str) -> str | None:
    """A cursor at the organization's last event (None before its first): subscribing
    ``after`` it misses nothing committed from now on, however late the server sees the
    subscription."""
    head = await log_head(db, organization_id)
    return encode_event_cursor(head) if head else None
