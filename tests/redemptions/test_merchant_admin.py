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
