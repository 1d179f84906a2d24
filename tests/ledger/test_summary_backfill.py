"""The summaries migration fills in, from entries and records, what the ledger maintains."""

from __future__ import annotations

import asyncio

from alembic import command

from app.db import session_scope
from app.migrate import alembic_config, upgrade
from app.models import AccountSummary
from app.services import ledger
from app.services.ledger.check import check
from tests.helpers import citizen
from tests.ledger.test_ledger import give, run
from tests.records.helpers import post


async def test_migration_backfills_summaries_from_existing_entries(app, client, database_url):
    user = await citizen(client)
    await post(user, "walking", {"steps": 8000})
    await give(app, user.id, 40)
    await run(
        app,
        ledger.hold,
        user_id=user.id,
        points=15,
        ref="h",
        cause_type="redemption",
        cause_id=None,
    )
    async with session_scope(app.state.sessionmaker) as s:
        maintained = await s.get(AccountSummary, user.id)
    assert maintained is not None and maintained.lifetime_grams > 0
    await app.state.engine.dispose()

    cfg = alembic_config(database_url)
    await asyncio.to_thread(command.downgrade, cfg, "0003")
    await asyncio.to_thread(upgrade, database_url)

    async with session_scope(app.state.sessionmaker) as s:
        backfilled = await s.get(AccountSummary, user.id)
        assert (await check(s))["ok"]
    assert backfilled is not None
    fields = ("available", "held", "debt", "lifetime_points", "lifetime_grams")
    assert [getattr(backfilled, f) for f in fields] == [getattr(maintained, f) for f in fields]
