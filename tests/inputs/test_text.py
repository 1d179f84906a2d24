"""Text the database cannot store (NUL, unpaired surrogates) is a 422 naming the field,
wherever a request carries it, and nothing is changed. PostgreSQL refuses NUL in text, so
these are 500s there without the guard; SQLite runs them too, for the same answers."""

from __future__ import annotations

import json
import time

from tests.helpers import PASSWORD, assert_problem, citizen, login, unique_email, user_with_role
from tests.records.helpers import event, signed_post

NUL = "\u0000"


def fields(r) -> list[str]:
    return [e["field"] for e in assert_problem(r, 422, "validation_error")["errors"]]


async def test_register_and_login_refuse_a_nul(client):
    email = unique_email()
    r = await client.post("/v1/auth/register", json={"email": email + NUL, "password": PASSWORD})
    assert fields(r) == ["body.email"]
    r = await client.post(
        "/v1/auth/register",
        json={"email": email, "password": PASSWORD, "display_name": "Li" + NUL},
    )
    assert fields(r) == ["body.display_name"]
    assert (await login(client, email)).status_code == 401  # nothing was registered
    r = await client.post(
        "/v1/auth/token", data={"username": email + NUL, "password": PASSWORD + NUL}
    )
    assert fields(r) == ["body.username", "body.password"]


async def test_an_unpaired_surrogate_is_refused_like_a_nul(client):
    payload = {"email": unique_email(), "password": PASSWORD, "display_name": "?"}
    raw = json.dumps(payload).replace('"?"', '"\\ud800"')
    r = await client.post(
        "/v1/auth/register", content=raw, headers={"Content-Type": "application/json"}
    )
    assert fields(r) == ["body.display_name"]


async def test_query_and_path_parameters_refuse_a_nul(client):
    c = await citizen(client)
    assert fields(await c.get("/v1/events", params={"type": "walking" + NUL})) == ["query.type"]
    assert fields(await c.get("/v1/events/abc%00def")) == ["path.event_id"]


async def test_headers_that_reach_the_database_refuse_a_nul(app, client):
    c = await citizen(client)
    r = await c.post(
        "/v1/redemptions",
        json={"incentive_id": "x"},
        headers={"Idempotency-Key": "key" + NUL},
    )
    assert fields(r) == ["header.idempotency-key"]
    r = await client.post(
        "/v1/partner/events",
        content=b'{"events": []}',
        headers={
            "Content-Type": "application/json",
            "X-Partner-Key": "pk" + NUL,
            "X-Timestamp": str(int(time.time())),
            "X-Nonce": "n" * 16,
            "X-Signature": "0" * 64,
        },
    )
    assert fields(r) == ["header.x-partner-key"]


async def test_administration_names_refuse_a_nul(app, client):
    admin = await user_with_role(app, client, "admin")
    r = await admin.post("/v1/admin/merchants", json={"name": "Tea" + NUL + "House"})
    assert fields(r) == ["body.name"]
    assert (await admin.get("/v1/admin/merchants")).json()["items"] == []
    r = await admin.post(
        "/v1/admin/partners", json={"name": "Metro", "allowed_types": ["walking" + NUL]}
    )
    assert fields(r) == ["body.allowed_types.0"]


async def test_a_nul_in_one_batch_item_fails_that_item_alone(app, client):
    c = await citizen(client)
    bad = event("walking", {"steps": 1000})
    bad["data"] = {"steps" + NUL: 1000}
    r = await c.post("/v1/events/batch", json={"events": [bad, event("walking", {"steps": 900})]})
    assert r.status_code == 200, r.text
    first, second = r.json()["results"]
    assert first["status"] == "invalid" and second["status"] == "credited"
    assert first["error"]["code"] == "validation_error"
    assert [e["field"] for e in first["error"]["errors"]] == ["data.steps\\x00"]

    admin = await user_with_role(app, client, "admin")
    r = await admin.post("/v1/admin/partners", json={"name": "Metro", "allowed_types": ["walking"]})
    key, secret = r.json()["key_id"], r.json()["secret"]
    body = {
        "events": [
            {"user_ref": c.id + NUL, **event("walking", {"steps": 800})},
            {"user_ref": c.id, **event("walking", {"steps": 700})},
        ]
    }
    r = await signed_post(client, key, secret, body, timestamp=int(time.time()))
    assert r.status_code == 200, r.text
    first, second = r.json()["results"]
    assert first["status"] == "invalid" and second["status"] == "credited"
    assert [e["field"] for e in first["error"]["errors"]] == ["user_ref"]
    assert json.dumps(first).count("\\u0000") == 0  # the refused text is not echoed back
