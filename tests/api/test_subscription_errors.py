"""Errors in subscription events are shaped like any other: unexpected ones masked as INTERNAL,
each with a code, on every streamed result (throwaway schema, product error extension)."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry
from graphql import GraphQLError

from api.errors import ErrorShaping
from api.execution import PayoutsExecutionContext
from api.schema import PayoutsSchema


@strawberry.type
class Item:
    n: int

    @strawberry.field
    def detail(self) -> str:
        if self.n == 1:
            raise RuntimeError("connection string postgres://secret@db")
        return "fine"


@strawberry.type
class Query:
    ok: bool = True


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def items(self) -> AsyncGenerator[Item, None]:
        for n in range(3):
            yield Item(n=n)

    @strawberry.subscription
    async def refused(self) -> AsyncGenerator[Item, None]:
        raise GraphQLError("after is not a valid event cursor")
        yield Item(n=0)  # pragma: no cover


SCHEMA = PayoutsSchema(
    query=Query,
    subscription=Subscription,
    extensions=[ErrorShaping],
    execution_context_class=PayoutsExecutionContext,
)


async def test_unexpected_error_in_one_event_is_masked_and_the_stream_goes_on() -> None:
    results = [r async for r in await SCHEMA.subscribe("subscription { items { n detail } }")]
    assert [r.data for r in results] == [
        {"items": {"n": 0, "detail": "fine"}},
        None,
        {"items": {"n": 2, "detail": "fine"}},
    ]
    (error,) = results[1].errors or []
    assert error.extensions is not None and error.extensions["code"] == "INTERNAL"
    assert "secret" not in error.message


async def test_expected_error_keeps_its_message_and_gets_a_code() -> None:
    results = [r async for r in await SCHEMA.subscribe("subscription { refused { n } }")]
    (error,) = results[-1].errors or []
    assert error.message == "after is not a valid event cursor"
    assert error.extensions == {"code": "BAD_USER_INPUT"}
