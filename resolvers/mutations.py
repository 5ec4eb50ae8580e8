"""One way to run every mutation: auth, idempotency, one transaction, errors → userErrors."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, Protocol, TypeVar, get_type_hints

import strawberry
from graphql import FieldNode, OperationType

from resolvers.auth import require_viewer
from resolvers.context import Info
from resolvers.errors import UserError, user_errors_from
from resolvers.node import Node
from resolvers.snapshot import dump, load
from services import idempotency
from services.errors import DomainError
from services.infra.database import Database, Session
from services.organizations.api_keys import Viewer


class Payload(Protocol):
    user_errors: list[UserError]


P = TypeVar("P", bound=Payload)
Action = Callable[[Session, Viewer, Any], Awaitable[P]]
Prepare = Callable[[Info, Any, Viewer], Awaitable[Any]]


def idempotency_key_field() -> Any:
    """An input's ``idempotencyKey`` with the short description. A fresh field per input type:
    strawberry binds a field object to its class."""
    return strawberry.field(
        default=None, description="Same key and input within 24 h replays the first payload."
    )


def request_of(input: Any) -> dict[str, Any]:
    """A mutation's input as data, without its idempotency key: what the request is."""
    return {k: v for k, v in dump(input).items() if k != "idempotency_key"}


def run_mutation(
    body: Callable[..., Awaitable[Any]] | None = None, *, prepare: Prepare | None = None
) -> Any:
    """Turn a mutation body into the field's resolver: auth, idempotency, one transaction,
    ``DomainError`` → ``userErrors`` with nothing changed.

    The body is ``async def field(self, info, input, session, viewer) -> Payload`` (plus
    ``prepared`` with ``prepare``); the resolver GraphQL sees is ``(info, input) -> Payload``.
    The mutation's name (for idempotency) is the GraphQL field's own name.

    With an idempotency key (``input.idempotencyKey`` or the ``Idempotency-Key`` header of a
    single-mutation request) the payload is stored in the same transaction and replayed for
    the same request.

    ``prepare(info, input, viewer)`` runs first, outside any transaction, once the key is
    claimed: the place for slow or external work (document download, provider calls made with
    their own idempotency keys). It must not write our tables; what it returns is passed to the
    body as ``prepared``.
    """

    def decorate(body: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        hints = get_type_hints(body)
        payload = hints["return"]

        async def resolver(self: Any, info: Info, input: Any) -> Any:
            async def action(session: Session, viewer: Viewer, prepared: Any) -> Any:
                if prepare is None:
                    return await body(self, info, input, session, viewer)
                return await body(self, info, input, session, viewer, prepared=prepared)

            before = None
            if prepare is not None:
                step = prepare

                async def before_transaction(viewer: Viewer) -> Any:
                    return await step(info, input, viewer)

                before = before_transaction
            return await _run(info, input, payload, action, before)

        resolver.__name__ = body.__name__
        resolver.__qualname__ = body.__qualname__
        resolver.__module__ = body.__module__
        resolver.__doc__ = body.__doc__
        # What strawberry reads to build the field: its arguments and its type.
        resolver.__annotations__ = {"info": Info, "input": hints["input"], "return": payload}
        return resolver

    return decorate if body is None else decorate(body)


async def _run(
    info: Info,
    input: Any,
    payload: type[P],
    action: Action[P],
    prepare: Callable[[Viewer], Awaitable[Any]] | None,
) -> P:
    viewer = require_viewer(info)
    db = info.context.db
    name = info.field_name
    key = getattr(input, "idempotency_key", None) or _header_key(info)
    if key is None:
        return await _execute(db, viewer, payload, action, None, prepare)
    scope = idempotency.Scope(viewer.organization_id, viewer.livemode, key)
    request = request_of(input)
    try:
        stored = await idempotency.claim(
            db,
            scope,
            name,
            idempotency.fingerprint(_secret_key(info), name, request),
            stale_after=_stale_claim(info),
        )
    except DomainError as error:
        return payload(user_errors=user_errors_from(error))  # type: ignore[call-arg]
    if stored is not None:
        return await as_it_is_now(info, viewer, load(payload, json.loads(stored)))
    return await _execute(db, viewer, payload, action, scope, prepare)


async def _execute(
    db: Database,
    viewer: Viewer,
    payload: type[P],
    action: Action[P],
    scope: idempotency.Scope | None,
    prepare: Callable[[Viewer], Awaitable[Any]] | None,
) -> P:
    try:
        prepared = None if prepare is None else await prepare(viewer)
        async with db.transaction() as session:
            result = await action(session, viewer, prepared)
            if scope is not None:
                await idempotency.complete(session, scope, _encode(result))
        return result
    except DomainError as error:
        failed = payload(user_errors=user_errors_from(error))  # type: ignore[call-arg]
        if scope is not None:
            await _remember_failure(db, scope, error, failed)
        return failed
    except BaseException:
        if scope is not None:
            await asyncio.shield(idempotency.release(db, scope))
        raise


async def _remember_failure(
    db: Database, scope: idempotency.Scope, error: DomainError, failed: Payload
) -> None:
    # Malformed input never "executed": free the key so a corrected request can use it.
    if error.code == "VALIDATION_ERROR":
        await idempotency.release(db, scope)
        return
    async with db.transaction() as session:
        await idempotency.complete(session, scope, _encode(failed))


async def as_it_is_now(info: Info, viewer: Viewer, replayed: P) -> P:
    """A replayed payload with its objects read again: the stored payload decides *which*
    objects (the same payout, never a new one), not their fields, which may have moved on
    since (a provider transfer id, a status)."""
    for field in dataclasses.fields(replayed):  # type: ignore[arg-type]
        value = getattr(replayed, field.name)
        if isinstance(value, Node):
            setattr(replayed, field.name, await _current(info, viewer, value))
        elif isinstance(value, list) and any(isinstance(item, Node) for item in value):
            setattr(replayed, field.name, [await _current(info, viewer, item) for item in value])
    return replayed


async def _current(info: Info, viewer: Viewer, value: Any) -> Any:
    if not isinstance(value, Node):
        return value
    from resolvers.node_query import load_node  # the table of every domain's loader

    current = await load_node(info, viewer, str(value.id))
    return value if current is None else current  # gone since: the stored one is all there is


def _secret_key(info: Info) -> str:
    return info.context.services.secret_key


def _stale_claim(info: Info) -> timedelta:
    return info.context.services.idempotency_stale_claim


def _encode(result: Any) -> str:
    return json.dumps(dump(result), separators=(",", ":"))


def _header_key(info: Info) -> str | None:
    header = info.context.idempotency_key_header
    if header is None:
        return None
    operation = info.operation
    if operation.operation != OperationType.MUTATION:
        return None
    fields = [s for s in operation.selection_set.selections if isinstance(s, FieldNode)]
    return header if len(operation.selection_set.selections) == 1 and len(fields) == 1 else None
