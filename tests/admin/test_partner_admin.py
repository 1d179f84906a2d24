"""Partner administration: deactivate, change what a partner may submit, rotate its secret."""

from __future__ import annotations

from tests.helpers import assert_problem, citizen, user_with_role
from tests.records.helpers import event, signed_post

WALK = {"steps": 5000}


async def test_rotation_shows_a_new_secret_once_and_the_old_one_stops_at_once(app, client):
    admin = await user_with_role(app, client, "admin")
    r = await admin.post("/v1/admin/partners", json={"name": "Bikes", "allowed_types": ["walking"]})
    partner = r.json()
    key, old = partner["key_id"], partner["secret"]
    c = await citizen(client)
    body = {"events": [{"user_ref": c.id, **event("walking", WALK)}]}
    assert (await signed_post(client, key, old, body)).status_code == 200

    rotated = await admin.post(f"/v1/admin/partners/{partner['id']}/rotate")
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert new != old and rotated.json()["key_id"] == key
    assert rotated.json()["secret_rotated_at"] is not None
    stale = await signed_post(client, key, old, body)
    assert assert_problem(stale, 401, "unauthorized")["reason"] == "signature_invalid"
    fresh = {"events": [{"user_ref": c.id, **event("walking", WALK)}]}
    assert (await signed_post(client, key, new, fresh)).json()["results"][0]["status"] == "credited"

    shown = (await admin.get(f"/v1/admin/partners/{partner['id']}")).json()
    assert "secret" not in shown and "secret_salt" not in shown
    [entry] = (
        await admin.get("/v1/admin/audit", params={"action": "partner.secret_rotated"})
    ).json()["items"]
    assert entry["target_id"] == partner["id"] and new not in str(entry)


async def test_an_inactive_partner_is_refused_and_can_be_reactivated(app, client):
    admin = await user_with_role(app, client, "admin")
    auditor = await user_with_role(app, client, "auditor")
    r = await admin.post("/v1/admin/partners", json={"name": "Metro", "allowed_types": ["walking"]})
    partner = r.json()
    key, secret, url = partner["key_id"], partner["secret"], f"/v1/admin/partners/{partner['id']}"
    c = await citizen(client)

    off = await admin.patch(url, json={"active": False})
    assert off.status_code == 200 and off.json()["is_active"] is False, off.text
    body = {"events": [{"user_ref": c.id, **event("walking", WALK)}]}
    refused = await signed_post(client, key, secret, body)
    assert assert_problem(refused, 403, "forbidden")["reason"] == "partner_inactive"
    link = await c.post("/v1/me/links", json={"partner_key": key, "external_ref": "x-1"})
    assert_problem(link, 404)
    assert (await c.get("/v1/account")).json()["balance"] == 0

    on = await admin.patch(
        url,
        json={
            "active": True,
            "allowed_types": ["walking", "cycling"],
            "link_confirmation": "none",
        },
    )
    assert on.json()["allowed_types"] == ["cycling", "walking"]
    assert on.json()["link_confirmation"] == "none"
    assert (await signed_post(client, key, secret, body)).json()["results"][0]["status"] == (
        "credited"
    )
    assert (await auditor.get(url)).status_code == 200
    assert_problem(await auditor.patch(url, json={"active": False}), 403)
    assert_problem(await auditor.post(f"{url}/rotate"), 403)
    assert_problem(await c.get(url), 403)
    assert_problem(await admin.patch(url, json={"allowed_types": ["flying"]}), 422)
    assert_problem(await admin.patch(url, json={"allowed_types": []}), 422)
    assert_problem(await admin.patch(url, json={"link_confirmation": "sometimes"}), 422)
    assert_problem(await admin.patch(url, json={"active": None}), 422)
    assert_problem(await admin.patch("/v1/admin/partners/none", json={"active": True}), 404)
    assert_problem(await admin.post("/v1/admin/partners/none/rotate"), 404)
    entries = (await admin.get("/v1/admin/audit", params={"action": "partner.updated"})).json()[
        "items"
    ]
    assert len(entries) == 2
    assert {e["after"]["is_active"] for e in entries} == {True, False}
