"""Engine, sessions and the one declarative base.

SQLite (the embedded default) runs in WAL mode with foreign keys on, and every transaction
starts with ``BEGIN IMMEDIATE``: writers queue on SQLite's own lock (with a busy timeout)
instead of failing with "database is locked" halfway through a unit of work. That makes
SQLite transactions serial, which is what the row locks give us on PostgreSQL.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
from sqlalchemy import DateTime, Insert, MetaData, String, TypeDecorator, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    """A UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, then 74 random bits.

    Ids made close in time sort close together, so a new row's primary key, and every index
    keyed by a row's id (entries by transaction, lots by transaction, references that embed
    an id), lands in the same few index pages as the rows made just before it. With random
    ids each insert touches a random page of every such index, which on a table of millions
    of rows is a page the cache no longer holds. Existing random (version 4) ids stay valid.
    """
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")  # 80 bits, 74 of them used
    value = (
        (millis & 0xFFFF_FFFF_FFFF) << 80
        | 0x7 << 76  # version
        | (rand >> 68) << 64  # rand_a: 12 bits
        | 0b10 << 62  # variant
        | rand & ((1 << 62) - 1)  # rand_b: 62 bits
    )
    h = f"{value:032x}"  # the canonical text form, in two thirds of the time
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no offset by itself)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class IdMixin:
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)


class CreatedMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)


def make_engine(url: str, pool_size: int = 10) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 60}, hide_parameters=True)
        _configure_sqlite(engine)
        return engine
    return create_async_engine(
        url,
        # Up to twice ``pool_size`` connections, each kept once made. As "overflow" beyond a
        # pool of ``pool_size`` they were closed on return whenever the pool was full, and a
        # load that hovered between the two sizes opened and closed about 20 connections a
        # second per worker (each a new server process, a handshake and every statement
        # prepared again).
        pool_size=2 * pool_size,
        max_overflow=0,
        # The most recently returned connection first: as few connections (server processes,
        # their caches) stay busy as the load needs, the others idle.
        pool_use_lifo=True,
        # No ping on every checkout (a round trip per request): a connection lost in a
        # restart fails its request with a 503 (see app.kit.problems) and the pool is invalidated.
        pool_recycle=1800,
        # Statement parameters (password hashes, code hashes, tokens) stay out of exception
        # text, and so out of the logs.
        hide_parameters=True,
    )


def _configure_sqlite(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take over transaction control from the driver so that BEGIN IMMEDIATE is ours.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A read-only connection (``read_only``) takes a snapshot without the write lock.
        read = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read else "BEGIN IMMEDIATE")


READ_ONLY = "tanhui_read_only"


@asynccontextmanager
async def read_only(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection for reads that need no unit of work, held only while the block runs.

    On PostgreSQL it runs in autocommit: no BEGIN and no COMMIT round trips, each statement its
    own snapshot (so put what must agree in one statement). On SQLite it reads in a deferred
    transaction, which takes no write lock, and is rolled back (locally) when the block ends.
    """
    async with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execution_options(isolation_level="AUTOCOMMIT")
        else:
            await conn.execution_options(**{READ_ONLY: True})
        yield conn


@asynccontextmanager
async def snapshot_reader(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection for a long streamed read (exports, audits) that must see one state: a
    read-only REPEATABLE READ transaction on PostgreSQL (server-side cursors need a
    transaction), a deferred read on SQLite (no write lock, so writers go on)."""
    async with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
        else:
            await conn.execution_options(**{READ_ONLY: True})
        yield conn


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def after_commit(session: AsyncSession, callback: Callable[[], Awaitable[Any]]) -> None:
    """Run ``callback`` once the unit of work has committed (never if it rolls back): for side
    effects outside the database, such as leaderboard counters in Redis."""
    session.info.setdefault("after_commit", []).append(callback)


@asynccontextmanager
async def session_scope(
    maker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """One unit of work: commit when the block ends normally, roll back on any exception."""
    async with maker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
        callbacks = session.info.pop("after_commit", [])
        for callback in callbacks:
            try:
                await callback()
            except Exception:  # a lost side effect must not turn a committed request into a 500
                logging.getLogger("tanhui.db").exception("after-commit callback failed")


def insert_ignore(session: AsyncSession, model: Any, rows: list[dict[str, Any]]) -> Insert:
    """INSERT … ON CONFLICT DO NOTHING for the session's dialect."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(model).values(rows).on_conflict_do_nothing()


_OUTAGES = (
    OSError,  # refused, reset, unreachable
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,  # starting up, shutting down, in recovery
    asyncpg.exceptions.OperatorInterventionError,  # terminated by a restart
    asyncpg.ConnectionDoesNotExistError,  # closed in the middle of an operation
)


# The database aborted the transaction to resolve a conflict between transactions, or no
# pooled connection came free in time: nothing was committed, and the same request retried
# goes through.
_RETRYABLE = (
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.SerializationError,
    PoolTimeout,  # the pool's wait for a connection
)


def causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything behind it, each once: the driver's error a DBAPIError
    wraps, ``__cause__`` and ``__context__``."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        orig = e.orig if isinstance(e, DBAPIError) else None
        todo += [orig if isinstance(orig, BaseException) else None, e.__cause__, e.__context__]


def is_database_outage(exc: BaseException) -> bool:
    """A failure of the database, not of the request: a lost or refused connection (a
    restart or failover), a full pool, or a transaction aborted as a deadlock's victim."""
    return any(
        isinstance(e, _OUTAGES + _RETRYABLE)
        or (isinstance(e, DBAPIError) and e.connection_invalidated)
        # A read sent straight to the driver on a connection already lost (SQLAlchemy tells
        # the same case by the same words).
        or (isinstance(e, asyncpg.InterfaceError) and "connection is closed" in str(e))
        for e in causes(exc)
    )


# PostgreSQL's serialization_failure and deadlock_detected: the unit of work may simply be run
# again.
_RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})


def retryable(exc: BaseException) -> bool:
    """True when a whole unit of work failed for a reason of the moment, not because of its
    content: run again, it may go through."""
    return is_database_outage(exc) or any(
        getattr(e, "sqlstate", None) in _RETRYABLE_SQLSTATES
        or (isinstance(e, sqlite3.OperationalError) and "locked" in str(e))
        for e in causes(exc)
    )
