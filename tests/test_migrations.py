"""A blank database upgraded to head matches the models: no autogenerate difference."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

import app.models  # noqa: F401
from app.db import Base


async def test_upgraded_database_matches_the_models(database_url):
    engine = create_async_engine(database_url)

    def diff(conn):
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(ctx, Base.metadata)

    async with engine.connect() as conn:
        differences = await conn.run_sync(diff)
    await engine.dispose()
    assert differences == []


async def test_ledger_rows_are_append_only_on_postgresql(database_url, backend):
    if backend.name != "postgres":
        return
    import pytest
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    engine = create_async_engine(database_url)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO audit_log (actor_id, action, target_type, created_at) "
                "VALUES (NULL, 'test', 'none', now())"
            )
        )
    for sql in (
        "UPDATE audit_log SET action = 'x'",
        "DELETE FROM audit_log",
        "TRUNCATE ledger_entries",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            async with engine.begin() as conn:
                await conn.execute(text(sql))
    await engine.dispose()
