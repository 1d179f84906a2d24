"""Statements built once and reused by every unit of work.

Building a SQLAlchemy statement (``select()``, comparisons, bind parameters) costs more CPU
than running it once SQLAlchemy has compiled and cached it: in a unit of work of one record,
building its statements was about a third of the unit's CPU. Hot paths keep their statements
as module constants; where PostgreSQL and SQLite need different text (``= ANY(:array)``
against an expanding ``IN``), a ``per_dialect`` builder makes each dialect's once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Result, String, bindparam
from sqlalchemy.dialects import postgresql
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
