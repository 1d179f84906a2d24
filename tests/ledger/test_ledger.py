"""The ledger's invariants, attacked with concurrency on both backends."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, text, update

from app.db import session_scope, utcnow
from app.kit.errors import InvalidState
from app.models import Account, LedgerEntry, LedgerTransaction, PointLot
from app.services import ledger
from app.services.ledger.check import check
from app.services.ledger.errors import InsufficientPoints
from app.services.ledger.lots import open_lots, spendable_of
from tests.helpers import citizen, user_with_role


async def give(app, user_id: str, points: int, *, days: int = 365, ref: str | None = None):
    async with session_scope(app.state.sessionmaker) as s:
        return await ledger.credit(
            s,
            user_id=user_id,
            points=points,
            ref=ref or f"test:{uuid.uuid4()}",
            cause_type="record",
            cause_id=None,
            expires_at=utcnow() + timedelta(days=days),
        )


async def run(app, fn, *args, **kwargs):
    async with session_scope(app.state.sessionmaker) as s:
        return await fn(s, *args, **kwargs)


async def state(app, user_id: str):
    async with session_scope(app.state.sessionmaker) as s:
        bal = await ledger.balances(s, user_id)
        lots = (
            await s.scalars(
                select(PointLot).where(PointLot.user_id == user_id).order_by(PointLot.expires_at)
            )
        ).all()
        return bal, [(lot.amount, lot.remaining) for lot in lots]


async def test_concurrent_credits_to_one_account_lose_no_update(app, client):
    user = await citizen(client)
    await asyncio.gather(*[give(app, user.id, 7) for _ in range(40)])
    bal, lots = await state(app, user.id)
    assert bal.available == 280 and sum(r for _, r in lots) == 280
    async with session_scope(app.state.sessionmaker) as s:
        total = await s.scalar(
            select(text("sum(amount)"))
            .select_from(LedgerEntry)
            .where(LedgerEntry.account_id == ledger.available_account(user.id))
        )
        assert total == 280
        assert (await check(s))["ok"]


async def test_same_reference_raced_posts_once(app, client):
    user = await citizen(client)
    ref = f"record:{uuid.uuid4()}:credit"
    txns = await asyncio.gather(
        *[give(app, user.id, 50, ref=ref) for _ in range(20)], return_exceptions=True
    )
    ids = {t.id for t in txns if not isinstance(t, BaseException)}
    assert len(ids) == 1, txns
    bal, _ = await state(app, user.id)
    assert bal.available == 50
    async with session_scope(app.state.sessionmaker) as s:
        count = await s.scalar(
            select(text("count(*)"))
            .select_from(LedgerTransaction)
            .where(LedgerTransaction.ref == ref)
        )
        assert count == 1


async def test_holds_raced_never_overspend(app, client):
    user = await citizen(client)
    await give(app, user.id, 100)
    results = await asyncio.gather(
        *[
            run(
                app,
                ledger.hold,
                user_id=user.id,
                points=30,
                ref=f"h:{i}",
                cause_type="redemption",
                cause_id=None,
            )
            for i in range(10)
        ],
        return_exceptions=True,
    )
    ok = [r for r in results if isinstance(r, ledger.HeldPoints)]
    refused = [r for r in results if isinstance(r, InsufficientPoints)]
    assert len(ok) == 3 and len(refused) == 7, results
    bal, _ = await state(app, user.id)
    assert (bal.available, bal.held) == (10, 90)


async def test_held_points_are_not_spendable(app, client):
    user = await citizen(client)
    await give(app, user.id, 100)
    await run(
        app,
        ledger.hold,
        user_id=user.id,
        points=80,
        ref="a",
        cause_type="redemption",
        cause_id=None,
    )
    with pytest.raises(InsufficientPoints):
        await run(
            app,
            ledger.hold,
            user_id=user.id,
            points=30,
            ref="b",
            cause_type="redemption",
            cause_id=None,
        )


async def test_settle_and_release_raced_resolve_a_hold_exactly_once(app, client):
    user = await citizen(client)
    merchant_id = str(uuid.uuid4())
    await give(app, user.id, 100)
    for _ in range(3):
        h = await run(
            app,
            ledger.hold,
            user_id=user.id,
            points=20,
            ref=f"r:{uuid.uuid4()}",
            cause_type="redemption",
            cause_id=None,
        )
        calls = []
        for i in range(8):
            if i % 2:
                calls.append(run(app, ledger.settle, h.id, merchant_id=merchant_id))
            else:
                calls.append(run(app, ledger.release, h.id))
        results = await asyncio.gather(*calls, return_exceptions=True)
        winners = [r for r in results if isinstance(r, ledger.Posted)]
        assert len(winners) == 1, results
        assert all(isinstance(r, InvalidState) for r in results if r not in winners)
    bal, _ = await state(app, user.id)
    assert bal.held == 0
    async with session_scope(app.state.sessionmaker) as s:
        merchant = await s.get(Account, ledger.merchant_account(merchant_id))
        settled = merchant.balance if merchant else 0
    assert bal.available + settled == 100


async def test_spending_draws_soonest_expiring_lots_and_release_returns_them(app, client):
    user = await citizen(client)
    await give(app, user.id, 100, days=300)
    await give(app, user.id, 50, days=10)
    await give(app, user.id, 70, days=100)
    h = await run(
        app,
        ledger.hold,
        user_id=user.id,
        points=90,
        ref="x",
        cause_type="redemption",
        cause_id=None,
    )
    _, lots = await state(app, user.id)
    assert lots == [(50, 0), (70, 30), (100, 100)]
    await run(app, ledger.release, h.id)
    _, lots = await state(app, user.id)
    assert lots == [(50, 50), (70, 70), (100, 100)]


async def test_a_spend_reads_only_the_lots_it_draws_from(app, client):
    """However many lots a citizen's history left open, a spend reads the soonest-expiring
    ones that cover it (ties broken by id), each citizen's own; a shortfall still reports
    everything spendable."""
    rich, other = await citizen(client), await citizen(client)
    soon = utcnow() + timedelta(days=10)
    for day in range(9, -1, -1):  # 30 lots of 10, three to an expiry, the soonest last
        async with session_scope(app.state.sessionmaker) as s:
            for _ in range(3):  # one expiry for several lots, as a batch's credits have
                await ledger.credit(
                    s,
                    user_id=rich.id,
                    points=10,
                    ref=f"test:{uuid.uuid4()}",
                    cause_type="record",
                    cause_id=None,
                    expires_at=soon + timedelta(days=day),
                )
    await give(app, other.id, 25, days=20)
    await give(app, other.id, 5, days=-1)  # expired: never spendable
    async with session_scope(app.state.sessionmaker) as s:
        everything = await open_lots(s, rich.id)
        for points, drawn in [(25, 3), (30, 3), (31, 4), (100, 10)]:
            lots = await spendable_of(s, [rich.id, other.id], points, utcnow())
            assert [lot.id for lot in lots[rich.id]] == [lot.id for lot in everything[:drawn]]
            assert [lot.remaining for lot in lots[other.id]] == [25]
    spend = {"user_id": rich.id, "ref": "z", "cause_type": "redemption", "cause_id": None}
    with pytest.raises(InsufficientPoints) as short:
        await run(app, ledger.hold, points=301, **spend)
    assert short.value.extra["spendable"] == 300
    assert (await run(app, ledger.hold, points=300, **spend)).amount == 300
    _, left = await state(app, rich.id)
    assert all(remaining == 0 for _, remaining in left)


async def test_expired_points_are_not_spendable_and_expiry_is_idempotent(app, client):
    user = await citizen(client)
    await give(app, user.id, 40, days=-1)
    await give(app, user.id, 60, days=30)
    async with session_scope(app.state.sessionmaker) as s:
        assert await ledger.spendable(s, user.id) == 60
    with pytest.raises(InsufficientPoints):
        await run(
            app,
            ledger.hold,
            user_id=user.id,
            points=61,
            ref="y",
            cause_type="redemption",
            cause_id=None,
        )
    async with session_scope(app.state.sessionmaker) as s:
        due = await ledger.due_lots(s, utcnow(), 100)
    assert len(due) == 1
    first = await asyncio.gather(
        *[run(app, ledger.expire_lot, due[0][0], utcnow()) for _ in range(5)]
    )
    assert sorted(first) == [0, 0, 0, 0, 40]
    bal, lots = await state(app, user.id)
    assert bal.available == 60 and lots == [(40, 0), (60, 60)]


async def test_expiry_running_during_spends_keeps_lots_and_balance_equal(app, client):
    user = await citizen(client)
    for _ in range(10):
        await give(app, user.id, 10, days=-1)
    for _ in range(10):
        await give(app, user.id, 10, days=30)
    async with session_scope(app.state.sessionmaker) as s:
        due = await ledger.due_lots(s, utcnow(), 100)
    spends = [
        run(
            app,
            ledger.hold,
            user_id=user.id,
            points=10,
            ref=f"s:{i}",
            cause_type="redemption",
            cause_id=None,
        )
        for i in range(12)
    ]
    expiries = [run(app, ledger.expire_lot, lot_id, utcnow()) for lot_id, _ in due]
    results = await asyncio.gather(*spends, *expiries, return_exceptions=True)
    holds = [r for r in results if isinstance(r, ledger.HeldPoints)]
    assert len(holds) == 10  # only the unexpired 100 points were ever spendable
    assert sum(r for r in results if isinstance(r, int)) == 100
    bal, lots = await state(app, user.id)
    assert (bal.available, bal.held) == (0, 100)
    assert sum(r for _, r in lots) == 0


async def test_reversal_after_spending_books_a_debt_that_new_credits_repay(app, client):
    user = await citizen(client)
    txn = await give(app, user.id, 100)
    h = await run(
        app,
        ledger.hold,
        user_id=user.id,
        points=70,
        ref="spend",
        cause_type="redemption",
        cause_id=None,
    )
    await run(app, ledger.settle, h.id, merchant_id=str(uuid.uuid4()))
    rev = await run(
        app, ledger.reverse, transaction_id=txn.id, ref="rev-1", reason="fraud", actor_id=None
    )
    assert rev.memo["taken_back"] == 30 and rev.memo["booked_as_debt"] == 70
    again = await run(
        app, ledger.reverse, transaction_id=txn.id, ref="rev-1", reason="fraud", actor_id=None
    )
    assert again.id == rev.id
    bal, _ = await state(app, user.id)
    assert (bal.available, bal.debt) == (0, 70)
    await give(app, user.id, 50)
    bal, _ = await state(app, user.id)
    assert (bal.available, bal.debt) == (0, 20)
    await give(app, user.id, 50)
    bal, lots = await state(app, user.id)
    assert (bal.available, bal.debt) == (30, 0) and sum(r for _, r in lots) == 30


async def test_only_credits_can_be_reversed(app, client):
    user = await citizen(client)
    await give(app, user.id, 10)
    h = await run(
        app, ledger.hold, user_id=user.id, points=5, ref="h", cause_type="redemption", cause_id=None
    )
    with pytest.raises(InvalidState):
        await run(
            app,
            ledger.reverse,
            transaction_id=h.hold_transaction_id,
            ref="r",
            reason="x",
            actor_id=None,
        )


@pytest.mark.ledger_tampered
async def test_ledger_check_reports_a_tampered_balance(app, client):
    user = await citizen(client)
    await give(app, user.id, 10)
    async with session_scope(app.state.sessionmaker) as s:
        await s.execute(
            update(Account)
            .where(Account.id == ledger.available_account(user.id))
            .values(balance=11)
        )
    async with session_scope(app.state.sessionmaker) as s:
        result = await check(s)
    kinds = {m["kind"] for m in result["mismatches"]}
    assert not result["ok"]
    assert {"balance_differs_from_entries", "lots_differ_from_available"} <= kinds
    # over HTTP each mismatch is typed: its kind and the fields that kind names, no others
    auditor = await user_with_role(app, client, "auditor")
    r = await auditor.get("/v1/admin/ledger/check")
    assert r.status_code == 200, r.text
    by_kind = {m["kind"]: m for m in r.json()["mismatches"]}
    assert by_kind["balance_differs_from_entries"] == {
        "kind": "balance_differs_from_entries",
        "account": ledger.available_account(user.id),
        "stored": 11,
        "sum_of_entries": 10,
    }
    assert by_kind["lots_differ_from_available"] == {
        "kind": "lots_differ_from_available",
        "user": user.id,
        "lots": 10,
        "available": 11,
    }


async def test_a_citizen_cannot_go_below_zero_even_bypassing_the_service(app, client, backend):
    """The CHECK constraint is the database's own backstop."""
    from sqlalchemy.exc import IntegrityError

    user = await citizen(client)
    await give(app, user.id, 10)
    with pytest.raises(IntegrityError):
        async with session_scope(app.state.sessionmaker) as s:
            await s.execute(
                update(Account)
                .where(Account.id == ledger.available_account(user.id))
                .values(balance=-1)
            )
