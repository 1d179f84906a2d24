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

Inside ``together(session)``, the session's bulk writes wait and go at the block's end as one
statement: each one a data-modifying ``WITH`` part of it, so that a posting (its transaction,
entries, lots, balances and summary) and the record it credits cost one round trip instead of
seven. The parts of one statement see one snapshot, and PostgreSQL checks foreign keys at its
end. A part therefore waits only while that is the same as running it then: a write to a
table that is already waiting (other than a plain INSERT joining one, which adds new rows)
sends what waits first, and reads that depend on waiting writes must ``flush`` first (the
ledger's own reads do).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
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


def _statement(key: tuple[Any, ...], dialect: Dialect, build: Callable[[], Any]) -> str:
    """The statement's text, built and compiled the first time ``key`` is asked for."""
    if (sql := _CACHE.get(key)) is None:
        sql = _CACHE[key] = str(build().compile(dialect=dialect))
    return sql


_WAITING = "bulk.waiting"  # session.info: the writes of the open ``together`` block


@dataclass(frozen=True)
class _Part:
    table: str
    plain_insert: bool
    sql: str
    document: str


async def _run(
    session: AsyncSession, sql: str, rows: Sequence[dict[str, Any]], table: str, plain: bool
) -> None:
    part = _Part(table, plain, sql, orjson.dumps(rows).decode())
    waiting: list[_Part] | None = session.info.get(_WAITING)
    if waiting is None:
        await _send(session, [part])
        return
    if any(w.table == table and not (plain and not w.plain_insert) for w in waiting):
        await flush(session)
    waiting.append(part)


@asynccontextmanager
async def together(session: AsyncSession) -> AsyncIterator[None]:
    """The bulk writes of the block in one statement at its end (PostgreSQL; elsewhere each
    runs at once). A block inside another one adds to the outer one."""
    if _WAITING in session.info or session.get_bind().dialect.name != "postgresql":
        yield
        return
    session.info[_WAITING] = []
    try:
        yield
        await flush(session)
    finally:
        session.info.pop(_WAITING, None)


async def flush(session: AsyncSession) -> None:
    """Send the writes waiting in the session's ``together`` block, if any."""
    waiting: list[_Part] | None = session.info.get(_WAITING)
    if waiting:
        parts = list(waiting)
        waiting.clear()
        await _send(session, parts)


async def _send(session: AsyncSession, parts: list[_Part]) -> None:
    sql = parts[0].sql
    if len(parts) > 1:
        key = tuple(p.sql for p in parts)
        if (combined := _COMBINED.get(key)) is None:
            combined = _COMBINED[key] = _combine(key)
        sql = combined
    connection = await session.connection()
    await connection.exec_driver_sql(sql, tuple(p.document for p in parts))


def _combine(statements: tuple[str, ...]) -> str:
    """One statement of several bulk writes, each with its one parameter ``$1`` renumbered."""
    ctes = []
    for n, sql in enumerate(statements, start=1):
        if sql.count("$1") != 1 or "$2" in sql:
            raise ValueError(f"a bulk write takes exactly one parameter: {sql}")
        ctes.append(f"w{n} AS ({sql.replace('$1', f'${n}')})")
    return "WITH " + ", ".join(ctes) + " SELECT 1"


_COMBINED: dict[tuple[str, ...], str] = {}


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

    def build() -> Any:
        given = _given(target)
        stmt = postgresql.insert(target).from_select(keys, select(*(given.c[k] for k in keys)))
        return upsert(stmt) if upsert else stmt

    sql = _statement(("insert", target.name, keys, upsert), dialect, build)
    await _run(session, sql, rows, target.name, plain=upsert is None)


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

    def build() -> Any:
        given = _given(target)
        return (
            update(target)
            .where(target.c[key] == given.c[key])
            .values({k: given.c[k] for k in keys if k != key})
        )

    sql = _statement(("update", target.name, keys, key), dialect, build)
    await _run(session, sql, rows, target.name, plain=False)
