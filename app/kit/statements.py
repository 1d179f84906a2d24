"""Statements built once and reused by every unit of work.

Building a SQLAlchemy statement (``select()``, comparisons, bind parameters) costs more CPU
than running it once SQLAlchemy has compiled and cached it: in a unit of work of one record,
building its statements was about a third of the unit's CPU. Hot paths keep their statements
as module constants; where PostgreSQL and SQLite need different text (``= ANY(:array)``
against an expanding ``IN``), a ``per_dialect`` builder makes each dialect's once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Executable, Result, String, bindparam
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

T = TypeVar("T")


def dialect_of(bind: AsyncSession | AsyncConnection) -> str:
    if isinstance(bind, AsyncSession):
        return bind.get_bind().dialect.name
    return bind.dialect.name


def any_of(dialect: str, column: Any, name: str) -> ColumnElement[bool]:
    """``column = ANY(:name)`` on PostgreSQL: one prepared statement whatever the number of
    values; an expanding ``IN`` elsewhere."""
    if dialect == "postgresql":
        return column == bindparam(name, type_=postgresql.ARRAY(String)).any_()  # type: ignore[no-any-return]
    return column.in_(bindparam(name, expanding=True))  # type: ignore[no-any-return]


class per_dialect(Generic[T]):  # noqa: N801 (used as a decorator)
    """``@per_dialect`` on ``def build(dialect: str) -> statement``: calling the result with a
    session or connection gives that dialect's statement, built the first time only."""

    def __init__(self, build: Callable[[str], T]) -> None:
        self._build = build
        self._built: dict[str, T] = {}
        self.__doc__ = build.__doc__

    def __call__(self, bind: AsyncSession | AsyncConnection) -> T:
        dialect = dialect_of(bind)
        try:
            return self._built[dialect]
        except KeyError:
            statement = self._built[dialect] = self._build(dialect)
            return statement


class precompiled:  # noqa: N801 (used as a decorator)
    """``@precompiled`` on ``def build(dialect: str) -> statement``, for a statement SQLAlchemy
    does not cache: a dialect's ``INSERT … ON CONFLICT`` is compiled anew at every execution
    (``inherit_cache = False``), about a seventh of a redemption's worker CPU in a profile.
    On PostgreSQL the text is compiled once per set of parameter names and sent to the driver
    as it is; the values must then be what the driver takes (aware datetimes, strings,
    numbers), as with ``app.kit.bulk``. Other dialects execute the statement as usual, their
    type processing included."""

    def __init__(self, build: Callable[[str], Any]) -> None:
        self._statement = per_dialect(build)
        self._texts: dict[tuple[str, ...], tuple[str, tuple[str, ...]]] = {}
        self.__doc__ = build.__doc__

    async def execute(self, session: AsyncSession, params: dict[str, Any]) -> Result[Any]:
        statement = self._statement(session)
        dialect = session.get_bind().dialect
        if dialect.name != "postgresql":
            return await session.execute(statement, params)
        names = tuple(params)
        if (text := self._texts.get(names)) is None:
            compiled = statement.compile(dialect=dialect, column_keys=list(names))
            text = self._texts[names] = (str(compiled), tuple(compiled.positiontup or ()))
        sql, order = text
        connection = await session.connection()
        return await connection.exec_driver_sql(sql, tuple(params[name] for name in order))


class _DriverForm:
    """A statement as asyncpg takes it: its text, its parameters' order, and SQLAlchemy's
    processing of each parameter's type (an aware datetime to UTC, for one)."""

    def __init__(self, statement: Any, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self._compiled = compiled
        self._order = tuple(compiled.positiontup or ())
        self._processors = {
            name: process
            for name, bind in compiled.binds.items()
            if (process := bind.type.bind_processor(dialect)) is not None
        }

    def args(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        values = self._compiled.construct_params(dict(params))
        processors = self._processors
        return tuple(
            processors[name](values[name]) if name in processors else values[name]
            for name in self._order
        )


_DRIVER_FORMS: dict[Any, _DriverForm] = {}


async def fetch(
    conn: AsyncConnection, statement: Executable, params: Mapping[str, Any]
) -> Sequence[Sequence[Any]]:
    """The rows of a read outside any unit of work (``app.db.read_only``), by position.

    On PostgreSQL the statement goes straight to asyncpg, compiled once and run as asyncpg's
    cached prepared statement: for a read of a few rows, SQLAlchemy's execution layer
    (execution context, cursor, result) costs the worker twice what the driver does (a
    one-row read: 234-255 µs of CPU against 81-88 µs). Its values are then the driver's:
    aware UTC datetimes, ints, strings, decoded JSON. Inside a transaction, and on other
    dialects, the statement is executed as usual.

    SQLAlchemy's ``before_cursor_execute`` listeners still hear it (what counts or traces
    statements sees this one), and a failure invalidates the pooled connection, as SQLAlchemy
    does for a lost one: the pool then never resets or reuses a connection the driver left in
    an unknown state."""
    raw = await conn.get_raw_connection() if conn.dialect.name == "postgresql" else None
    if raw is None or not getattr(raw.dbapi_connection, "autocommit", False):
        # SQLAlchemy's adapter begins a unit of work's transaction at its first statement;
        # one sent past it could run, and release its locks, outside that transaction.
        return (await conn.execute(statement, dict(params))).all()
    form = _DRIVER_FORMS.get(statement)
    if form is None:
        form = _DRIVER_FORMS[statement] = _DriverForm(statement, conn.dialect)
    args = form.args(params)
    sync = conn.sync_connection
    if sync is not None:
        for listener in sync.dispatch.before_cursor_execute:
            listener(sync, None, form.sql, args, None, False)
    driver: Any = raw.driver_connection
    try:
        return await driver.fetch(form.sql, *args)  # type: ignore[no-any-return]
    except BaseException:
        with contextlib.suppress(Exception):
            await conn.invalidate()
        raise
