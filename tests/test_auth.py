from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime, timedelta

import jwt

from app.security import encode_token, sign
from tests.conftest import TEST_SECRET
from tests.helpers import PASSWORD, assert_problem, citizen, login, unique_email, user_with_role


async def test_register_login_me_refresh_logout_round_trip(client):
    email = unique_email()
    r = await client.post(
        "/v1/auth/register",
        json={
            "email": email.upper(),
            "password": PASSWORD,
            "display_name": "Li Wei",
            "region": "CN-SX",
        },
    )
    assert r.status_code == 201, r.text
    user = r.json()
    assert user["email"] == email and user["role"] == "citizen" and user["region"] == "CN-SX"
    assert "password" not in json.dumps(user)

    r = await login(client, email)
    assert r.status_code == 200
    pair = r.json()
    assert pair["token_type"] == "bearer" and pair["expires_in"] > 0
    auth = {"Authorization": f"Bearer {pair['access_token']}"}
    me = (await client.get("/v1/me", headers=auth)).json()
    assert me["id"] == user["id"] and me["email"] == email

    r = await client.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert r.status_code == 200
    new_pair = r.json()
    assert new_pair["refresh_token"] != pair["refresh_token"]
    new_auth = {"Authorization": f"Bearer {new_pair['access_token']}"}

    assert (await client.post("/v1/auth/logout", headers=new_auth)).status_code == 204
    assert_problem(await client.get("/v1/me", headers=new_auth), 401, "unauthorized")
    r = await client.post("/v1/auth/refresh", json={"refresh_token": new_pair["refresh_token"]})
    assert_problem(r, 401)


async def test_duplicate_email_is_409_whatever_the_case(client):
    email = unique_email()
    r = await client.post("/v1/auth/register", json={"email": email, "password": PASSWORD})
    assert r.status_code == 201
    r = await client.post("/v1/auth/register", json={"email": email.upper(), "password": PASSWORD})
    assert_problem(r, 409, "email_taken")


async def test_concurrent_registrations_of_one_email_create_one_user(client):
    email = unique_email()
    rs = await asyncio.gather(
        *[
            client.post("/v1/auth/register", json={"email": email, "password": PASSWORD})
            for _ in range(8)
        ]
    )
    assert sorted(r.status_code for r in rs) == [201] + [409] * 7


async def test_weak_passwords_are_422_and_store_nothing(client):
    email = unique_email()
    for weak in ("short1A", "alllowercaseletters", "password123", email.split("@")[0] + "X1!"):
        r = await client.post("/v1/auth/register", json={"email": email, "password": weak})
        body = assert_problem(r, 422)
        assert body["errors"][0]["field"] == "password"
    assert_problem(await login(client, email, "whatever"), 401)


async def test_invalid_registration_fields_are_listed(client):
    r = await client.post(
        "/v1/auth/register",
        json={"email": "not-an-email", "password": PASSWORD, "region": "Shanxi"},
    )
    body = assert_problem(r, 422, "validation_error")
    fields = {e["field"] for e in body["errors"]}
    assert {"body.email", "body.region"} <= fields


async def test_wrong_password_and_unknown_email_look_the_same(client):
    actor = await citizen(client)
    a = assert_problem(await login(client, actor.email, "Wrong-password-1"), 401)
    b = assert_problem(await login(client, unique_email(), "Wrong-password-1"), 401)
    assert a["detail"] == b["detail"]


async def test_refresh_token_works_once_and_reuse_revokes_the_family(client):
    actor = await citizen(client)
    first = await client.post("/v1/auth/refresh", json={"refresh_token": actor.refresh_token})
    assert first.status_code == 200
    again = await client.post("/v1/auth/refresh", json={"refresh_token": actor.refresh_token})
    assert_problem(again, 401)
    # The reuse looks like theft: the pair issued by the first refresh is dead too.
    stolen = first.json()
    r = await client.get("/v1/me", headers={"Authorization": f"Bearer {stolen['access_token']}"})
    assert_problem(r, 401)
    r = await client.post("/v1/auth/refresh", json={"refresh_token": stolen["refresh_token"]})
    assert_problem(r, 401)


