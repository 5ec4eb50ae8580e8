"""The real app plus one test-only subscription that stays open (``testHold``), for WebSocket
limit tests while the product schema has no subscription field of its own yet. Served by
uvicorn with the same WebSocket settings ``payouts serve`` uses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import strawberry
from starlette.applications import Starlette

from api import app, schema


@strawberry.type
class HoldSubscription:
    @strawberry.subscription
    async def test_hold(self) -> AsyncGenerator[int, None]:
        yield 1
        await asyncio.Event().wait()  # open until the client completes or disconnects


def create_app() -> Starlette:
    schema.SUBSCRIPTION_TYPES = (*schema.SUBSCRIPTION_TYPES, HoldSubscription)
    return app.create_app()


def main() -> None:
    import os

    import uvicorn

    from api.logging import configure_logging
    from api.settings import Settings

    settings = Settings()
    configure_logging(settings.log_level, fmt=settings.log_format)
    uvicorn.run(
        "tests.support.ws_test_app:create_app",
        factory=True,
        host="127.0.0.1",
        port=int(os.environ["PAYOUTS_PORT"]),
        ws_max_size=settings.ws_max_message_bytes,
        log_config=None,
        access_log=False,
    )


if __name__ == "__main__":
    main()
