"""An idle outbound webhook deliverer polls with one statement per interval: the fan-out
backlog and the due deliveries are asked in the same read."""

from __future__ import annotations

import asyncio
from typing import Any

import sqlalchemy as sa

from services.infra.database import Database
from services.webhook_endpoints.deliverer import Deliverer
from services.webhook_endpoints.policy import WebhookPolicy
from services.webhook_endpoints.secrets import SecretBox
from services.webhook_endpoints.transport import WebhookTransport


async def test_an_idle_poll_is_one_statement(private_database_url: str) -> None:
    db = Database(private_database_url)
    polls: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "webhook_event_cursors" in statement or "webhook_deliveries" in statement:
            polls.append(statement)

    engines = {db.read_engine.sync_engine, db.write_engine.sync_engine}
    for engine in engines:
        sa.event.listen(engine, "before_cursor_execute", seen)
    transport = WebhookTransport(allow_private=True)
    deliverer = Deliverer(
        db, SecretBox("server-secret"), transport, WebhookPolicy(poll_interval_seconds=0.05)
    )
    task = asyncio.create_task(deliverer.run())
    try:
        await asyncio.sleep(0.6)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await transport.close()
        for engine in engines:
            sa.event.remove(engine, "before_cursor_execute", seen)
        await db.dispose()
    asked = [s for s in polls if "min(" not in s]  # the queue-age gauge reads on its own
    assert len(asked) >= 3, "the deliverer polled"
    for statement in asked:
        assert "webhook_event_cursors" in statement and "webhook_deliveries" in statement
