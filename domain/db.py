"""Engines and the unit of work.

Engines are built by entry points and disposed on shutdown, never at import. The unit
of work owns the transaction: it rolls back unless the service commits explicitly.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

# A pooled connection used this recently is trusted without a ping (one that PostgreSQL
# closed is known closed at once): `pool_pre_ping` cost three of the bot's seven round
# trips to PostgreSQL per update (BEGIN; ";"; ROLLBACK), bench/checkins.py profiled.
PING_IDLE_SECONDS = 10.0
_RETURNED_AT = "guanai_returned_at"


def make_engine(url: str, *, pool_size: int = 10, timeout: float | None = None) -> AsyncEngine:
    """`timeout`: seconds to connect, and for each statement, before PostgreSQL counts as
    gone (None: asyncpg's 60 s to connect and no limit on statements)."""
    connect_args = {} if timeout is None else {"timeout": timeout, "command_timeout": timeout}
    engine = create_async_engine(
        url, pool_size=pool_size, max_overflow=pool_size, connect_args=connect_args
    )
    dialect = engine.sync_engine.dialect

    def returned(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[_RETURNED_AT] = time.monotonic()

    def check_alive(dbapi_connection: Any, record: ConnectionPoolEntry, proxy: Any) -> None:
        """Before a pooled connection is handed out, what `pool_pre_ping` does, for the
        connections that may have gone quietly: a connection PostgreSQL closed (a restart)
        is replaced with all the pool's older ones, and one idle for PING_IDLE_SECONDS is
        pinged first."""
        if dbapi_connection._connection.is_closed():
            raise exc.InvalidatePoolError("connection closed by PostgreSQL")
        returned_at = record.info.get(_RETURNED_AT)
        if returned_at is None or time.monotonic() - returned_at < PING_IDLE_SECONDS:
            return  # new, or just used
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, dbapi_connection, None):
                raise exc.InvalidatePoolError(str(error)) from error
            raise

    event.listen(engine.sync_engine.pool, "checkin", returned)
    event.listen(engine.sync_engine.pool, "checkout", check_alive)
    return engine


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


class UnitOfWork:
    """One transaction: `async with uow: ...; await uow.commit()`; anything else rolls back."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker
        self._session: AsyncSession | None = None
        self._after_commit: list[Callable[[], Awaitable[object]]] = []

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("UnitOfWork used outside `async with`")
        return self._session

    async def __aenter__(self) -> UnitOfWork:
        self._session = self._sessionmaker()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session, self._session = self.session, None
        self._after_commit = []
        try:
            await session.rollback()
        finally:
            await session.close()

    def after_commit(self, action: Callable[[], Awaitable[object]]) -> None:
        """Run `action` once the transaction is committed (e.g. enqueue a job that reads
        the rows it wrote); dropped if it rolls back."""
        self._after_commit.append(action)

    async def commit(self) -> None:
        await self.session.commit()
        actions, self._after_commit = self._after_commit, []
        for action in actions:
            await action()
