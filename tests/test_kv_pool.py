"""A wait for a pooled Redis connection is not an outage: it never sends authentication to the
database fallback; past the wait the request answers 503 with ``Retry-After``."""

from __future__ import annotations

import pytest

from app.kv import AuthKeys, KVBusy, RedisKV
from app.observability import REDIS_FALLBACKS
from tests.helpers import assert_problem, citizen


def _fallbacks() -> float:
    return REDIS_FALLBACKS.labels("authentication")._value.get()


async def test_a_full_pool_is_busy_not_unreachable(backend):
    if backend.name != "postgres":
        pytest.skip("Redis runs with the PostgreSQL backend")
    from tests.conftest import REDIS_URL, redis_prefix

    kv = RedisKV(
        REDIS_URL,
        prefix=redis_prefix(),
        max_connections=1,
        pool_wait_seconds=0.05,
    )
    try:
        held = await kv.redis.connection_pool.get_connection()
        keys = AuthKeys("m", "r", "v", "rate")
        with pytest.raises(KVBusy):
            await kv.authorize(keys, 0.0, 0, 60.0)
        await kv.redis.connection_pool.release(held)
        assert await kv.ping()
    finally:
        await kv.close()


@pytest.mark.parametrize("settings_overrides", [{"redis_pool_wait_seconds": 0.05}])
async def test_a_request_that_waits_too_long_answers_503_without_the_database(app, client, backend):
    if backend.name != "postgres":
        pytest.skip("Redis runs with the PostgreSQL backend")
    alice = await citizen(client)
    assert (await alice.get("/v1/me")).status_code == 200
    pool = app.state.kv.redis.connection_pool
    held = [await pool.get_connection() for _ in range(pool.max_connections)]
    before = _fallbacks()
    try:
        r = await alice.get("/v1/me")
    finally:
        for connection in held:
            await pool.release(connection)
    assert_problem(r, 503, "unavailable")
    assert r.headers["Retry-After"] == "1"
    assert _fallbacks() == before
    assert (await alice.get("/v1/me")).status_code == 200
