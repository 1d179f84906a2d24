"""The redemption lane decides plain redemptions before routing, exactly as the route would."""

from __future__ import annotations

import uuid
from typing import get_args

import pytest

from app.deps import IdempotencyKey
from app.schemas.rewards import RedemptionIn
from tests.helpers import assert_problem, citizen
from tests.redemptions.helpers import (
    customers,
    give_points,
    ledger_is_clean,
    open_shop,
    publish,
    redeem,
)


async def _through_the_route(person, incentive_id: str, key: str):
    # A query string makes the request one the lane leaves to the route (which ignores it).
    return await person.post(
        "/v1/redemptions?via=route",
        json={"incentive_id": incentive_id},
        headers={"Idempotency-Key": key},
    )


def _shape(r) -> tuple[int, str, set[str]]:
    names = {name for name in r.headers if name not in ("x-request-id", "date")}
    return r.status_code, r.headers["content-type"], names


async def test_a_redemption_decided_in_the_lane_is_answered_as_the_route_answers(
    app, client, route_calls
):
    shop, voucher, [alice] = await customers(app, client, [600], stock=5)
    key = str(uuid.uuid4())

    made = await redeem(alice, voucher["id"], key=key)
    assert made.status_code == 201, made.text
    assert route_calls == []
    replayed = await _through_the_route(alice, voucher["id"], key)
    assert route_calls == [alice.id]
    assert replayed.status_code == 200 and replayed.content == made.content
    assert _shape(replayed)[1:] == _shape(made)[1:]
    # And the other way round: the route's replay and the lane's are the same answer.
    again = await redeem(alice, voucher["id"], key=key)
    assert (again.status_code, again.content) == (200, made.content)
    assert _shape(again) == _shape(replayed)
    await ledger_is_clean(shop.admin)


async def test_a_refusal_decided_in_the_lane_is_the_routes_refusal(app, client, route_calls):
    # Bob has too few points.
    shop, voucher, [bob, carol] = await customers(
        app, client, [100, 5000], stock=5, per_user_limit=1
    )
    assert (await redeem(carol, voucher["id"])).status_code == 201

    cases = [
        (bob, voucher["id"], 409, "insufficient_points"),
        (carol, voucher["id"], 409, "limit_reached"),
        (carol, str(uuid.uuid4()), 404, "not_found"),
    ]
    for person, incentive_id, status, code in cases:
        lane = await redeem(person, incentive_id)
        route = await _through_the_route(person, incentive_id, str(uuid.uuid4()))
        assert assert_problem(lane, status, code) == assert_problem(route, status, code)
        assert _shape(lane) == _shape(route)
    assert route_calls == [bob.id, carol.id, carol.id]
    # A key used for another incentive, in the lane as in the route.
    other = await publish(shop.staff, title="Bus voucher", stock=5)
    used = str(uuid.uuid4())
    assert (await redeem(carol, other["id"], key=used)).status_code == 201
    lane = await redeem(carol, voucher["id"], key=used)
    route = await _through_the_route(carol, voucher["id"], used)
    assert assert_problem(lane, 409, "idempotency_conflict") == assert_problem(
        route, 409, "idempotency_conflict"
    )
    await ledger_is_clean(shop.admin)


@pytest.mark.parametrize("settings_overrides", [{"rate_limit_citizen_per_minute": 3}])
async def test_a_redemption_decided_in_the_lane_counts_against_the_rate_limit_once(
    app, client, route_calls
):
    shop, voucher, [alice] = await customers(app, client, [5000], stock=5)
    for _ in range(3):
        assert (await redeem(alice, voucher["id"])).status_code == 201
    assert route_calls == []
    # The fourth request is refused by the route, where the lane sends a token that does not
    # stand: nothing more was counted or redeemed.
    assert_problem(await redeem(alice, voucher["id"]), 429, "rate_limited")
    assert route_calls == []  # refused before the service was asked
    assert_problem(await alice.get("/v1/me"), 429, "rate_limited")


async def test_a_revoked_token_is_not_decided_in_the_lane(app, client, route_calls):
    shop = await open_shop(app, client)
    voucher = await publish(shop.staff, stock=5)
    dave = await citizen(client)
    await give_points(app, dave.id, 600)
    assert (await dave.post("/v1/auth/logout")).status_code == 204
    assert_problem(await redeem(dave, voucher["id"]), 401, "unauthorized")
    assert route_calls == []


def test_the_lane_knows_the_routes_body_and_key():
    """The lane decides only requests the route would accept without a word: if the body's
    schema or the key's bounds change, the lane's checks (``_incentive_id``,
    ``_plain_request``) must change with them."""
    body = RedemptionIn.model_json_schema()
    body.pop("examples", None)
    assert body == {
        "additionalProperties": False,
        "properties": {
            "incentive_id": {
                "maxLength": 36,
                "minLength": 1,
                "title": "Incentive Id",
                "type": "string",
            }
        },
        "required": ["incentive_id"],
        "title": "RedemptionIn",
        "type": "object",
    }
    header = get_args(IdempotencyKey)[1]
    bounds = {type(m).__name__: m for m in header.metadata}
    assert (bounds["MinLen"].min_length, bounds["MaxLen"].max_length) == (1, 200)
    assert header.alias == "Idempotency-Key"
