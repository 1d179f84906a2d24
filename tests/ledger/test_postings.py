"""The one posting path refuses what would break the ledger, and keeps the summaries true."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select, update

from app.db import session_scope
from app.models import AccountSummary, LedgerTransaction
from app.services import ledger
from app.services.ledger.accounts import lock, platform_account, user_accounts
from app.services.ledger.check import check
from app.services.ledger.lots import open_lots, plan_draws
from app.services.ledger.postings import Draft, Draw, post
from tests.helpers import citizen
from tests.ledger.test_ledger import give, run


async def _refused(app, user_id: str, draft: Draft) -> str:
    """Post the draft on the citizen's locked accounts; returns why it was refused."""
    with pytest.raises(ledger.LedgerInvariantError) as refused:
        async with session_scope(app.state.sessionmaker) as s:
            await lock(s, [*user_accounts(user_id), platform_account("issuance", user_id)])
            await post(s, [draft])
    async with session_scope(app.state.sessionmaker) as s:
        written = await s.scalar(select(func.count()).where(LedgerTransaction.ref == draft.ref))
    assert written == 0
    return str(refused.value)


async def test_postings_that_break_the_rules_raise_and_write_nothing(app, client):
    user = await citizen(client)
    await give(app, user.id, 10)
    avail, held, debt = user_accounts(user.id)
    issuance = platform_account("issuance", user.id)

    def draft(legs, **kw) -> Draft:
        return Draft(f"bad:{uuid.uuid4()}", "hold", "test", None, user.id, legs, **kw)

    assert "sum to zero" in await _refused(app, user.id, draft([(avail, -5), (held, 4)]))
    assert "two or more" in await _refused(app, user.id, draft([(avail, 0), (held, 0)]))
    # Spending more than the citizen has: the available account would go below zero.
    async with session_scope(app.state.sessionmaker) as s:
        [lot] = await open_lots(s, user.id)
    overdraw = draft([(avail, -11), (held, 11)], draws=[Draw(lot.id, 11, 10, 10)])
    assert "would be -1" in await _refused(app, user.id, overdraw)
    # Points moved without the lots that back them.
    assert "lots change by 0" in await _refused(app, user.id, draft([(avail, -5), (held, 5)]))
    # A debt account above zero.
    assert "debt account" in await _refused(app, user.id, draft([(debt, 5), (issuance, -5)]))
    # An account this transaction has not locked.
    other = user_accounts(str(uuid.uuid4()))[1]
    assert "not locked" in await _refused(app, user.id, draft([(held, 5), (other, -5)]))
    bal = await run(app, ledger.balances, user.id)
    assert (bal.available, bal.held, bal.debt) == (10, 0, 0)


async def test_a_draw_never_takes_a_lot_below_zero(app, client):
    user = await citizen(client)
    await give(app, user.id, 10)
    async with session_scope(app.state.sessionmaker) as s:
        lots = await open_lots(s, user.id)
    assert [d.amount for d in plan_draws(lots, 25)] == [10]
    avail, held, _ = user_accounts(user.id)
    twice = Draft(
        f"bad:{uuid.uuid4()}",
        "hold",
        "test",
        None,
        user.id,
        [(avail, -10), (held, 10)],
        draws=[Draw(lots[0].id, 6, 10, 10), Draw(lots[0].id, 6, 10, 10)],
    )
    assert "would hold -2" in await _refused(app, user.id, twice)


async def test_summary_follows_credits_holds_reversals_and_debt(app, client):
    user = await citizen(client)
    txn = await give(app, user.id, 100)
    h = await run(
        app,
        ledger.hold,
        user_id=user.id,
        points=70,
        ref="h",
        cause_type="redemption",
        cause_id=None,
    )
    await run(app, ledger.settle, h.id, merchant_id=str(uuid.uuid4()))
    await run(app, ledger.reverse, transaction_id=txn.id, ref="rev", reason="fraud", actor_id=None)
    await give(app, user.id, 50)
    async with session_scope(app.state.sessionmaker) as s:
        row = await s.get(AccountSummary, user.id)
        assert (await check(s))["ok"]
    assert row is not None
    assert (row.available, row.held, row.debt, row.lifetime_points) == (0, 0, 20, 150)


@pytest.mark.ledger_tampered
async def test_ledger_check_reports_a_tampered_summary(app, client):
    user = await citizen(client)
    await give(app, user.id, 10)
    async with session_scope(app.state.sessionmaker) as s:
        await s.execute(
            update(AccountSummary)
            .where(AccountSummary.user_id == user.id)
            .values(available=12, lifetime_grams=5)
        )
    async with session_scope(app.state.sessionmaker) as s:
        result = await check(s)
    assert not result["ok"]
    found = {(m["kind"], m.get("field")) for m in result["mismatches"]}
    assert found == {("summary_differs", "available"), ("summary_differs", "lifetime_grams")}


async def test_ledger_check_reads_one_snapshot_while_credits_commit(
    app, client, backend, monkeypatch
):
    """A credit committed between the check's queries must not look like a difference."""
    if backend.name != "postgres":
        pytest.skip("SQLite transactions are serial: no posting can commit inside the check")
    from app.services.ledger import check as check_module

    user = await citizen(client)
    await give(app, user.id, 10)
    original = check_module._sums
    credited: list[int] = []

    async def credit_in_between(session, query):
        if not credited:  # once: between the balances read and the lots read
            credited.append(1)
            await give(app, user.id, 25)
        return await original(session, query)

    monkeypatch.setattr(check_module, "_sums", credit_in_between)
    async with session_scope(app.state.sessionmaker) as s:
        result = await check_module.check(s)
    assert credited and result["ok"], result
