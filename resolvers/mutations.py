"""One way to run every mutation: auth, idempotency, one transaction, errors → userErrors."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from graphql import FieldNode, OperationType

from resolvers.auth import require_viewer
from resolvers.context import Info
from resolvers.errors import UserError, user_errors_from
from resolvers.snapshot import dump, load
from services import idempotency
from services.errors import DomainError
from services.infra.database import Database, Session
from services.organizations.api_keys import Viewer


class Payload(Protocol):
    user_errors: list[UserError]


P = TypeVar("P", bound=Payload)
Action = Callable[[Session, Viewer], Awaitable[P]]
Prepare = Callable[[Viewer], Awaitable[None]]


async def run_mutation(
    info: Info,
    *,
    name: str,
    input: Any,
    payload: type[P],
    action: Action[P],
    prepare: Prepare | None = None,
) -> P:
    """Run ``action`` in one transaction and return its payload.

    A ``DomainError`` rolls everything back and becomes ``userErrors``. With an idempotency key
    (``input.idempotencyKey`` or the ``Idempotency-Key`` header of a single-mutation request),
    the payload is stored in the same transaction and replayed for the same request.

    ``prepare`` runs first, outside any transaction, once the key is claimed: the place for slow
    or external work (document download, provider calls made with their own idempotency keys).
    It must not write our tables; ``action`` does that afterwards.
    """
    viewer = require_viewer(info)
    db = info.context.db
    key = getattr(input, "idempotency_key", None) or _header_key(info)
    if key is None:
        return await _execute(db, viewer, payload, action, None, prepare)
    scope = idempotency.Scope(viewer.organization_id, viewer.livemode, key)
    request = {k: v for k, v in dump(input).items() if k != "idempotency_key"}
    try:
        stored = await idempotency.claim(
            db, scope, name, idempotency.fingerprint(_secret_key(info), name, request)
        )
    except DomainError as error:
        return payload(user_errors=user_errors_from(error))  # type: ignore[call-arg]
    if stored is not None:
        return load(payload, json.loads(stored))
    return await _execute(db, viewer, payload, action, scope, prepare)


async def _execute(
    db: Database,
    viewer: Viewer,
    payload: type[P],
    action: Action[P],
    scope: idempotency.Scope | None,
    prepare: Prepare | None,
) -> P:
    try:
        if prepare is not None:
            await prepare(viewer)
        async with db.transaction() as session:
            result = await action(session, viewer)
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


def _secret_key(info: Info) -> str:
    return info.context.services.secret_key


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
