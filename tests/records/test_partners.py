"""Data partners: signed, replay-proof batches that credit linked citizens."""

from __future__ import annotations

import time

from tests.helpers import assert_problem, citizen, user_with_role
from tests.records.helpers import event, signed_post


async def make_partner(app, client, types: list[str]) -> tuple[str, str]:
    admin = await user_with_role(app, client, "admin")
    r = await admin.post(
        "/v1/admin/partners", json={"name": "Taiyuan Metro", "allowed_types": types}
    )
    assert r.status_code == 201, r.text
    body = r.json()
    listed = (await admin.get("/v1/admin/partners")).json()["items"]
    assert "secret" not in listed[0] and listed[0]["key_id"] == body["key_id"]
    return body["key_id"], body["secret"]


async def test_signed_batch_credits_linked_citizens_and_a_replay_is_refused(app, client):
    key, secret = await make_partner(app, client, ["transit.metro", "energy.electricity_saving"])
    alice = await citizen(client, region="CN-SX")
    bob = await citizen(client, region="CN-GD")
    r = await alice.post("/v1/me/links", json={"partner_key": key, "external_ref": "card-1"})
    assert r.status_code == 201 and r.json()["status"] == "pending"
    confirmed = await signed_post(
        client,
        key,
        secret,
        {"external_ref": "card-1", "confirmation_code": r.json()["confirmation_code"]},
        path="/v1/partner/links/confirm",
    )
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "active"
    assert (
        await alice.post("/v1/me/links", json={"partner_key": key, "external_ref": "card-1"})
    ).status_code == 200
    assert_problem(
        await bob.post("/v1/me/links", json={"partner_key": key, "external_ref": "card-1"}), 409
    )
    saving = {"baseline_kwh": 10, "actual_kwh": 8, "period_days": 1}
    body = {
        "events": [
            {
                "user_ref": "card-1",
                **event("transit.metro", {"distance_km": 10, "duration_min": 20}),
            },
            {"user_ref": "card-1", **event("energy.electricity_saving", saving)},
            {"user_ref": bob.id, **event("energy.electricity_saving", saving)},
            {"user_ref": bob.id, **event("walking", {"steps": 5000})},
            {
                "user_ref": "card-unknown",
                **event("transit.metro", {"distance_km": 5, "duration_min": 10}),
            },
        ]
    }
    ts, nonce = int(time.time()), "nonce-0000001"
    r = await signed_post(client, key, secret, body, timestamp=ts, nonce=nonce)
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["status"] for x in results] == [
        "credited",
        "credited",
        "credited",
        "invalid",
        "invalid",
    ]
    assert [x.get("reduction_g") for x in results[:3]] == [467, 1272, 1061]
    assert results[3]["error"]["code"] == "type_not_allowed"
    assert results[4]["error"]["code"] == "unknown_user"
    assert (await alice.get("/v1/account")).json()["balance"] == 467 + 1272
    assert (await bob.get("/v1/account")).json()["balance"] == 1061

    replay = await signed_post(client, key, secret, body, timestamp=ts, nonce=nonce)
    assert_problem(replay, 401, "unauthorized")
    assert (await alice.get("/v1/account")).json()["balance"] == 467 + 1272


async def test_stale_tampered_and_unknown_requests_are_401(app, client):
    key, secret = await make_partner(app, client, ["walking"])
    c = await citizen(client)
    body = {"events": [{"user_ref": c.id, **event("walking", {"steps": 1000})}]}
    stale = await signed_post(client, key, secret, body, timestamp=int(time.time()) - 301)
    assert_problem(stale, 401)
    assert_problem(await signed_post(client, key, secret, body, tamper=True), 401)
    assert_problem(await signed_post(client, key, "0" * 64, body), 401)
    assert_problem(await signed_post(client, "pk_nobody", secret, body), 401)
    r = await client.post("/v1/partner/events", json=body)
    assert_problem(r, 401)
    assert (await c.get("/v1/account")).json()["balance"] == 0
    ok = await signed_post(client, key, secret, body)
    assert ok.json()["results"][0]["status"] == "credited"


async def test_partner_creation_is_for_admins_and_checks_types(app, client):
    admin = await user_with_role(app, client, "admin")
    auditor = await user_with_role(app, client, "auditor")
    c = await citizen(client)
    body = {"name": "Bikes", "allowed_types": ["cycling"]}
    assert_problem(await c.post("/v1/admin/partners", json=body), 403)
    assert_problem(await auditor.post("/v1/admin/partners", json=body), 403)
    bad = await admin.post("/v1/admin/partners", json={"name": "X", "allowed_types": ["flying"]})
    assert_problem(bad, 422, "validation_error")
    assert_problem(
        await c.post("/v1/me/links", json={"partner_key": "pk_none", "external_ref": "x"}), 404
    )
