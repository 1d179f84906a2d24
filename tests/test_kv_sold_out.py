"""The store's sold-out marker: members pass, others are refused, a stale mark is not written."""

from __future__ import annotations

import pytest

from app.kv import MemoryKV, RedisKV


@pytest.fixture(params=["memory", "redis"])
async def kv(request, backend):
    if request.param == "memory":
        yield MemoryKV()
        return
    if backend.name != "postgres":
        pytest.skip("Redis runs with the PostgreSQL backend")
    from tests.conftest import REDIS_URL, redis_prefix

    store = RedisKV(REDIS_URL, prefix=redis_prefix())
    yield store
    await store.redis.delete(*[k async for k in store.redis.scan_iter(store.prefix + "*")] or ["-"])
    await store.close()


async def test_marker_refuses_all_but_its_members(kv):
    keys = ("soldout:i", "soldout-gen:i")
    refuse, gen = await kv.sold_out_check(keys, "u1")
    assert refuse is False
    assert await kv.sold_out_mark(keys, gen, ["u1", "u2"], 5)
    assert (await kv.sold_out_check(keys, "u1"))[0] is False
    assert (await kv.sold_out_check(keys, "u3"))[0] is True
    await kv.sold_out_clear(keys)
    assert (await kv.sold_out_check(keys, "u3"))[0] is False


async def test_a_mark_read_before_a_clear_is_not_written(kv):
    keys = ("soldout:j", "soldout-gen:j")
    _, gen = await kv.sold_out_check(keys, "u1")
    await kv.sold_out_clear(keys)  # a unit came back after the database said "sold out"
    assert not await kv.sold_out_mark(keys, gen, [], 5)
    assert (await kv.sold_out_check(keys, "u9"))[0] is False
    _, gen = await kv.sold_out_check(keys, "u1")
    assert await kv.sold_out_mark(keys, gen, [], 5)
    assert (await kv.sold_out_check(keys, "u9"))[0] is True
