"""Sessions: revocation that survives the store losing its keys, logout-all, password change,
per-account sign-in limits, the refresh budget, and the finer reasons of a 401."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest

from app import security
from app.kv import MemoryKV
from app.security import encode_token, sign
from tests.helpers import PASSWORD, Actor, assert_problem, citizen, login, unique_email


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def second_session(actor: Actor) -> dict:
    r = await login(actor.client, actor.email)
    assert r.status_code == 200, r.text
    return r.json()


async def lose_the_store(app) -> None:
    """What a Redis restart without persistence (or FLUSHALL) does; for the in-process
    stand-in, what a restart of the process does."""
    kv = app.state.kv
    if hasattr(kv, "redis"):
        await kv.redis.eval(
            "for _,k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end",
            0,
            kv.prefix + "*",
        )
    else:
        app.state.kv = MemoryKV()


async def test_logout_all_revokes_every_access_and_refresh_token_of_the_caller(client):
    alice = await citizen(client)
    phone = await second_session(alice)
    bob = await citizen(client)

    assert (await alice.post("/v1/auth/logout-all")).status_code == 204

    for token in (alice.token, phone["access_token"]):
        body = assert_problem(await client.get("/v1/me", headers=bearer(token)), 401)
        assert body["reason"] == "token_revoked"
    for refresh in (alice.refresh_token, phone["refresh_token"]):
        r = await client.post("/v1/auth/refresh", json={"refresh_token": refresh})
        assert_problem(r, 401)
    assert (await bob.get("/v1/me")).status_code == 200
    # Signing in again, even within the same second, gives a working session.
    fresh = await second_session(alice)
    assert (await client.get("/v1/me", headers=bearer(fresh["access_token"]))).status_code == 200


async def test_revocations_survive_the_store_losing_its_keys(client, app):
    alice = await citizen(client)
    assert (await alice.post("/v1/auth/logout")).status_code == 204
    bob = await citizen(client)
    bob_old = await second_session(bob)
    assert (await bob.post("/v1/auth/logout-all")).status_code == 204
    carol = await citizen(client)

    await lose_the_store(app)

    for token in (alice.token, bob.token, bob_old["access_token"]):
        body = assert_problem(await client.get("/v1/me", headers=bearer(token)), 401)
        assert body["reason"] == "token_revoked"
    assert (await carol.get("/v1/me")).status_code == 200
    # Reloaded once, the store answers again by itself: a second loss is noticed as well.
    await lose_the_store(app)
    assert_problem(await client.get("/v1/me", headers=bearer(alice.token)), 401)


@pytest.mark.parametrize("settings_overrides", [{"redis_url": "redis://127.0.0.1:1/0"}])
async def test_logout_all_holds_while_redis_is_unreachable(client, backend):
    if backend.name != "postgres":
        pytest.skip("Redis is only configured with the PostgreSQL backend")
    alice = await citizen(client)
    assert (await alice.get("/v1/me")).status_code == 200
    assert (await alice.post("/v1/auth/logout-all")).status_code == 204
    body = assert_problem(await alice.get("/v1/me"), 401)
    assert body["reason"] == "token_revoked"


async def test_password_change_keeps_this_session_and_ends_every_other(client):
    alice = await citizen(client)
    laptop = await second_session(alice)
    new_password = "Quiet-Bicycle-Lane-7"

    r = await alice.post(
        "/v1/me/password", json={"current_password": PASSWORD, "new_password": new_password}
    )
    assert r.status_code == 204, r.text

    assert (await alice.get("/v1/me")).status_code == 200
    r = await client.post("/v1/auth/refresh", json={"refresh_token": alice.refresh_token})
    assert r.status_code == 200
    body = assert_problem(await client.get("/v1/me", headers=bearer(laptop["access_token"])), 401)
    assert body["reason"] == "token_revoked"
    r = await client.post("/v1/auth/refresh", json={"refresh_token": laptop["refresh_token"]})
    assert_problem(r, 401)
    assert_problem(await login(client, alice.email, PASSWORD), 401)
    assert (await login(client, alice.email, new_password)).status_code == 200


async def test_password_change_refuses_a_wrong_current_or_a_weak_new_password(client):
    alice = await citizen(client)
    laptop = await second_session(alice)
    r = await alice.post(
        "/v1/me/password",
        json={"current_password": "Not-my-password-1", "new_password": "Quiet-Bicycle-Lane-7"},
    )
    assert assert_problem(r, 403, "forbidden")["reason"] == "invalid_credentials"
    for weak in ("Football123", PASSWORD, "short"):
        r = await alice.post(
            "/v1/me/password", json={"current_password": PASSWORD, "new_password": weak}
        )
        body = assert_problem(r, 422)
        assert body["errors"][0]["field"].endswith("new_password")
    # Nothing changed: the old password and the other session still work.
    assert (await login(client, alice.email)).status_code == 200
    assert (await client.get("/v1/me", headers=bearer(laptop["access_token"]))).status_code == 200


async def test_passwords_from_the_common_list_are_refused(client):
    assert len(security.common_passwords()) >= 10_000
    for common in ("Football123", "Sunshine#1", "baseball2024", "iloveyou12", "Password2026!"):
        r = await client.post(
            "/v1/auth/register", json={"email": unique_email(), "password": common}
        )
        assert assert_problem(r, 422, "weak_password")["errors"][0]["field"] == "password"


@pytest.mark.parametrize(
    "settings_overrides",
    [{"login_failures_per_account": 3, "rate_limit_auth_per_minute": 100}],
)
async def test_failed_sign_ins_lock_that_account_alone(client):
    alice = await citizen(client)
    bob = await citizen(client)
    for _ in range(3):
        body = assert_problem(await login(client, alice.email, "Wrong-password-1"), 401)
        assert body["reason"] == "invalid_credentials"
    # Even the right password is refused for a while: the guesses cannot go on.
    r = await login(client, alice.email)
    assert_problem(r, 429, "rate_limited")
    assert int(r.headers["retry-after"]) >= 1
    assert (await login(client, bob.email)).status_code == 200
    # A success resets the count.
    assert (await login(client, bob.email, "Wrong-password-1")).status_code == 401
    assert (await login(client, bob.email)).status_code == 200
    for _ in range(2):
        assert (await login(client, bob.email, "Wrong-password-1")).status_code == 401
    assert (await login(client, bob.email)).status_code == 200


@pytest.mark.parametrize(
    "settings_overrides",
    [{"rate_limit_auth_per_minute": 2, "rate_limit_refresh_per_minute": 5}],
)
async def test_refresh_has_its_own_budget_per_address(client):
    # register + sign-in spend the whole sign-in budget of this address
    alice = await citizen(client)
    assert_problem(await login(client, alice.email), 429)
    refresh = alice.refresh_token
    for _ in range(5):
        r = await client.post("/v1/auth/refresh", json={"refresh_token": refresh})
        assert r.status_code == 200, r.text
        refresh = r.json()["refresh_token"]
    r = await client.post("/v1/auth/refresh", json={"refresh_token": refresh})
    assert_problem(r, 429, "rate_limited")


async def test_401_reasons_tell_expired_invalid_revoked_and_reused_apart(client, app):
    alice = await citizen(client)
    settings = app.state.settings
    past = datetime.now(UTC) - timedelta(hours=2)
    expired = sign(
        settings,
        encode_token(
            settings,
            sub=alice.id,
            role="citizen",
            typ="access",
            lifetime=timedelta(minutes=5),
            now=past,
        ),
    )
    reason = lambda r: assert_problem(r, 401)["reason"]  # noqa: E731
    assert reason(await client.get("/v1/me", headers=bearer(expired))) == "token_expired"
    assert reason(await client.get("/v1/me", headers=bearer("garbage"))) == "token_invalid"
    first = await client.post("/v1/auth/refresh", json={"refresh_token": alice.refresh_token})
    assert first.status_code == 200
    again = await client.post("/v1/auth/refresh", json={"refresh_token": alice.refresh_token})
    assert reason(again) == "refresh_reused"
    assert reason(await alice.get("/v1/me")) == "token_revoked"


async def test_a_sign_in_does_not_stall_other_requests(client, monkeypatch):
    """Password hashing runs in a worker thread, not on the event loop."""
    alice = await citizen(client)
    real_verify = security.verify_password

    def slow_verify(password: str, hashed: str | None) -> bool:
        time.sleep(0.6)  # what a heavy argon2 setting costs on a busy machine
        return real_verify(password, hashed)

    monkeypatch.setattr(security, "verify_password", slow_verify)
    signing_in = asyncio.create_task(login(client, alice.email))
    await asyncio.sleep(0.05)
    started = time.perf_counter()
    assert (await client.get("/healthz")).status_code == 200
    assert time.perf_counter() - started < 0.3
    assert (await signing_in).status_code == 200
