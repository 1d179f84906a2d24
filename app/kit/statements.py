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

from sqlalchemy import ColumnElement, String, bindparam
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
