"""Merchant administration: renaming and deactivating a merchant, and the till's check
before settling."""

from __future__ import annotations

from tests.helpers import assert_problem, citizen, user_with_role
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


async def lookup(staff, code: str):
    return await staff.post("/v1/merchant/redemptions/lookup", json={"code": code})


async def test_the_till_looks_a_code_up_without_settling_it(app, client):
    shop = await open_shop(app, client)
    rival = await open_shop(app, client, name="Rival")
    voucher = await publish(shop.staff, stock=5)
    alice = await citizen(client)
    await give_points(app, alice.id, 500)
    code = (await redeem(alice, voucher["id"])).json()["code"]

    r = await lookup(shop.staff, code.lower().replace("-", " "))
    assert r.status_code == 200, r.text
    seen = r.json()
    assert seen["status"] == "issued" and seen["points"] == 500 and seen["usable"] is True
    assert seen["incentive"]["id"] == voucher["id"]
    assert seen["incentive"]["title"] == voucher["title"]
    assert "code" not in seen
    assert (await balance(alice))["held"] == 500
    assert_problem(await lookup(rival.staff, code), 404, "not_found")
    assert_problem(await lookup(shop.staff, "2345-6789-ABCD"), 404, "not_found")
    assert_problem(await lookup(shop.staff, "not a code"), 422, "validation_error")
    assert_problem(await lookup(alice, code), 403)

    assert (await verify(shop.staff, code)).status_code == 200
    after = (await lookup(shop.staff, code)).json()
    assert after["status"] == "fulfilled" and after["usable"] is False
    await ledger_is_clean(shop.admin)


async def test_an_inactive_merchant_neither_offers_nor_settles(app, client):
    shop = await open_shop(app, client)
    voucher = await publish(shop.staff, stock=5)
    alice = await citizen(client)
    await give_points(app, alice.id, 1000)
    code = (await redeem(alice, voucher["id"])).json()["code"]

    r = await shop.admin.patch(f"/v1/admin/merchants/{shop.merchant_id}", json={"active": False})
    assert r.status_code == 200 and r.json()["active"] is False, r.text

    shelf = (await alice.get("/v1/incentives")).json()["items"]
    assert voucher["id"] not in [i["id"] for i in shelf]
    refused = await redeem(alice, voucher["id"])
    assert assert_problem(refused, 409, "incentive_inactive")["reason"] == "merchant_inactive"
    assert assert_problem(await verify(shop.staff, code), 403)["reason"] == "merchant_inactive"
    assert_problem(await lookup(shop.staff, code), 403)
    assert (await balance(alice))["held"] == 500
    assert (await incentive_row(app, voucher["id"])).stock == 4

    # The citizen still gets the points of an unused code back.
    mine = (await alice.get("/v1/redemptions")).json()["items"]
    assert (await alice.post(f"/v1/redemptions/{mine[0]['id']}/cancel")).status_code == 200

    back = await shop.admin.patch(f"/v1/admin/merchants/{shop.merchant_id}", json={"active": True})
    assert back.json()["active"] is True
    assert (await redeem(alice, voucher["id"])).status_code == 201
    await ledger_is_clean(shop.admin)


async def test_merchant_edits_are_for_admins_validated_and_audited(app, client):
    shop = await open_shop(app, client)
    auditor = await user_with_role(app, client, "auditor")
    url = f"/v1/admin/merchants/{shop.merchant_id}"
    r = await shop.admin.patch(url, json={"name": "  Green Life Plus "})
    assert r.status_code == 200 and r.json()["name"] == "Green Life Plus", r.text
    assert_problem(await shop.staff.patch(url, json={"active": False}), 403)
    assert_problem(await auditor.patch(url, json={"active": False}), 403)
    assert_problem(await shop.admin.patch(url, json={"name": ""}), 422)
    assert_problem(await shop.admin.patch(url, json={"owner": "x"}), 422)
    assert_problem(await shop.admin.patch(url, json={"active": None}), 422)
    assert_problem(await shop.admin.patch("/v1/admin/merchants/nope", json={"name": "X"}), 404)
    entries = (
        await shop.admin.get("/v1/admin/audit", params={"action": "merchant.update"})
    ).json()["items"]
    assert [e["target_id"] for e in entries] == [shop.merchant_id]
    assert entries[0]["before"]["name"] == "Green Life"
    assert entries[0]["after"]["name"] == "Green Life Plus"


async def test_an_admin_publishes_an_incentive_for_a_named_merchant(app, client):
    shop = await open_shop(app, client)
    other = await open_shop(app, client, name="Other")
    auditor = await user_with_role(app, client, "auditor")
    url = f"/v1/admin/merchants/{shop.merchant_id}/incentives"
    body = {"title": "Reusable cup", "points_cost": 200, "stock": 10, "per_user_limit": 1}
    r = await shop.admin.post(url, json=body)
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["merchant_id"] == shop.merchant_id
    assert (made["title"], made["points_cost"], made["stock"], made["issued"]) == (
        "Reusable cup",
        200,
        10,
        0,
    )
    # The same answer the merchant's own list gives; the other merchant does not see it.
    mine = (await shop.staff.get("/v1/merchant/incentives")).json()["items"]
    assert [i for i in mine if i["id"] == made["id"]] == [made]
    theirs = (await other.staff.get("/v1/merchant/incentives")).json()["items"]
    assert made["id"] not in [i["id"] for i in theirs]
    [entry] = (
        await shop.admin.get(
            "/v1/admin/audit", params={"action": "incentive.create", "target_id": made["id"]}
        )
    ).json()["items"]
    assert entry["after"]["merchant_id"] == shop.merchant_id
    assert entry["actor_id"] == shop.admin.id

    # Only administrators; a bad body or an unknown merchant changes nothing.
    assert_problem(await shop.staff.post(url, json=body), 403)
    assert_problem(await auditor.post(url, json=body), 403)
    assert_problem(await shop.admin.post(url, json={**body, "points_cost": 0}), 422)
    assert_problem(await shop.admin.post(url, json={**body, "merchant_id": other.merchant_id}), 422)
    assert_problem(
        await shop.admin.post(
            url,
            json={
                **body,
                "valid_from": "2027-01-02T00:00:00+08:00",
                "valid_until": "2027-01-01T00:00:00+08:00",
            },
        ),
        422,
    )
    unknown = await shop.admin.post("/v1/admin/merchants/no-such-merchant/incentives", json=body)
    assert_problem(unknown, 404, "not_found")
    after = (await shop.staff.get("/v1/merchant/incentives")).json()["items"]
    assert [i["id"] for i in after] == [made["id"]]
    entries = (
        await shop.admin.get("/v1/admin/audit", params={"action": "incentive.create"})
    ).json()["items"]
    assert [e["target_id"] for e in entries] == [made["id"]]