async def test_concurrent_refreshes_of_one_token_succeed_once(client):
    actor = await citizen(client)
    rs = await asyncio.gather(
        *[
            client.post("/v1/auth/refresh", json={"refresh_token": actor.refresh_token})
            for _ in range(6)
        ]
    )
    assert sorted(r.status_code for r in rs) == [200] + [401] * 5
    # every loser is a reuse of a spent token: the winner's new pair is revoked with it
    assert {r.json()["reason"] for r in rs if r.status_code == 401} == {"refresh_reused"}
    [won] = [r.json() for r in rs if r.status_code == 200]
    r = await client.get("/v1/me", headers={"Authorization": f"Bearer {won['access_token']}"})
    assert_problem(r, 401)
    r = await client.post("/v1/auth/refresh", json={"refresh_token": won["refresh_token"]})
    assert_problem(r, 401)


async def test_sign_out_everywhere_while_stolen_tokens_are_replayed(client):
    """Signing out everywhere revokes every family of the user while reuses of spent tokens
    revoke their own families: both take the same rows, in the same order, and all answer."""
    actor = await citizen(client)
    spent = []
    for _ in range(3):  # three phones, each with a spent refresh token and a live pair
        pair = (await login(client, actor.email)).json()
        r = await client.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        assert r.status_code == 200, r.text
        spent.append(pair["refresh_token"])
    rs = await asyncio.gather(
        actor.post("/v1/auth/logout-all"),
        *[client.post("/v1/auth/refresh", json={"refresh_token": t}) for t in spent * 2],
    )
    assert rs[0].status_code == 204, rs[0].text
    assert [r.status_code for r in rs[1:]] == [401] * 6  # no 503 from a deadlock victim
    r = await client.get("/v1/me", headers={"Authorization": f"Bearer {actor.token}"})
    assert_problem(r, 401)


async def test_forged_none_expired_and_foreign_tokens_are_401(client, app):
    actor = await citizen(client)
    settings = app.state.settings
    claims = jwt.decode(actor.token, options={"verify_signature": False})

    forged = jwt.encode(claims, "another-secret-" + "y" * 40, algorithm="HS256")
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    none_token = f"{header}.{body}."
    past = datetime.now(UTC) - timedelta(hours=2)
    expired = sign(
        settings,
        encode_token(
            settings,
            sub=actor.id,
            role="citizen",
            typ="access",
            lifetime=timedelta(minutes=5),
            now=past,
        ),
    )
    refresh_as_access = actor.refresh_token
    wrong_audience = jwt.encode({**claims, "aud": "someone-else"}, TEST_SECRET, algorithm="HS256")
    missing_jti = jwt.encode(
        {k: v for k, v in claims.items() if k != "jti"}, TEST_SECRET, algorithm="HS256"
    )
    for token in (
        forged,
        none_token,
        expired,
        refresh_as_access,
        wrong_audience,
        missing_jti,
        "garbage",
    ):
        r = await client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert_problem(r, 401, "unauthorized")
        assert r.headers["www-authenticate"] == "Bearer"
    assert_problem(await client.get("/v1/me"), 401)


async def test_logout_revokes_for_every_app_instance_sharing_the_store(client, app):
    """The revocation is stored (Redis or database), not kept in the process."""
    actor = await citizen(client)
    assert (await actor.post("/v1/auth/logout")).status_code == 204
    from app.db import session_scope
    from app.services.identity.standing import is_revoked

    async with session_scope(app.state.sessionmaker) as session:
        jti = jwt.decode(actor.token, options={"verify_signature": False})["jti"]
        assert await is_revoked(session, app.state.kv, jti)


async def test_role_comes_from_the_account_not_from_a_stale_token(client, app):
    admin = await user_with_role(app, client, "admin")
    me = (await admin.get("/v1/me")).json()
    assert me["role"] == "admin"
