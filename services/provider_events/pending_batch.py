"""PostgreSQL: events about objects not stored yet, stored pending by one statement per batch.

``store_pending`` costs one round trip and one commit (a WAL flush) per event. Under a burst of
deliveries, the events that arrive while a statement is in flight are stored together by the
next one: each is still stored exactly as ``store_pending`` would store it (or left to the
transaction when its object is known, or answered as a duplicate), each caller gets its own
outcome, and a statement's rows commit together. At most ``max_in_flight`` statements run at
once; an event arriving while fewer run goes out on the next turn of the event loop (no timer,
no added wait when the server is idle).

Rows are inserted in (provider, event id) order: two batches holding the same events (a
provider's retries) wait for each other in one order, never in a cycle (PostgreSQL would abort
one after its deadlock timeout, a second later).

A batch whose statement fails for another reason than its connection (a value the table
refuses...) is stored again event by event with ``store_pending``, so that one bad event fails
alone, as it did before batching.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from datetime import datetime

from models.base import new_id, utcnow
from providers.base import WebhookEvent
from services.infra.statement_pool import DEAD_CONNECTION, StatementPool
from services.provider_events.ingest import IngestResult, _known_objects, store_pending

MAX_BATCH = 64

_STORE_BATCH = """
WITH batch AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::boolean[],
    $6::text[], $7::text[], $8::text[], $9::timestamptz[], $10::timestamptz[])
    AS r(id, provider, event_id, type, livemode, object_kind, object_id, data, occurred_at,
      received_at)
),
known AS (SELECT e.id FROM batch AS e WHERE {known}),
stored AS (
  INSERT INTO provider_events (id, provider, event_id, type, livemode, object_kind, object_id,
    data, occurred_at, received_at, applied_at)
  SELECT id, provider, event_id, type, livemode, object_kind, object_id, data, occurred_at,
    received_at, NULL
  FROM batch WHERE id NOT IN (SELECT id FROM known)
  ORDER BY provider, event_id
  ON CONFLICT (provider, event_id) DO NOTHING
  RETURNING id
)
SELECT (SELECT coalesce(array_agg(id), '{{}}') FROM known) AS known,
  (SELECT coalesce(array_agg(id), '{{}}') FROM stored) AS stored
"""
_KIND = re.compile(r"^[a-z_]+$")


def _store_batch_statement() -> str:
    conditions = []
    for kind, sql in sorted(_known_objects().items()):
        if not _KIND.match(kind):
            raise ValueError(f"object kind {kind!r} is not a plain name")
        known = sql.format(provider="e.provider", object_id="e.object_id", livemode="e.livemode")
        conditions.append(f"(e.object_kind = '{kind}' AND EXISTS ({known}))")
    return _STORE_BATCH.format(known=" OR ".join(conditions) or "false")


@dataclass(slots=True)
class _Waiting:
    provider: str
    event: WebhookEvent
    row_id: str
    data: str
    received_at: datetime
    outcome: asyncio.Future[IngestResult | None] = field(repr=False)


class PendingBatcher:
    """One per process, beside ``Database.statement_pool``."""

    def __init__(self, statements: StatementPool, max_in_flight: int) -> None:
        self.statements = statements
        self.max_in_flight = max_in_flight
        self._queue: list[_Waiting] = []
        self._in_flight = 0
        self._launch_scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._sql: str | None = None

    async def store(self, provider: str, event: WebhookEvent) -> IngestResult | None:
        """``ingest.store_pending``, batched with the events stored at the same time."""
        if event.occurred_at.tzinfo is None:
            return None  # refused by ``ingest`` (UTC columns take aware datetimes only)
        loop = asyncio.get_running_loop()
        waiting = _Waiting(
            provider,
            event,
            new_id("pevt"),
            json.dumps(dict(event.data), separators=(",", ":"), default=str),
            utcnow(),
            loop.create_future(),
        )
        self._queue.append(waiting)
        self._schedule(loop)
        return await waiting.outcome

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        if not self._launch_scheduled and self._in_flight < self.max_in_flight:
            self._launch_scheduled = True
            loop.call_soon(self._launch)

    def _launch(self) -> None:
        self._launch_scheduled = False
        while self._queue and self._in_flight < self.max_in_flight:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            self._in_flight += 1
            task = asyncio.get_running_loop().create_task(self._flush(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _flush(self, batch: list[_Waiting]) -> None:
        try:
            outcomes = await self._stored(batch)
        except Exception as exc:
            for waiting in batch:
                if not waiting.outcome.done():
                    waiting.outcome.set_exception(exc)
        except BaseException:  # cancelled (the server stops): so are its callers
            for waiting in batch:
                waiting.outcome.cancel()
            raise
        else:
            for waiting, outcome in zip(batch, outcomes, strict=True):
                if not waiting.outcome.done():
                    if isinstance(outcome, BaseException):
                        waiting.outcome.set_exception(outcome)
                    else:
                        waiting.outcome.set_result(outcome)
        finally:
            self._in_flight -= 1
            if self._queue:
                self._schedule(asyncio.get_running_loop())

    async def _stored(
        self, batch: list[_Waiting]
    ) -> list[IngestResult | None] | list[IngestResult | None | BaseException]:
        if len(batch) == 1:
            only = batch[0]
            return [await store_pending(self.statements, only.provider, only.event)]
        if self._sql is None:
            self._sql = _store_batch_statement()
        try:
            row = await self.statements.fetchrow(
                self._sql,
                (
                    [w.row_id for w in batch],
                    [w.provider for w in batch],
                    [w.event.id for w in batch],
                    [w.event.type for w in batch],
                    [w.event.livemode for w in batch],
                    [w.event.object_kind for w in batch],
                    [w.event.object_id for w in batch],
                    [w.data for w in batch],
                    [w.event.occurred_at for w in batch],
                    [w.received_at for w in batch],
                ),
            )
        except DEAD_CONNECTION:
            raise  # already run again once on a fresh connection: the database is away
        except Exception:
            # One event the table refuses fails alone, as without batching.
            return list(
                await asyncio.gather(
                    *(store_pending(self.statements, w.provider, w.event) for w in batch),
                    return_exceptions=True,
                )
            )
        assert row is not None  # the final SELECT always returns one row
        known, stored = set(row["known"]), set(row["stored"])
        return [
            None
            if w.row_id in known
            else IngestResult(duplicate=w.row_id not in stored, applied=False)
            for w in batch
        ]
