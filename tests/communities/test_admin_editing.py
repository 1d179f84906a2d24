"""Administrators edit and retire organisations and labelled products: every act audited, a
retired organisation takes no joins, a retired product cannot be bought."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from tests.communities.helpers import join, member_code, organisation, product, ring_up
from tests.communities.test_organisations import metro, now_iso
from tests.helpers import assert_problem, citizen, user_with_role
from tests.records.helpers import post
from tests.redemptions.helpers import open_shop

UNKNOWN = "00000000-0000-4000-8000-000000000000"


async def _audit(admin, **params) -> list[dict]:
    r = await admin.get("/v1/admin/audit", params=params)
    assert r.status_code == 200, r.text
    return r.json()["items"]


# Organisations


async def test_an_organisation_is_renamed_and_retired_with_an_audit_entry_each(app, client):
    admin = await user_with_role(app, client, "admin")
    org = await organisation(admin)
    url = f"/v1/admin/organisations/{org['id']}"
    r = await admin.patch(url, json={"name": "Yingze Street"})
    assert r.status_code == 200, r.text
    assert (r.json()["name"], r.json()["active"], r.json()["retired_at"]) == (
        "Yingze Street",
        True,
        None,
    )
    r = await admin.patch(url, json={"active": False})
    assert r.status_code == 200, r.text
    assert r.json()["active"] is False and r.json()["retired_at"] is not None
    assert r.json()["join_code"] == org["join_code"]

    entries = await _audit(admin, action="organisation.update", target_id=org["id"])
    assert len(entries) == 2
    rename = next(e for e in entries if e["after"]["retired_at"] is None)
    assert rename["before"] == {"name": org["name"], "retired_at": None}
    assert rename["actor_id"] == admin.id
    retire = next(e for e in entries if e["after"]["retired_at"] is not None)
    assert retire["before"]["retired_at"] is None
    # Sending what is already there changes nothing and writes nothing.
    assert (await admin.patch(url, json={"active": False})).status_code == 200
    assert len(await _audit(admin, action="organisation.update", target_id=org["id"])) == 2


async def test_a_retired_organisation_takes_no_joins_but_keeps_members_and_statistics(app, client):
    admin = await user_with_role(app, client, "admin")
    org = await organisation(admin)
    alice, bob = await citizen(client), await citizen(client)
    assert (await join(alice, org["join_code"])).status_code == 201
    await asyncio.sleep(0.01)  # the ride occurs after the join
    assert (await post(alice, "transit.metro", metro(), at=now_iso())).status_code == 201
    r = await admin.patch(f"/v1/admin/organisations/{org['id']}", json={"active": False})
    assert r.status_code == 200, r.text

    assert_problem(await join(bob, org["join_code"]), 409, "organisation_retired")
    assert (await bob.get("/v1/me/organisations")).json()["items"] == []
    # Its member still sees it and its statistics; the leaderboard still counts it.
    mine = (await alice.get("/v1/me/organisations")).json()["items"]
    assert [(m["organisation"]["id"], m["organisation"]["active"]) for m in mine] == [
        (org["id"], False)
    ]
    stats = await alice.get(f"/v1/organisations/{org['id']}/stats")
    assert stats.status_code == 200, stats.text
    assert stats.json()["totals"]["reduction_g"] == 467
    assert (await admin.get(f"/v1/organisations/{org['id']}/stats")).status_code == 200
    board = (await alice.get("/v1/leaderboards/organisations/all")).json()["items"]
    assert [(i["organisation"]["id"], i["reduction_g"]) for i in board] == [(org["id"], 467)]
    # Citizens looking for an organisation to join no longer see it; administrators do.
    assert org["id"] not in [o["id"] for o in (await bob.get("/v1/organisations")).json()["items"]]
    assert (await admin.get(f"/v1/admin/organisations/{org['id']}")).json()["active"] is False
    # Its members may still leave; reinstating makes the join code work again.
    assert (await alice.delete(f"/v1/me/organisations/{org['id']}")).status_code == 204
    r = await admin.patch(f"/v1/admin/organisations/{org['id']}", json={"active": True})
    assert r.json()["active"] is True and r.json()["retired_at"] is None
    assert (await join(bob, org["join_code"])).status_code == 201


async def test_joins_racing_a_retirement_either_count_or_are_refused(app, client):
    admin = await user_with_role(app, client, "admin")
    org = await organisation(admin)
    people = [await citizen(client) for _ in range(6)]
    retire = admin.patch(f"/v1/admin/organisations/{org['id']}", json={"active": False})
    *joins, retired = await asyncio.gather(*(join(p, org["join_code"]) for p in people), retire)
    assert retired.status_code == 200, retired.text
    joined = [r for r in joins if r.status_code == 201]
    for r in joins:
        if r.status_code != 201:
            assert_problem(r, 409, "organisation_retired")
    after = (await admin.get(f"/v1/admin/organisations/{org['id']}")).json()
    assert after["member_count"] == len(joined)
    assert_problem(await join(await citizen(client), org["join_code"]), 409)


async def test_the_admin_list_pages_through_every_organisation_retired_ones_included(app, client):
    admin = await user_with_role(app, client, "admin")
    made = [await organisation(admin, name=f"Campus {i}", kind="campus") for i in range(3)]
    await admin.patch(f"/v1/admin/organisations/{made[0]['id']}", json={"active": False})
    first = (await admin.get("/v1/admin/organisations", params={"limit": 2})).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    assert all("join_code" in o for o in first["items"])
    rest = await admin.get(
        "/v1/admin/organisations", params={"limit": 2, "cursor": first["next_cursor"]}
    )
    seen = [o["id"] for o in first["items"] + rest.json()["items"]]
    assert seen == [o["id"] for o in reversed(made)] and rest.json()["next_cursor"] is None
    retired = (await admin.get("/v1/admin/organisations", params={"active": "false"})).json()
    assert [o["id"] for o in retired["items"]] == [made[0]["id"]]
    active = (await admin.get("/v1/admin/organisations", params={"active": "true"})).json()
    assert {o["id"] for o in active["items"]} == {made[1]["id"], made[2]["id"]}
    assert_problem(await admin.get("/v1/admin/organisations", params={"cursor": "x!"}), 400)


async def test_organisation_edits_refuse_citizens_unknown_ids_and_bad_bodies(app, client):
    admin = await user_with_role(app, client, "admin")
    org = await organisation(admin)
    c = await citizen(client)
    url = f"/v1/admin/organisations/{org['id']}"
    assert_problem(await c.patch(url, json={"name": "Mine"}), 403)
    assert_problem(await c.get("/v1/admin/organisations"), 403)
    assert_problem(await admin.patch(f"/v1/admin/organisations/{UNKNOWN}", json={"name": "x"}), 404)
    for bad in ({}, {"name": ""}, {"name": None}, {"active": None}, {"kind": "park"}):
        assert_problem(await admin.patch(url, json=bad), 422)
    assert_problem(await admin.patch(url, json={"name": "x" * 201}), 422)
    after = (await admin.get(url)).json()
    assert (after["name"], after["active"]) == (org["name"], True)
    assert await _audit(admin, action="organisation.update", target_id=org["id"]) == []


# Products


async def test_a_product_is_renamed_and_retired_and_a_retired_one_cannot_be_bought(app, client):
    shop = await open_shop(app, client)
    milk = await product(shop.admin)
    url = f"/v1/admin/products/{milk['id']}"
    r = await shop.admin.patch(url, json={"name": "Oat milk 1 L"})
    assert r.status_code == 200 and r.json()["name"] == "Oat milk 1 L", r.text
    r = await shop.admin.patch(url, json={"active": False})
    assert r.status_code == 200, r.text
    assert (r.json()["active"], r.json()["in_force"]) == (False, False)
    assert r.json()["retired_at"] is not None

    c = await citizen(client)
    code = await member_code(c)
    body = assert_problem(await ring_up(shop.staff, code, [(milk["id"], 1)]), 422)
    assert body["reason"] == "product_retired"
    assert body["errors"] == [{"field": "items.0.product_id", "message": "the product is retired"}]
    assert (await c.get("/v1/account")).json()["balance"] == 0
    assert milk["id"] not in [p["id"] for p in (await c.get("/v1/products")).json()["items"]]
    listed = (await shop.admin.get("/v1/admin/products")).json()["items"]
    assert [(p["id"], p["active"]) for p in listed] == [(milk["id"], False)]

    # Reinstated, it sells again, and the refused attempt did not use the member code.
    assert (await shop.admin.patch(url, json={"active": True})).json()["active"] is True
    r = await ring_up(shop.staff, code, [(milk["id"], 1)])
    assert r.status_code == 201, r.text

    entries = await _audit(shop.admin, action="product.update", target_id=milk["id"])
    assert len(entries) == 3
    rename = next(e for e in entries if e["before"]["name"] != e["after"]["name"])
    assert rename["before"]["name"] == milk["name"]
    assert rename["before"]["label_id"] == rename["after"]["label_id"] == milk["label_id"]


async def test_a_label_can_be_corrected_until_a_record_names_the_product(app, client):
    shop = await open_shop(app, client)
    milk = await product(shop.admin)
    url = f"/v1/admin/products/{milk['id']}"
    r = await shop.admin.patch(url, json={"reduction_g_per_unit": "300", "label_id": "CL-X1"})
    assert r.status_code == 200, r.text
    assert (r.json()["reduction_g_per_unit"], r.json()["label_id"]) == ("300", "CL-X1")

    c = await citizen(client)
    sold = await ring_up(shop.staff, await member_code(c), [(milk["id"], 2)])
    assert sold.status_code == 201 and sold.json()["reduction_g"] == 600, sold.text
    body = assert_problem(
        await shop.admin.patch(url, json={"reduction_g_per_unit": "350"}), 409, "conflict"
    )
    assert body["reason"] == "product_in_use"
    future = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    assert_problem(await shop.admin.patch(url, json={"valid_until": future}), 409)
    # The name is not part of the label, and sending the label unchanged changes nothing.
    r = await shop.admin.patch(url, json={"name": "Oat milk", "reduction_g_per_unit": "300"})
    assert r.status_code == 200 and r.json()["name"] == "Oat milk", r.text
    after = (await shop.admin.get(url)).json()
    assert (after["reduction_g_per_unit"], after["valid_until"]) == ("300", None)


async def test_product_edits_refuse_citizens_unknown_ids_bad_bodies_and_taken_labels(app, client):
    admin = await user_with_role(app, client, "admin")
    milk = await product(admin)
    tea = await product(admin, name="Tea")
    c = await citizen(client)
    url = f"/v1/admin/products/{milk['id']}"
    assert_problem(await c.patch(url, json={"name": "Mine"}), 403)
    assert_problem(await c.get("/v1/admin/products"), 403)
    assert_problem(await c.get(url), 403)
    assert_problem(await admin.patch(f"/v1/admin/products/{UNKNOWN}", json={"name": "x"}), 404)
    assert_problem(await admin.get(f"/v1/admin/products/{UNKNOWN}"), 404)
    now = datetime.now(UTC)
    for bad in (
        {},
        {"label_id": None},
        {"reduction_g_per_unit": "-1"},
        {"reduction_g_per_unit": "0.00001"},
        {"source": ""},
        {"in_force": True},
        {"valid_from": now.isoformat(), "valid_until": (now - timedelta(days=1)).isoformat()},
        {"valid_from": "2026-01-01T00:00:00"},  # no offset
    ):
        assert_problem(await admin.patch(url, json=bad), 422)
    taken = {"label_id": tea["label_id"]}
    body = assert_problem(await admin.patch(url, json=taken), 409)
    assert body["reason"] == "label_exists"
    assert (await admin.get(url)).json() == {**milk}
    assert await _audit(admin, action="product.update", target_id=milk["id"]) == []
    # Validity dates may be cleared with null while no record names the product.
    start = (now - timedelta(days=1)).isoformat()
    r = await admin.patch(url, json={"valid_from": start})
    assert r.status_code == 200 and r.json()["valid_from"] is not None, r.text
    r = await admin.patch(url, json={"valid_from": None})
    assert r.status_code == 200 and r.json()["valid_from"] is None, r.text


def test_a_retired_product_is_out_of_force_from_its_retirement_on():
    from app.models import Product
    from app.services.communities import products

    retired_at = datetime(2026, 11, 25, 12, tzinfo=UTC)
    milk = Product(
        name="Oat milk",
        label_id="CL-1",
        certifier="Example",
        reduction_g_per_unit="350",
        source="label",
        valid_from=None,
        valid_until=None,
        retired_at=retired_at,
    )
    before = products.facts(milk, retired_at - timedelta(seconds=1))["product"]
    after = products.facts(milk, retired_at)["product"]
    assert (before["in_force"], after["in_force"]) == (True, False)
