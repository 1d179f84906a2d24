"""Concurrency: no oversell, no double spend, a code fulfilled at most once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from sqlalchemy import func, select

from app.db import session_scope, utcnow
from app.models import Hold, Redemption
from app.services.rewards import redemptions
from tests.helpers import assert_problem, citizen
from tests.redemptions.helpers import (
    balance,
    give_points,
    incentive_row,
    ledger_is_clean,
    open_shop,
    publish,
    redeem,
    verify,
)


async def _count(app, model, *where) -> int:
    async with session_scope(app.state.sessionmaker) as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_fifteen_citizens_racing_for_three_units_get_exactly_three(app, client):
    shop = await open_shop(app, client)
    voucher = await publish(shop.staff, stock=3)
    people = [await citizen(client) for _ in range(15)]
    for person in people:
        await give_points(app, person.id, 600)
    answers = await asyncio.gather(*[redeem(p, voucher["id"]) for p in people])
    won = [r for r in answers if r.status_code == 201]
    assert len(won) == 3, [r.text for r in answers]
    for r in answers:
        if r.status_code != 201:
            assert_problem(r, 409, "out_of_stock")
    accounts = [await balance(p) for p in people]
    assert sorted(a["held"] for a in accounts) == [0] * 12 + [500] * 3
    assert sorted(a["balance"] for a in accounts) == [100] * 3 + [600] * 12
    row = await incentive_row(app, voucher["id"])
    assert (row.stock, row.issued) == (0, 3)
    assert len({r.json()["code"] for r in won}) == 3
    await ledger_is_clean(shop.admin)


async def test_points_for_one_spent_on_six_redemptions_at_once_buy_one(app, client):
    shop = await open_shop(app, client)
    shelf = [await publish(shop.staff, title=f"Gift {n}", points_cost=400) for n in range(6)]
    alice = await citizen(client)
    await give_points(app, alice.id, 700)
    answers = await asyncio.gather(*[redeem(alice, item["id"]) for item in shelf])
    assert sorted(r.status_code for r in answers) == [201] + [409] * 5
    for r in answers:
        if r.status_code == 409:
            assert_problem(r, 409, "insufficient_points")
    account = await balance(alice)
    assert (account["balance"], account["held"]) == (300, 400)
    assert await _count(app, Hold, Hold.user_id == alice.id) == 1
    await ledger_is_clean(shop.admin)


async def test_verify_raced_against_cancel_has_one_winner(app, client):
    shop = await open_shop(app, client)
    voucher = await publish(shop.staff, stock=10)
    people = [await citizen(client) for _ in range(6)]
    issued = []
    for person in people:
        await give_points(app, person.id, 500)
        issued.append((person, (await redeem(person, voucher["id"])).json()))
    calls = []
    for person, r in issued:
        calls += [verify(shop.staff, r["code"]), person.post(f"/v1/redemptions/{r['id']}/cancel")]
    answers = await asyncio.gather(*calls)
    fulfilled = 0
    for till, cancel in zip(answers[::2], answers[1::2], strict=True):
        assert sorted([till.status_code, cancel.status_code]) == [200, 409], (
            till.text,
            cancel.text,
        )
        if till.status_code == 200:
            fulfilled += 1
            assert_problem(cancel, 409, "already_fulfilled")
        else:
            assert_problem(till, 409, "cancelled")
    for person, _ in issued:
        account = await balance(person)
        assert account["held"] == 0 and account["balance"] in (0, 500)
    row = await incentive_row(app, voucher["id"])
    assert (row.stock, row.issued) == (10 - fulfilled, fulfilled)
    totals = (await shop.staff.get("/v1/merchant/redemptions")).json()["totals"]
    assert totals["fulfilled"] == fulfilled and totals["points_settled"] == 500 * fulfilled
    await ledger_is_clean(shop.admin)


async def test_per_user_limit_holds_under_concurrency(app, client):
    shop = await open_shop(app, client)
    coffee = await publish(shop.staff, title="Coffee", points_cost=100, per_user_limit=2)
    alice = await citizen(client)
    await give_points(app, alice.id, 5000)
    answers = await asyncio.gather(*[redeem(alice, coffee["id"]) for _ in range(8)])
    assert sorted(r.status_code for r in answers) == [201, 201] + [409] * 6
    for r in answers:
        if r.status_code == 409:
            assert_problem(r, 409, "limit_reached")
    assert (await balance(alice))["held"] == 200


async def test_same_key_sent_ten_times_at_once_redeems_once(app, client):
    shop = await open_shop(app, client)
    voucher = await publish(shop.staff, stock=5)
    alice = await citizen(client)
    await give_points(app, alice.id, 5000)
    key = str(uuid.uuid4())
    answers = await asyncio.gather(*[redeem(alice, voucher["id"], key=key) for _ in range(10)])
    assert sorted(r.status_code for r in answers) == [200] * 9 + [201], [r.text for r in answers]
    assert len({r.json()["id"] for r in answers}) == 1
    assert len({r.json()["code"] for r in answers}) == 1
    assert await _count(app, Redemption, Redemption.user_id == alice.id) == 1
    assert await _count(app, Hold, Hold.user_id == alice.id) == 1
    assert (await incentive_row(app, voucher["id"])).stock == 4
    assert (await balance(alice))["held"] == 500


async def test_expiry_sweep_raced_against_till_and_cancel_resolves_each_code_once(app, client):
    shop = await open_shop(app, client)
    voucher = await publish(shop.staff, stock=20, code_ttl_days=1)
    people = [await citizen(client) for _ in range(5)]
    issued = []
    for person in people:
        await give_points(app, person.id, 1000)
        for _ in range(2):
            issued.append((person, (await redeem(person, voucher["id"])).json()))

    async def sweep(limit: int) -> int:
        async with session_scope(app.state.sessionmaker) as s:
            return await redemptions.expire_codes(s, utcnow() + timedelta(days=2), limit)

    calls = [sweep(3), sweep(100), sweep(100)]
    for person, r in issued:
        calls += [verify(shop.staff, r["code"]), person.post(f"/v1/redemptions/{r['id']}/cancel")]
    results = await asyncio.gather(*calls)
    swept = sum(results[:3])
    http = results[3:]
    wins = sum(1 for r in http if r.status_code == 200)
    assert all(r.status_code in (200, 409) for r in http), [r.text for r in http]
    assert swept + wins == len(issued)
    async with session_scope(app.state.sessionmaker) as s:
        statuses = (await s.scalars(select(Redemption.status))).all()
    assert "issued" not in statuses
    fulfilled = statuses.count("fulfilled")
    row = await incentive_row(app, voucher["id"])
    assert (row.stock, row.issued) == (20 - fulfilled, fulfilled)
    held = [(await balance(p))["held"] for p in people]
    assert held == [0] * 5
    await ledger_is_clean(shop.admin)
