"""The redemption story end to end: publish, redeem, verify at the till, cancel, expire."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select, update

from app.db import session_scope, utcnow
from app.models import AuditEntry, Hold, Redemption
from app.services.rewards import redemptions
from tests.helpers import assert_problem, citizen, user_with_role
from tests.redemptions.helpers import (
    balance,
    give_points,
    incentive_row,
    ledger_is_clean,
    lots,
    open_shop,
    publish,
    redeem,
    verify,
)


async def test_merchant_publishes_citizen_redeems_till_verifies_once(app, client):
    shop = await open_shop(app, client)
    voucher = await publish(shop.staff, stock=10, per_user_limit=2, description="Line 2")
    assert voucher["merchant_id"] == shop.merchant_id and voucher["active"] is True
    alice = await citizen(client)
    await give_points(app, alice.id, 800)

    shelf = (await alice.get("/v1/incentives")).json()
    item = next(i for i in shelf["items"] if i["id"] == voucher["id"])
    assert item["merchant_name"] == "Green Life" and item["stock"] == 10

    r = await redeem(alice, voucher["id"])
    assert r.status_code == 201, r.text
    issued = r.json()
    assert issued["status"] == "issued" and issued["points"] == 500
    assert len(issued["code"]) == 14 and issued["code"][4] == "-"
    assert issued["code_hint"] == issued["code"][-2:]
    account = await balance(alice)
    assert (account["balance"], account["held"]) == (300, 500)
    assert (await incentive_row(app, voucher["id"])).stock == 9

    mine = (await alice.get("/v1/redemptions")).json()["items"]
    assert [m["code"] for m in mine] == [issued["code"]]
    assert mine[0]["incentive_title"] == "Metro ride voucher"

    # Read aloud at the counter: case, spaces and dashes do not matter.
    spoken = " ".join(issued["code"].replace("-", "").lower())
    r = await verify(shop.staff, spoken)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "fulfilled" and r.json()["resolved_by"] == shop.staff.id
    assert_problem(await verify(shop.staff, issued["code"]), 409, "already_fulfilled")

    account = await balance(alice)
    assert (account["balance"], account["held"]) == (300, 0)
    mine = (await alice.get("/v1/redemptions")).json()["items"]
    assert mine[0]["status"] == "fulfilled" and mine[0]["code"] is None
    listing = (await shop.staff.get("/v1/merchant/redemptions")).json()
    assert listing["totals"]["fulfilled"] == 1 and listing["totals"]["points_settled"] == 500
    assert "code" not in listing["items"][0]
    assert (await incentive_row(app, voucher["id"])).issued == 1
    await ledger_is_clean(shop.admin)


async def test_admin_registers_merchant_and_staff_with_audit(app, client):
    admin = await user_with_role(app, client, "admin")
    auditor = await user_with_role(app, client, "auditor")
    r = await admin.post("/v1/admin/merchants", json={"name": "Tea House"})
    assert r.status_code == 201, r.text
    merchant = r.json()
    assert set(merchant) == {"id", "name", "active", "created_at"} and merchant["active"] is True
    r = await admin.post(
        f"/v1/admin/merchants/{merchant['id']}/staff",
        json={"email": "till@tea.example.cn", "password": "Counter-Staff-2026"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["role"] == "merchant" and r.json()["merchant_id"] == merchant["id"]
    assert_problem(
        await admin.post(
            f"/v1/admin/merchants/{uuid.uuid4()}/staff",
            json={"email": "x@tea.example.cn", "password": "Counter-Staff-2026"},
        ),
        404,
        "not_found",
    )
    listed = await auditor.get("/v1/admin/merchants?limit=1")
    assert listed.status_code == 200 and listed.json()["items"][0]["id"] == merchant["id"]
    assert_problem(await auditor.post("/v1/admin/merchants", json={"name": "No"}), 403)
    async with session_scope(app.state.sessionmaker) as s:
        actions = set(
            await s.scalars(select(AuditEntry.action).where(AuditEntry.actor_id == admin.id))
        )
    assert {"merchant.create", "merchant.staff.create"} <= actions


async def test_redemption_needs_an_idempotency_key(app, client):
    shop = await open_shop(app, client)
    voucher = await publish(shop.staff)
    alice = await citizen(client)
    r = await alice.post("/v1/redemptions", json={"incentive_id": voucher["id"]})
    body = assert_problem(r, 422, "validation_error")
    assert any("Idempotency-Key" in e["field"] for e in body["errors"]), body


async def test_same_key_replays_same_code_and_other_incentive_conflicts(app, client):
    shop = await open_shop(app, client)
    voucher = await publish(shop.staff, stock=5)
    coffee = await publish(shop.staff, title="Coffee", points_cost=300)
    alice = await citizen(client)
    await give_points(app, alice.id, 2000)
    first = await redeem(alice, voucher["id"], key="k-1")
    again = await redeem(alice, voucher["id"], key="k-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert_problem(await redeem(alice, coffee["id"], key="k-1"), 409, "idempotency_conflict")
    assert (await balance(alice))["held"] == 500
    assert (await incentive_row(app, voucher["id"])).stock == 4


async def test_refusals_name_their_reason(app, client):
    shop = await open_shop(app, client)
    now = utcnow()
    pricey = await publish(shop.staff, points_cost=5000)
    gone = await publish(shop.staff, stock=0)
    later = await publish(shop.staff, valid_from=(now + timedelta(days=1)).isoformat())
    over = await publish(
        shop.staff,
        valid_from=(now - timedelta(days=2)).isoformat(),
        valid_until=(now - timedelta(days=1)).isoformat(),
    )
    paused = await publish(shop.staff)
    r = await shop.staff.patch(f"/v1/merchant/incentives/{paused['id']}", json={"paused": True})
    assert r.status_code == 200 and r.json()["paused"] is True and r.json()["active"] is False
    once = await publish(shop.staff, per_user_limit=1)
    alice = await citizen(client)
    await give_points(app, alice.id, 1000)

    assert_problem(await redeem(alice, pricey["id"]), 409, "insufficient_points")
    assert_problem(await redeem(alice, gone["id"]), 409, "out_of_stock")
    for incentive, reason in (
        (later, "not_yet_valid"),
        (over, "past_validity"),
        (paused, "paused"),
    ):
        body = assert_problem(await redeem(alice, incentive["id"]), 409, "incentive_inactive")
        assert body["reason"] == reason
    assert_problem(await redeem(alice, str(uuid.uuid4())), 404, "not_found")
    assert (await redeem(alice, once["id"])).status_code == 201
    assert_problem(await redeem(alice, once["id"]), 409, "limit_reached")
    assert (await balance(alice))["balance"] == 500

    shelf = {i["id"] for i in (await alice.get("/v1/incentives")).json()["items"]}
    assert shelf == {pricey["id"], once["id"]}
    own = {i["id"] for i in (await shop.staff.get("/v1/merchant/incentives")).json()["items"]}
    assert own == {pricey["id"], gone["id"], later["id"], over["id"], paused["id"], once["id"]}


async def test_publishing_rules(app, client):
    shop = await open_shop(app, client)
    r = await shop.staff.post(
        "/v1/merchant/incentives",
        json={
            "title": "Bad window",
            "points_cost": 10,
            "valid_from": "2027-01-02T00:00:00+00:00",
            "valid_until": "2027-01-01T00:00:00+00:00",
        },
    )
    assert_problem(r, 422, "validation_error")
    for bad in ({"points_cost": 0}, {"stock": -1}, {"per_user_limit": 0}, {"code_ttl_days": 366}):
        r = await shop.staff.post(
            "/v1/merchant/incentives", json={"title": "x", "points_cost": 5} | bad
        )
        assert_problem(r, 422, "validation_error")
    # Admins must say for which merchant; staff act for their own only.
    r = await shop.admin.post("/v1/merchant/incentives", json={"title": "x", "points_cost": 5})
    assert_problem(r, 422, "validation_error")
    r = await shop.admin.post(
        "/v1/merchant/incentives",
        json={"title": "By admin", "points_cost": 5, "merchant_id": shop.merchant_id},
    )
    assert r.status_code == 201 and r.json()["merchant_id"] == shop.merchant_id
    other = await open_shop(app, client, "Other")
    r = await shop.staff.post(
        "/v1/merchant/incentives",
        json={"title": "x", "points_cost": 5, "merchant_id": other.merchant_id},
    )
    assert_problem(r, 403, "forbidden")


async def test_merchant_routes_are_for_the_own_merchant_only(app, client):
    shop = await open_shop(app, client)
    rival = await open_shop(app, client, "Rival")
    voucher = await publish(shop.staff)
    r = await rival.staff.patch(f"/v1/merchant/incentives/{voucher['id']}", json={"stock": 0})
    assert_problem(r, 404, "not_found")
    alice = await citizen(client)
    assert_problem(
        await alice.post("/v1/merchant/incentives", json={"title": "x", "points_cost": 1}), 403
    )
    assert_problem(await alice.get("/v1/merchant/redemptions"), 403)
    assert_problem(await verify(alice, "2345-6789-ABCD"), 403)
    assert_problem(await shop.staff.get("/v1/redemptions"), 403)

    # An admin's change is audited.
    r = await shop.admin.patch(
        f"/v1/merchant/incentives/{voucher['id']}", json={"stock": 7, "title": "Metro 2"}
    )
    assert r.status_code == 200 and r.json()["stock"] == 7
    async with session_scope(app.state.sessionmaker) as s:
        entry = await s.scalar(
            select(AuditEntry).where(
                AuditEntry.action == "incentive.update", AuditEntry.target_id == voucher["id"]
            )
        )
    assert entry is not None and entry.after["stock"] == 7 and entry.before["stock"] is None


async def test_another_merchants_code_is_unknown_at_the_till(app, client):
    shop = await open_shop(app, client)
    rival = await open_shop(app, client, "Rival")
    voucher = await publish(shop.staff)
    alice = await citizen(client)
    await give_points(app, alice.id, 500)
    code = (await redeem(alice, voucher["id"])).json()["code"]
    assert_problem(await verify(rival.staff, code), 404, "not_found")
    assert_problem(await verify(shop.staff, "2345-6789-ABCD"), 404, "not_found")
    assert_problem(await verify(shop.staff, "0OIL-6789-ABCD"), 422, "validation_error")
    assert (await verify(shop.staff, code)).status_code == 200


async def test_cancel_gives_points_and_stock_back(app, client):
    shop = await open_shop(app, client)
    voucher = await publish(shop.staff, stock=1)
    alice, bob = await citizen(client), await citizen(client)
    await give_points(app, alice.id, 500)
    issued = (await redeem(alice, voucher["id"])).json()
    assert_problem(await alice.post(f"/v1/redemptions/{uuid.uuid4()}/cancel"), 404)
    assert_problem(await bob.post(f"/v1/redemptions/{issued['id']}/cancel"), 404, "not_found")
    r = await alice.post(f"/v1/redemptions/{issued['id']}/cancel")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled" and r.json()["code"] is None
    assert_problem(await alice.post(f"/v1/redemptions/{issued['id']}/cancel"), 409, "cancelled")
    assert_problem(await verify(shop.staff, issued["code"]), 409, "cancelled")
    account = await balance(alice)
    assert (account["balance"], account["held"]) == (500, 0)
    row = await incentive_row(app, voucher["id"])
    assert (row.stock, row.issued) == (1, 0)
    await ledger_is_clean(shop.admin)


async def test_spending_draws_soonest_expiring_lots_and_release_returns_them(app, client):
    shop = await open_shop(app, client)
    coffee = await publish(shop.staff, title="Coffee", points_cost=300)
    alice = await citizen(client)
    now = utcnow()
    await give_points(app, alice.id, 200, expires_at=now + timedelta(days=300))
    await give_points(app, alice.id, 200, expires_at=now + timedelta(days=10))
    await give_points(app, alice.id, 200, expires_at=now + timedelta(days=100))
    issued = (await redeem(alice, coffee["id"])).json()
    assert await lots(app, alice.id) == [(200, 0), (200, 100), (200, 200)]
    await alice.post(f"/v1/redemptions/{issued['id']}/cancel")
    assert await lots(app, alice.id) == [(200, 200), (200, 200), (200, 200)]


async def test_codes_past_their_lifetime_expire_and_return_stock_once(app, client):
    shop = await open_shop(app, client)
    voucher = await publish(shop.staff, stock=3, code_ttl_days=1)
    alice = await citizen(client)
    await give_points(app, alice.id, 1500)
    first = (await redeem(alice, voucher["id"])).json()
    second = (await redeem(alice, voucher["id"])).json()
    assert (await verify(shop.staff, second["code"])).status_code == 200
    # Past its lifetime but not yet swept: refused at the till, points still held.
    async with session_scope(app.state.sessionmaker) as s:
        await s.execute(
            update(Redemption)
            .where(Redemption.id == first["id"])
            .values(expires_at=utcnow() - timedelta(minutes=1))
        )
    assert_problem(await verify(shop.staff, first["code"]), 409, "expired")
    assert (await balance(alice))["held"] == 500

    later = utcnow() + timedelta(days=2)
    async with session_scope(app.state.sessionmaker) as s:
        assert await redemptions.expire_codes(s, utcnow(), 100) == 1
    async with session_scope(app.state.sessionmaker) as s:
        assert await redemptions.expire_codes(s, later, 100) == 0
    account = await balance(alice)
    assert (account["balance"], account["held"]) == (1000, 0)
    row = await incentive_row(app, voucher["id"])
    assert (row.stock, row.issued) == (2, 1)
    assert_problem(await verify(shop.staff, first["code"]), 409, "expired")
    assert_problem(await alice.post(f"/v1/redemptions/{first['id']}/cancel"), 409, "expired")
    async with session_scope(app.state.sessionmaker) as s:
        statuses = dict((await s.execute(select(Hold.id, Hold.status))).all())
    assert sorted(statuses.values()) == ["released", "settled"]
    await ledger_is_clean(shop.admin)


async def test_lists_page_newest_first(app, client):
    shop = await open_shop(app, client)
    ids = [(await publish(shop.staff, title=f"Item {n}", points_cost=10))["id"] for n in range(5)]
    alice = await citizen(client)
    await give_points(app, alice.id, 100)
    seen, cursor = [], None
    while True:
        url = "/v1/incentives?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = (await alice.get(url)).json()
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))
    for incentive_id in ids[:3]:
        assert (await redeem(alice, incentive_id)).status_code == 201
    first = (await alice.get("/v1/redemptions?limit=2")).json()
    rest = (await alice.get(f"/v1/redemptions?limit=2&cursor={first['next_cursor']}")).json()
    assert len(first["items"]) == 2 and len(rest["items"]) == 1 and rest["next_cursor"] is None
    listed = (await shop.staff.get("/v1/merchant/redemptions?status=issued&limit=200")).json()
    assert len(listed["items"]) == 3 and listed["totals"]["issued"] == 3
    assert_problem(await alice.get("/v1/incentives?cursor=nonsense"), 400)
