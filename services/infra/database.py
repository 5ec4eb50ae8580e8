"""Engines, sessions and the unit of work (commit, then publish the events it recorded)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from sqlalchemy import Select, TextClause, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import AsyncAdaptedQueuePool
from sqlalchemy.util import await_

from services.infra.events import (
    EventBus,
    NullBus,
    PublishedEvent,
    persist_pending_events,
)
from services.infra.read_pool import ReadPool
from services.infra.statement_pool import StatementPool

log = logging.getLogger(__name__)

# The session type the edges name in their signatures (they never import SQLAlchemy).
Session = AsyncSession
AfterCommit = Callable[[], Awaitable[None]]
T = TypeVar("T")
_AFTER_COMMIT_KEY = "after_commit"
# Set around the checkout of ``Database.run_statement``'s connection: no pre-ping (the
# statement itself finds a dead connection, and is retried on a fresh one).
_UNPINGED_CHECKOUT: ContextVar[bool] = ContextVar("unpinged_checkout", default=False)
_WRITTEN_EVENTS_KEY = "written_events"


def after_commit(session: AsyncSession, callback: AfterCommit) -> None:
    """Run ``callback`` once the session's transaction has committed (never if it rolls back).

    For work that must not hold the transaction open, such as a provider call; whatever it
    does must be safe to redo, because a crash can lose it (reconcilers pick it up).
    """
    session.info.setdefault(_AFTER_COMMIT_KEY, []).append(callback)


def published_later(session: AsyncSession, events: Iterable[PublishedEvent]) -> None:
    """Events a statement already wrote to the log (with their sequence numbers): publish
    them after the transaction commits, before those ``record_event`` queued."""
    session.info.setdefault(_WRITTEN_EVENTS_KEY, []).extend(events)


class Database:
    """Two session factories: ``transaction()`` for writes, ``read()`` for queries.

    On SQLite every write goes through one connection that opens with ``BEGIN IMMEDIATE``:
    writers are serialized (our stand-in for row locks) and "database is locked" cannot happen
    between our own writers. Reads use a separate small pool (WAL lets them run beside a writer).
    On PostgreSQL both factories share one pooled engine and services lock rows explicitly.
    """

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 10) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.bus: EventBus = NullBus()
        if self.is_sqlite:
            self.write_engine = _sqlite_engine(url, echo=echo, pool_size=1, immediate=True)
            self.read_engine = _sqlite_engine(url, echo=echo, pool_size=4, immediate=False)
        else:
            # Pre-ping stays on (without it, one operation per pooled connection fails after
            # the database restarts or kills its connections: tests/api/test_auth.py), but
            # the ping is the transaction's own BEGIN (``_ping_by_beginning``).
            self.write_engine = create_async_engine(
                url, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
            )
            _ping_by_beginning(self.write_engine)
            self.read_engine = self.write_engine
        # Hot single-statement reads without the engine's checkout and result machinery.
        self.read_pool = None if self.is_sqlite else ReadPool(self.read_engine, pool_size)
        # Single write statements that are atomic and idempotent on their own (``run_text``, and
        # a provider event stored while its object is unknown): one asyncpg round trip in
        # autocommit, no pre-ping and no session. Commits are as durable as the engine's (the
        # server's synchronous_commit): these rows are not to be lost after the 2xx.
        self.statement_pool = (
            None if self.is_sqlite else StatementPool(self.write_engine, pool_size, {})
        )
        self._texts: dict[int, tuple[TextClause, str, tuple[str, ...]]] = {}
        self._writer = async_sessionmaker(self.write_engine, expire_on_commit=False)
        self._reader = async_sessionmaker(self.read_engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return "sqlite" if self.is_sqlite else "postgresql"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One write transaction. Events recorded in it are published after it commits."""
        async with self._writer() as session:
            async with session.begin():
                yield session
                written: list[PublishedEvent] = session.info.pop(_WRITTEN_EVENTS_KEY, [])
                published = written + await persist_pending_events(session)
            callbacks: list[AfterCommit] = session.info.pop(_AFTER_COMMIT_KEY, [])
        await self.publish(published)
        for callback in callbacks:
            try:
                await callback()
            except Exception:
                log.exception("after-commit step failed; the reconciler will retry it")

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self._reader() as session:
            yield session

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[AsyncConnection]:
        """A connection for one read statement: on PostgreSQL without the BEGIN and ROLLBACK
        round trips of a transaction (one statement sees one snapshot anyway)."""
        async with self.read_engine.connect() as connection:
            if not self.is_sqlite:
                connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            yield connection

    async def run_statement(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """``work`` runs one write statement that is safe to run twice (idempotent), atomic on
        its own. On PostgreSQL: one round trip, in autocommit on a pooled connection checked
        out without the pre-ping (no BEGIN, no COMMIT, no session); a connection the server
        closed fails the statement, and it is run again once on a fresh connection (so it
        must be idempotent: a connection lost mid-statement may have committed it).
        On SQLite: a write transaction of the single writer."""
        if self.is_sqlite:
            async with self.transaction() as session:
                return await work(await session.connection())
        try:
            async with self._unpinged_autocommit() as connection:
                return await work(connection)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
        async with self.read_engine.connect() as connection:  # pinged checkout
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            return await work(connection)

    async def run_text(self, statement: TextClause, params: dict[str, Any]) -> Any:
        """``run_statement`` for a text statement built once (bind parameters by name, values
        as the driver takes them): its first row (columns by name) or None. On PostgreSQL on
        the statement pool: one round trip in autocommit, without the engine's checkout,
        greenlet bridge and result machinery, run once more on a fresh connection if the
        pooled one was dead (so idempotent statements only). On SQLite: ``run_statement``."""
        if self.statement_pool is None:

            async def work(connection: AsyncConnection) -> Any:
                return (await connection.execute(statement, params)).first()

            return await self.run_statement(work)
        entry = self._texts.get(id(statement))
        if entry is None or entry[0] is not statement:
            compiled = statement.compile(dialect=self.write_engine.dialect)
            entry = (statement, str(compiled), tuple(compiled.positiontup or ()))
            self._texts[id(statement)] = entry
        _, sql, names = entry
        return await self.statement_pool.fetchrow(sql, [params[name] for name in names])

    @asynccontextmanager
    async def _unpinged_autocommit(self) -> AsyncIterator[AsyncConnection]:
        token = _UNPINGED_CHECKOUT.set(True)
        try:
            connection = await self.write_engine.connect().start()
        finally:
            _UNPINGED_CHECKOUT.reset(token)
        try:
            # No transaction is open (nothing was sent), so the switch costs no round trip.
            yield await connection.execution_options(isolation_level="AUTOCOMMIT")
        finally:
            await connection.close()

    async def publish(self, events: list[PublishedEvent]) -> None:
        if not events:
            return
        try:
            await self.bus.publish(events)
        except Exception:
            # The events are committed in the log; subscribers resync from it.
            log.exception("event publication failed; subscribers will resync from the log")

    async def read_rows(self, statement: Select[Any], params: dict[str, Any]) -> list[Any]:
        """The rows of one read statement that is built once (bind parameters by name):
        attribute access by column name, the values the engine would return. On PostgreSQL
        on the read pool (one round trip, no transaction), on SQLite on an autocommit
        connection."""
        if self.read_pool is not None:
            return await self.read_pool.rows(statement, params)
        async with self.autocommit() as connection:
            return list((await connection.execute(statement, params)).all())

    async def dispose(self) -> None:
        if self.read_pool is not None:
            await self.read_pool.close()
        if self.statement_pool is not None:
            await self.statement_pool.close()
        await self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()


def _ping_by_beginning(engine: AsyncEngine) -> None:
    """Make the pool's pre-ping cost no round trip of its own (PostgreSQL, asyncpg).

    SQLAlchemy's asyncpg ping is ``BEGIN``, ``;``, ``ROLLBACK``: three round trips on every
    checkout, before the transaction's own ``BEGIN``. Here the ping *is* that ``BEGIN`` (the
    adapter otherwise sends it lazily before the first statement, and skips it when a
    transaction is already open): a connection the server closed fails it, and the pool
    invalidates it (and the connections older than it) and checks out a fresh one, as with
    the stock ping. Nothing of the caller's has run yet, so the retry is safe. A connection
    then switched to autocommit rolls the empty transaction back first (one round trip, where
    the stock ping cost three); one checked out in autocommit keeps the stock ``;`` ping.
    """
    dialect: Any = engine.sync_engine.dialect

    def do_ping(dbapi_connection: Any) -> bool:
        if _UNPINGED_CHECKOUT.get():
            return True
        if dbapi_connection.isolation_level == "autocommit" or dbapi_connection._transaction:
            return bool(dialect.__class__.do_ping(dialect, dbapi_connection))
        await_(dbapi_connection._start_transaction())
        return True

    dialect.do_ping = do_ping


def _sqlite_engine(url: str, *, echo: bool, pool_size: int, immediate: bool) -> AsyncEngine:
    engine = create_async_engine(
        url,
        echo=echo,
        poolclass=AsyncAdaptedQueuePool,
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=60,
    )
    _configure_sqlite(engine.sync_engine, immediate=immediate)
    return engine


def _configure_sqlite(engine: Engine, *, immediate: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
