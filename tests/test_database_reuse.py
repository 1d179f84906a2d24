"""The suite's own PostgreSQL databases: a finished test's database is handed to a later test
only when emptying it restores the template (see ``Backend`` in conftest.py)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from tests.conftest import PG_ADMIN_URL, Backend, _pg_base


def _sql(database: str, *statements: str) -> list[object]:
    async def run() -> list[object]:
        conn = await asyncpg.connect(f"{_pg_base()}/{database}", timeout=10)
        try:
            return [await conn.fetchval(s) for s in statements]
        finally:
            await conn.close()

    return asyncio.run(run())


def _exists(database: str) -> bool:
    async def run() -> bool:
        conn = await asyncpg.connect(PG_ADMIN_URL, timeout=10)
        try:
            found = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
            return found is not None
        finally:
            await conn.close()

    return asyncio.run(run())


def test_rows_and_sequences_are_reset_and_a_changed_schema_is_replaced(backend: Backend):
    if backend.name != "postgres":
        pytest.skip("SQLite databases are file copies, made anew for every test")
    name = backend._create()
    replaced = None
    try:
        _sql(
            name,
            "INSERT INTO revoked_tokens (jti, expires_at) VALUES ('jti-1', now())",
            "SELECT nextval('ledger_entries_seq_seq')",
            "SELECT nextval('ledger_entries_seq_seq')",
        )
        assert backend._recycle(name) == name
        assert _sql(
            name,
            "SELECT count(*) FROM revoked_tokens",
            "SELECT nextval('ledger_entries_seq_seq')",
        ) == [0, 1]

        # A trigger left disabled is more than rows: the database is dropped, a copy replaces it.
        _sql(name, "ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_append_only")
        replaced = backend._recycle(name)
        assert replaced != name
        assert not _exists(name)
        assert _sql(
            replaced,
            "SELECT tgenabled::text FROM pg_trigger WHERE tgname = 'ledger_entries_append_only'",
        ) == ["O"]
    finally:
        for database in {name, replaced} - {None}:
            backend._drop(str(database))
