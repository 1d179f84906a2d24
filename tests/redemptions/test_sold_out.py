"""Sold-out markers: refusals without the database, exact reasons, units that come back."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import update

from app.db import session_scope, utcnow
from app.models import Redemption
from app.services.rewards import redemptions, sold_out
from app.services.rewards.errors import OutOfStock
from tests.helpers import assert_problem, citizen
from tests.ledger.test_statement_counts import counting
from tests.redemptions.helpers import (
    give_points,
    incentive_row,
    ledger_is_clean,
    open_shop,
    publish,
    redeem,
)


async def _sold_out_voucher(app, client, **fields):
    """A voucher of one unit taken by alice (who holds a code), refused to bob (the marker)."""
    shop = await open_shop(app, client)
    voucher = await publish(shop.staff, stock=1, **fields)
    alice, bob = await citizen(client), await citizen(client)
    for person in (alice, bob):
        await give_points(app, person.id, 1000)
    key = str(uuid.uuid4())
    won = await redeem(alice, voucher["id"], key=key)
    assert won.status_code == 201, won.text
    assert_problem(await redeem(bob, voucher["id"]), 409, "out_of_stock")
    return shop, voucher, alice, bob, won, key


async def test_a_customer_still_gets_their_replay_and_their_limit(app, client):
    shop, voucher, alice, bob, won, key = await _sold_out_voucher(app, client, per_user_limit=1)
    carol = await citizen(client)
    with counting(app) as seen:
        assert_problem(await redeem(carol, voucher["id"]), 409, "out_of_stock")
    assert seen.work == []
    # Alice holds a code: at her limit she is told so, and her key replays her code.
    assert_problem(await redeem(alice, voucher["id"]), 409, "limit_reached")
    again = await redeem(alice, voucher["id"], key=key)
    assert again.status_code == 200 and again.json() == won.json(), again.text
    assert_problem(await redeem(bob, voucher["id"]), 409, "out_of_stock")


async def test_a_cancelled_code_brings_the_unit_back_at_once(app, client):
    shop, voucher, alice, bob, won, _ = await _sold_out_voucher(app, client)
    r = await alice.post(f"/v1/redemptions/{won.json()['id']}/cancel")
    assert r.status_code == 200, r.text
    # A replay of the cancelled code is still a replay, not a refusal.
    assert (await redeem(bob, voucher["id"])).status_code == 201
    carol = await citizen(client)
    assert_problem(await redeem(carol, voucher["id"]), 409, "out_of_stock")
    await ledger_is_clean(shop.admin)


async def test_new_stock_and_a_pause_are_seen_at_once(app, client):
    shop, voucher, alice, bob, _, _ = await _sold_out_voucher(app, client)
    r = await shop.staff.patch(f"/v1/merchant/incentives/{voucher['id']}", json={"stock": 1})
    assert r.status_code == 200, r.text
    assert (await redeem(bob, voucher["id"])).status_code == 201
    carol, dan = await citizen(client), await citizen(client)
    assert_problem(await redeem(carol, voucher["id"]), 409, "out_of_stock")
    r = await shop.staff.patch(f"/v1/merchant/incentives/{voucher['id']}", json={"paused": True})
    assert r.status_code == 200, r.text
    body = assert_problem(await redeem(dan, voucher["id"]), 409, "incentive_inactive")
    assert body["reason"] == "paused"


async def test_a_deactivated_merchant_is_named_at_once(app, client):
    shop, voucher, _, _, _, _ = await _sold_out_voucher(app, client)
    r = await shop.admin.patch(f"/v1/admin/merchants/{shop.merchant_id}", json={"active": False})
    assert r.status_code == 200, r.text
    carol = await citizen(client)
    body = assert_problem(await redeem(carol, voucher["id"]), 409, "incentive_inactive")
    assert body["reason"] == "merchant_inactive"


async def test_an_expired_code_brings_the_unit_back(app, client):
    shop, voucher, alice, bob, won, _ = await _sold_out_voucher(app, client)
    async with session_scope(app.state.sessionmaker) as s:
        await s.execute(
            update(Redemption)
            .where(Redemption.id == won.json()["id"])
            .values(expires_at=utcnow() - timedelta(minutes=1))
        )
    async with session_scope(app.state.sessionmaker) as s:
        assert await redemptions.expire_codes(s, utcnow(), 100, app.state.kv) == 1
    assert (await redeem(bob, voucher["id"])).status_code == 201
    await ledger_is_clean(shop.admin)


async def test_redeemers_racing_a_cancel_never_oversell(app, client):
    shop = await open_shop(app, client)
    voucher = await publish(shop.staff, stock=2)
    people = [await citizen(client) for _ in range(12)]
    for person in people:
        await give_points(app, person.id, 600)
    first = [await redeem(p, voucher["id"]) for p in people[:2]]
    assert [r.status_code for r in first] == [201, 201]
    assert_problem(await redeem(people[2], voucher["id"]), 409, "out_of_stock")
    cancel = people[0].post(f"/v1/redemptions/{first[0].json()['id']}/cancel")
    answers = await asyncio.gather(cancel, *[redeem(p, voucher["id"]) for p in people[3:]])
    assert answers[0].status_code == 200, answers[0].text
    won = [r for r in answers[1:] if r.status_code == 201]
    assert len(won) <= 1
    for r in answers[1:]:
        if r.status_code != 201:
            assert_problem(r, 409, "out_of_stock")
    row = await incentive_row(app, voucher["id"])
    assert (row.stock, row.issued) == (1 - len(won), 1 + len(won))
    # Whatever the order, the unit is redeemable once the cancel has committed.
    if not won:
        assert (await redeem(people[2], voucher["id"])).status_code == 201
    await ledger_is_clean(shop.admin)


async def test_refusals_of_a_sold_out_incentive_are_answered_before_the_route(
    app, client, route_calls
):
    shop, voucher, alice, bob, won, key = await _sold_out_voucher(app, client)
    carol = await citizen(client)
    route_calls.clear()
    with counting(app) as seen:
        r = await carol.post(
            "/v1/redemptions",
            json={"incentive_id": voucher["id"]},
            headers={"Idempotency-Key": "k1", "Accept-Language": "zh-CN"},
        )
    body = assert_problem(r, 409, "out_of_stock")
    assert body["detail"] != "This incentive is out of stock."  # translated, as the route does
    assert r.headers["content-language"] == "zh-CN" and r.headers["x-request-id"]
    assert route_calls == [] and seen.statements == []
    # A customer may be replaying: her request is decided, and answered with her code.
    again = await redeem(alice, voucher["id"], key=key)
    assert again.status_code == 200 and again.json() == won.json(), again.text
    assert route_calls == []


async def test_the_lane_answers_nothing_but_the_refusal_the_route_would_give(
    app, client, route_calls
):
    shop, voucher, alice, bob, won, key = await _sold_out_voucher(app, client)
    carol, dave = await citizen(client), await citizen(client)
    route_calls.clear()
    ask = {"json": {"incentive_id": voucher["id"]}, "headers": {"Idempotency-Key": "k2"}}
    # What the route refuses first, it still refuses: the body, the key, the role, the token.
    assert_problem(
        await carol.post("/v1/redemptions", json={**ask["json"], "x": 1}, headers=ask["headers"]),
        422,
        "validation_error",
    )
    assert_problem(await carol.post("/v1/redemptions", json=ask["json"]), 422, "validation_error")
    assert_problem(await shop.staff.post("/v1/redemptions", **ask), 403, "forbidden")
    assert (await dave.post("/v1/auth/logout")).status_code == 204
    assert_problem(await dave.post("/v1/redemptions", **ask), 401, "unauthorized")
    unknown = {"json": {"incentive_id": str(uuid.uuid4())}, "headers": ask["headers"]}
    assert_problem(await carol.post("/v1/redemptions", **unknown), 404, "not_found")
    assert route_calls == []  # the unknown incentive: decided in the lane, as the route would


@pytest.mark.parametrize("settings_overrides", [{"rate_limit_citizen_per_minute": 3}])
async def test_a_refusal_in_the_lane_counts_against_the_rate_limit_once(app, client, route_calls):
    shop, voucher, alice, bob, won, key = await _sold_out_voucher(app, client)
    carol = await citizen(client)
    for _ in range(3):
        assert_problem(await redeem(carol, voucher["id"]), 409, "out_of_stock")
    assert_problem(await redeem(carol, voucher["id"]), 429, "rate_limited")
    assert_problem(await carol.get("/v1/me"), 429, "rate_limited")


async def test_a_unit_that_rolls_back_writes_no_marker(app, client):
    """The marker is written after the commit of the unit that found the stock gone: a unit
    that fails after deciding (its redemptions never stored) leaves the store as it was."""
    shop = await open_shop(app, client)
    voucher = await publish(shop.staff, stock=1)
    alice, bob, carol = await citizen(client), await citizen(client), await citizen(client)
    for person in (alice, bob):
        await give_points(app, person.id, 1000)
    assert (await redeem(alice, voucher["id"])).status_code == 201
    kv, secret = app.state.kv, app.state.settings.jwt_key

    async def decide(fail: bool) -> None:
        seen = await sold_out.look(kv, voucher["id"], bob.id)
        assert not seen.refuse and seen.generation is not None
        async with session_scope(app.state.sessionmaker) as s:
            asks = [redemptions.Ask(bob.id, str(uuid.uuid4()))]
            [answer] = await redemptions.issue(
                s, secret, kv, voucher["id"], asks, utcnow(), seen=seen
            )
            assert isinstance(answer, OutOfStock)
            if fail:
                raise RuntimeError("the unit fails after its decision")

    with pytest.raises(RuntimeError):
        await decide(fail=True)
    assert not (await sold_out.look(kv, voucher["id"], carol.id)).refuse
    await decide(fail=False)
    assert (await sold_out.look(kv, voucher["id"], carol.id)).refuse
    await ledger_is_clean(shop.admin)
