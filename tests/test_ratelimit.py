from __future__ import annotations

import pytest

from tests.helpers import PASSWORD, assert_problem, citizen, login, unique_email


@pytest.mark.parametrize("settings_overrides", [{"rate_limit_auth_per_minute": 5}])
async def test_sign_in_attempts_from_one_address_are_limited(client):
    email = unique_email()
    statuses = [(await login(client, email, "Wrong-password-1")).status_code for _ in range(5)]
    assert statuses == [401] * 5
    r = await login(client, email, PASSWORD)
    body = assert_problem(r, 429, "rate_limited")
    assert int(r.headers["retry-after"]) >= 1 and "try again" in body["detail"]


@pytest.mark.parametrize("settings_overrides", [{"rate_limit_citizen_per_minute": 3}])
async def test_each_citizen_has_a_request_budget_of_their_own(client):
    alice = await citizen(client)
    bob = await citizen(client)
    for _ in range(3):
        assert (await alice.get("/v1/me")).status_code == 200
    assert_problem(await alice.get("/v1/me"), 429, "rate_limited")
    assert (await bob.get("/v1/me")).status_code == 200


@pytest.mark.parametrize(
    "settings_overrides",
    [{"rate_limit_citizen_per_minute": 2, "redis_url": "redis://127.0.0.1:1/0"}],
)
async def test_redis_outage_degrades_instead_of_failing(client, backend):
    """With Redis unreachable, limits are not enforced, logins and revocation still work
    (revocations fall back to the database), and readiness reports the outage."""
    if backend.name != "postgres":
        pytest.skip("Redis is only configured with the PostgreSQL backend")
    alice = await citizen(client)
    for _ in range(4):
        assert (await alice.get("/v1/me")).status_code == 200
    assert (await alice.post("/v1/auth/logout")).status_code == 204
    assert_problem(await alice.get("/v1/me"), 401)
    body = assert_problem(await client.get("/readyz"), 503)
    assert body["checks"] == {"database": "ok", "redis": "unreachable"}
