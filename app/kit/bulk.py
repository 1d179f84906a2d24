"""Many rows in one statement.

On PostgreSQL a list of rows goes as one JSON document, read by ``json_populate_recordset``
into the table's own row type: ``INSERT … SELECT … FROM json_populate_recordset(…)``,
``UPDATE … FROM json_populate_recordset(…)``. The server parses, plans and executes one
statement however many rows there are, and the statement's text does not change with their
number, so each connection prepares it once; the client encodes all the rows in one call of a
JSON encoder written in C (orjson), instead of building and encoding each value of each row.
(An executemany makes the server execute the statement once per row; arrays per column make
the driver encode each element apart: on the ingest path either was a larger share of the
worker's time than the decisions themselves.)

The statement is built with SQLAlchemy and compiled once per process; the document goes to
the driver as it is (``exec_driver_sql``, which engine events still see). Values are what the
columns hold: aware UTC datetimes (RFC 3339 in the document), integers, text, and JSON
columns as nested JSON. On SQLite (one writer, in-process) rows go as an executemany.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    Insert,
    Table,
    Text,
    bindparam,
    cast,
    func,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

Upsert = Callable[[Any], Any]  # takes the dialect's INSERT, adds its ON CONFLICT clause
_CACHE: dict[tuple[Any, ...], str] = {}


def _given(target: Table) -> Any:
    """The rows of the document, as rows of ``target``'s type."""
    rows = cast(bindparam("rows", type_=Text), JSON)
    row_type: Any = literal_column(f"NULL::{target.name}")
    return (
        func.json_populate_recordset(row_type, rows).table_valued(*target.c.keys()).alias("given")
    )


def _compile(stmt: Any, dialect: Dialect) -> str:
    return str(stmt.compile(dialect=dialect))


async def _run(session: AsyncSession, sql: str, rows: Sequence[dict[str, Any]]) -> None:
    document = orjson.dumps(rows).decode()
    connection = await session.connection()
    await connection.exec_driver_sql(sql, (document,))


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
    if (sql := _CACHE.get(cache_key)) is None:
        given = _given(target)
        stmt = postgresql.insert(target).from_select(keys, select(*(given.c[k] for k in keys)))
        sql = _CACHE[cache_key] = _compile(upsert(stmt) if upsert else stmt, dialect)
    await _run(session, sql, rows)


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
    if (sql := _CACHE.get(cache_key)) is None:
        given = _given(target)
        stmt = (
            update(target)
            .where(target.c[key] == given.c[key])
            .values({k: given.c[k] for k in keys if k != key})
        )
        sql = _CACHE[cache_key] = _compile(stmt, dialect)
    await _run(session, sql, rows)
