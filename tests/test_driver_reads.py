"""Reads sent straight to the driver (``app.kit.statements.fetch``) answer what SQLAlchemy
answers, and never leave the transaction they are asked in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import bindparam, func, literal, select, text

from app.db import UTCDateTime, read_only, session_scope
from app.kit.statements import fetch

# A typed parameter (an aware instant, processed to UTC), a plain one and literals.
_READ = select(
    literal(1).label("one"),
    bindparam("name").label("name"),
    func.date_trunc("day", bindparam("at", type_=UTCDateTime())).label("day"),
)


async def test_a_read_outside_a_unit_of_work_answers_as_sqlalchemy_does(app, backend):
    if backend.name != "postgres":
        pytest.skip("SQLite reads through SQLAlchemy")
    at = datetime(2026, 12, 7, 23, 30, tzinfo=UTC) + timedelta(hours=8)
    params = {"name": "碳惠", "at": at.astimezone(UTC)}
    async with read_only(app.state.engine) as conn:
        direct = [tuple(row) for row in await fetch(conn, _READ, params)]
        usual = [tuple(row) for row in (await conn.execute(_READ, params)).all()]
    assert direct == usual == [(1, "碳惠", datetime(2026, 12, 8, tzinfo=UTC))]


async def test_a_read_inside_a_unit_of_work_stays_in_its_transaction(app, backend):
    if backend.name != "postgres":
        pytest.skip("SQLite has no transaction ids to compare")
    async with session_scope(app.state.sessionmaker) as session:
        conn = await session.connection()
        # The unit's first statement: the transaction begins with it, not after it.
        [(seen,)] = await fetch(conn, select(func.txid_current()), {})
        mine = await session.scalar(text("SELECT txid_current()"))
    assert seen == mine
