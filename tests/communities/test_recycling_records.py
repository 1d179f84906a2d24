"""Recycling records: a collection point's records are credited by the published factor,
a citizen's own report waits for review."""

from __future__ import annotations

from tests.helpers import citizen, user_with_role
from tests.records.helpers import event, post, signed_post


async def test_partner_reported_recycling_is_credited_by_the_published_factor(app, client):
    admin = await user_with_role(app, client, "admin")
    r = await admin.post(
        "/v1/admin/partners", json={"name": "Green Bin machines", "allowed_types": ["recycling"]}
    )
    key, secret = r.json()["key_id"], r.json()["secret"]
    c = await citizen(client)
    body = {
        "events": [
            {"user_ref": c.id, **event("recycling", {"material": "paper", "weight_kg": 10})},
            {"user_ref": c.id, **event("recycling", {"material": "glass", "weight_kg": 5})},
            {"user_ref": c.id, **event("recycling", {"material": "plastic", "weight_kg": 60})},
        ]
    }
    answer = await signed_post(client, key, secret, body)
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [(x["status"], x["reduction_g"]) for x in results[:2]] == [
        ("credited", 39132),
        ("credited", 1543),
    ]
    assert (results[2]["status"], results[2]["reasons"]) == ("rejected", ["implausible_amount"])
    detail = (await c.get(f"/v1/events/{results[0]['id']}")).json()
    assert detail["breakdown"]["factor_t_co2e_per_short_ton"] == "3.55"
    assert "WARM" in detail["breakdown"]["source"]
    assert (await c.get("/v1/account")).json()["balance"] == 20_000  # the daily cap


async def test_self_reported_recycling_waits_for_review_and_approval_credits_it(app, client):
    admin = await user_with_role(app, client, "admin")
    c = await citizen(client)
    r = await post(c, "recycling", {"material": "metal", "weight_kg": 2})
    assert (r.json()["status"], r.json()["reduction_g"]) == ("pending_review", 9678)
    approved = await admin.post(f"/v1/admin/events/{r.json()['id']}/approve")
    assert approved.status_code == 200, approved.text
    assert (await c.get("/v1/account")).json()["balance"] == 9678
