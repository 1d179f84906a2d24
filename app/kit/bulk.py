"""Many rows in one statement.

On PostgreSQL a list of rows goes as one array per column: ``INSERT … SELECT unnest(…)``,
``UPDATE … FROM unnest(…)``. The server parses, plans and executes one statement however many
rows there are, and the statement's text does not change with their number, so each
connection prepares it once. An executemany instead makes the server execute the statement
once per row, and the client build each row's parameters apart.

The statement is built with SQLAlchemy and compiled once per process; its arrays then go to
the driver as they are (``exec_driver_sql``, which engine events still see), so the only
per-value work in Python is the columns' own conversions (UTC times, JSON), done as the
column's type does them. On SQLite (one writer, in-process) rows go as an executemany.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, Insert, Table, Text, bindparam, cast, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

Upsert = Callable[[Any], Any]  # takes the dialect's INSERT, adds its ON CONFLICT clause


@dataclass(frozen=True)
class _Compiled:
    sql: str
    keys: tuple[str, ...]  # the rows' keys, in the order of the statement's parameters
    convert: tuple[Callable[[Any], Any] | None, ...]  # per key, the column type's conversion


_CACHE: dict[tuple[Any, ...], _Compiled] = {}
_PREFIX = "v_"  # a parameter may not bear the name of a column the statement sets


def _arrays(target: Table, keys: Sequence[str]) -> list[Any]:
    out = []
    for key in keys:
        column_type = target.c[key].type
        array: Any
        if isinstance(column_type, JSON):
            # A JSON list would read as one more array dimension: JSON goes as text, already
            # serialised by the column's own type, and is cast back.
            array = cast(func.unnest(bindparam(_PREFIX + key, type_=postgresql.ARRAY(Text))), JSON)
        else:
            array = func.unnest(bindparam(_PREFIX + key, type_=postgresql.ARRAY(column_type)))
        out.append(array.label(key))
    return out


def _compile(stmt: Any, target: Table, dialect: Dialect) -> _Compiled:
    compiled = stmt.compile(dialect=dialect)
    keys = tuple(name.removeprefix(_PREFIX) for name in compiled.positiontup)
    return _Compiled(
        compiled.string,
        keys,
        tuple(target.c[key].type.dialect_impl(dialect).bind_processor(dialect) for key in keys),
    )


async def _run(session: AsyncSession, c: _Compiled, rows: Sequence[dict[str, Any]]) -> None:
    params = []
    for key, convert in zip(c.keys, c.convert, strict=True):
        values = [row[key] for row in rows]
        params.append([convert(v) for v in values] if convert else values)
    connection = await session.connection()
    await connection.exec_driver_sql(c.sql, tuple(params))


async def insert_rows(
    session: AsyncSession,
    target: Table,
    rows: Sequence[dict[str, Any]],
    upsert: Upsert | None = None,
) -> None:
    """INSERT the rows (every row with the same keys), with ``upsert``'s ON CONFLICT clause."""
    if not rows:
        return
    keys = tuple(rows[0])
    dialect = session.get_bind().dialect
    if dialect.name != "postgresql":
        plain: Insert = sqlite.insert(target)
        await session.execute(upsert(plain) if upsert else plain, list(rows))
        return
    cache_key = ("insert", target.name, keys, upsert)
    if (c := _CACHE.get(cache_key)) is None:
        stmt = postgresql.insert(target).from_select(keys, select(*_arrays(target, keys)))
        c = _CACHE[cache_key] = _compile(upsert(stmt) if upsert else stmt, target, dialect)
    await _run(session, c, rows)


async def update_rows(
    session: AsyncSession, target: Table, key: str, rows: Sequence[dict[str, Any]]
) -> None:
    """UPDATE one row per given dict, found by its ``key`` column, to the dict's other values."""
    if not rows:
        return
    keys = tuple(rows[0])
    dialect = session.get_bind().dialect
    if dialect.name != "postgresql":
        names = {k: f"v_{k}" for k in keys}
        each = (
            update(target)
            .where(target.c[key] == bindparam(names[key]))
            .values({k: bindparam(names[k]) for k in keys if k != key})
        )
        await session.execute(each, [{names[k]: row[k] for k in keys} for row in rows])
        return
    cache_key = ("update", target.name, keys, key)
    if (c := _CACHE.get(cache_key)) is None:
        given = select(*_arrays(target, keys)).subquery("given")
        stmt = (
            update(target)
            .where(target.c[key] == given.c[key])
            .values({k: given.c[k] for k in keys if k != key})
        )
        c = _CACHE[cache_key] = _compile(stmt, target, dialect)
    await _run(session, c, rows)
