"""The Redis store: each operation one round trip (a pipeline or a Lua script), over a
bounded pool whose exhaustion is ``KVBusy``, not an outage."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError

from app.kv.base import AuthKeys, Increment, KVBusy

# Sliding-window rate limit: one sorted set per key, members are request timestamps.
_RATE_LUA = """
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local member = ARGV[4]
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
if count < limit then
  redis.call('ZADD', key, now, member)
  redis.call('PEXPIRE', key, math.ceil(window * 1000))
  return {1, 0}
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return {0, tostring(tonumber(oldest[2]) + window - now)}
"""

# Competition rank in one round trip: how many members score strictly more than this one.
_RANK_LUA = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then
  return false
end
return {redis.call('ZCOUNT', KEYS[1], '(' .. score, '+inf'), score}
"""

# Authentication in one round trip: the token's revocation, its user's standing ("tokens
# issued before this instant are void") and the per-user rate limit, decided together.
# Returns {code, retry}: 0 ok, 1 revoked, 2 rate limited, -1 the standing was never loaded
# (Redis restarted or lost its keys): the caller reloads it from the database and asks again.
_AUTH_LUA = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1, '0'} end
if redis.call('EXISTS', KEYS[2]) == 1 then return {1, '0'} end
local after = redis.call('GET', KEYS[3])
if after and tonumber(after) > tonumber(ARGV[5]) then return {1, '0'} end
local limit = tonumber(ARGV[3])
if limit <= 0 then return {0, '0'} end
local key = KEYS[4]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZCARD', key) < limit then
  redis.call('ZADD', key, now, ARGV[4])
  redis.call('PEXPIRE', key, math.ceil(window * 1000))
  return {0, '0'}
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return {2, tostring(tonumber(oldest[2]) + window - now)}
"""


# A sold-out marker: a set whose members are the citizens with any redemption of the incentive
# (plus '', so that the set exists with none), and a generation counter bumped whenever units
# may have come back. The check answers {1, gen} when the caller may be refused from the marker
# (it exists and the caller is not among its members), else {0, gen}; a marker is only written
# when the generation is still the one read before the database said "sold out", so a marker
# never outlives the return of a unit that committed after that read.
_SOLD_OUT_CHECK_LUA = """
local gen = redis.call('GET', KEYS[2]) or '0'
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return {0, gen} end
if redis.call('EXISTS', KEYS[1]) == 1 then return {1, gen} end
return {0, gen}
"""

# The redemption lane's admission of a request, in one round trip: its token's standing (the
# standing loaded, the token not revoked, the request within the rate limit, which then counts
# it) and the incentive's marker. Returns {verdict, generation}: 1 the token stands and the
# marker refuses ARGV[6]; 2 the token stands and the marker does not refuse them; 0 the token
# does not stand (or its standing is not loaded), nothing written, and the request goes the
# ordinary way. KEYS: marker, generation, then _AUTH_LUA's four; ARGV: _AUTH_LUA's five, then
# the member.
_ADMIT_LUA = """
local gen = redis.call('GET', KEYS[2]) or '0'
if redis.call('EXISTS', KEYS[3]) == 0 then return {0, gen} end
if redis.call('EXISTS', KEYS[4]) == 1 then return {0, gen} end
local after = redis.call('GET', KEYS[5])
if after and tonumber(after) > tonumber(ARGV[5]) then return {0, gen} end
local limit = tonumber(ARGV[3])
if limit > 0 then
  local key = KEYS[6]
  local now = tonumber(ARGV[1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - tonumber(ARGV[2]))
  if redis.call('ZCARD', key) >= limit then return {0, gen} end
  redis.call('ZADD', key, now, ARGV[4])
  redis.call('PEXPIRE', key, math.ceil(tonumber(ARGV[2]) * 1000))
end
if redis.call('SISMEMBER', KEYS[1], ARGV[6]) == 0 and redis.call('EXISTS', KEYS[1]) == 1 then
  return {1, gen}
end
return {2, gen}
"""

_SOLD_OUT_MARK_LUA = """
if (redis.call('GET', KEYS[2]) or '0') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('SADD', KEYS[1], '')
local n = #ARGV
local i = 3
while i <= n do
  local j = math.min(i + 999, n)
  redis.call('SADD', KEYS[1], unpack(ARGV, i, j))
  i = j + 1
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""

_SOLD_OUT_CLEAR_LUA = """
redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], 86400)
redis.call('DEL', KEYS[1])
return 1
"""


class _WaitingPool(BlockingConnectionPool):
    """A bounded pool whose wait for a free connection ends in ``KVBusy``, not in redis-py's
    ``ConnectionError``: only a failure to reach the store counts as an outage."""

    async def get_connection(
        self, command_name: str | None = None, *keys: Any, **options: Any
    ) -> AbstractConnection:
        try:
            return await super().get_connection()  # the arguments are deprecated and unused
        except RedisConnectionError as exc:
            if isinstance(exc.__cause__, asyncio.TimeoutError):
                raise KVBusy("no pooled connection to the store came free in time") from exc
            raise


class RedisKV:
    """Every key is prefixed, so several deployments (or test runs) can share one Redis."""

    def __init__(
        self,
        url: str,
        prefix: str = "tanhui:",
        max_connections: int = 64,
        pool_wait_seconds: float = 10.0,
    ) -> None:
        self.prefix = prefix
        # A bounded pool that waits for a free connection: under a burst (a thousand phones at
        # once) an unbounded pool opens a connection per request, connects time out, and every
        # such request falls back to the database for revocations. A connection is held from
        # sending a command until its answer is read, which on a saturated worker waits for
        # the event loop, not for Redis: the wait is long (``KVBusy`` past it), while reaching
        # Redis (connect, answer) keeps its 2-second bound and only that is an outage.
        pool = _WaitingPool.from_url(
            url,
            max_connections=max_connections,
            timeout=pool_wait_seconds,
            socket_timeout=2,
            socket_connect_timeout=2,
            health_check_interval=15,
        )
        self.redis: Redis = Redis(connection_pool=pool)
        self._rate = self.redis.register_script(_RATE_LUA)
        self._rank = self.redis.register_script(_RANK_LUA)
        self._auth = self.redis.register_script(_AUTH_LUA)
        self._sold_out_check = self.redis.register_script(_SOLD_OUT_CHECK_LUA)
        self._admit = self.redis.register_script(_ADMIT_LUA)
        self._sold_out_mark = self.redis.register_script(_SOLD_OUT_MARK_LUA)
        self._sold_out_clear = self.redis.register_script(_SOLD_OUT_CLEAR_LUA)
        self._seq = 0

    async def ping(self) -> bool:
        return bool(await self.redis.ping())

    async def set_once(self, key: str, ttl_seconds: int) -> bool:
        return bool(await self.redis.set(self.prefix + key, b"1", nx=True, ex=ttl_seconds))

    async def exists(self, key: str) -> bool:
        return bool(await self.redis.exists(self.prefix + key))

    async def zincrby_many(self, increments: Sequence[Increment]) -> None:
        if not increments:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            ttls: dict[str, int] = {}
            for inc in increments:
                pipe.zincrby(self.prefix + inc.key, inc.amount, inc.member)
                if inc.ttl_seconds:
                    ttls[inc.key] = inc.ttl_seconds
            for key, ttl in ttls.items():
                pipe.expire(self.prefix + key, ttl)
            await pipe.execute()

    async def ztop(self, key: str, n: int) -> list[tuple[str, float]]:
        rows = await self.redis.zrevrange(self.prefix + key, 0, n - 1, withscores=True)
        out = []
        for row in rows:
            member, score = row[0], row[1]  # type: ignore[index]
            out.append(
                (member.decode() if isinstance(member, bytes) else str(member), float(score))
            )
        return out

    async def zrank_score(self, key: str, member: str) -> tuple[int, float] | None:
        found = await self._rank(keys=[self.prefix + key], args=[member])
        if not found:
            return None
        above, score = found
        return int(above), float(score)

    async def delete_prefix(self, prefix: str) -> None:
        async for key in self.redis.scan_iter(match=self.prefix + prefix + "*", count=500):
            await self.redis.delete(key)

    async def hit(self, key: str, limit: int, window_seconds: float) -> tuple[bool, float]:
        self._seq += 1
        now = time.time()
        allowed, retry = await self._rate(
            keys=[self.prefix + key],
            args=[now, window_seconds, limit, f"{now}:{id(self)}:{self._seq}"],
        )
        return bool(allowed), float(retry)

    async def set_value(self, key: str, value: str, ttl_seconds: int) -> None:
        await self.redis.set(self.prefix + key, value, ex=max(1, ttl_seconds))

    async def delete(self, key: str) -> None:
        await self.redis.delete(self.prefix + key)

    async def authorize(
        self, keys: AuthKeys, issued_at: float, limit: int, window_seconds: float
    ) -> tuple[int, float]:
        self._seq += 1
        now = time.time()
        code, retry = await self._auth(  # EVALSHA, loading the script on NOSCRIPT
            keys=[self.prefix + k for k in keys],
            args=[now, window_seconds, limit, f"{now}:{id(self)}:{self._seq}", issued_at],
        )
        return int(code), float(retry)

    async def load_standing(self, marker: str, values: Sequence[tuple[str, str, int]]) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            for key, value, ttl in values:
                pipe.set(self.prefix + key, value, ex=max(1, ttl))
            pipe.set(self.prefix + marker, b"1")
            await pipe.execute()

    async def sold_out_check(self, keys: tuple[str, str], member: str) -> tuple[bool, str]:
        refuse, gen = await self._sold_out_check(
            keys=[self.prefix + k for k in keys], args=[member]
        )
        return bool(refuse), gen.decode() if isinstance(gen, bytes) else str(gen)

    async def sold_out_admit(
        self,
        keys: tuple[str, str],
        member: str,
        auth: AuthKeys,
        issued_at: float,
        limit: int,
        window_seconds: float,
    ) -> tuple[int, str]:
        self._seq += 1
        now = time.time()
        verdict, gen = await self._admit(
            keys=[self.prefix + k for k in (*keys, *auth)],
            args=[now, window_seconds, limit, f"{now}:{id(self)}:{self._seq}", issued_at, member],
        )
        return int(verdict), gen.decode() if isinstance(gen, bytes) else str(gen)

    async def sold_out_mark(
        self, keys: tuple[str, str], generation: str, members: Sequence[str], ttl_seconds: float
    ) -> bool:
        done = await self._sold_out_mark(
            keys=[self.prefix + k for k in keys],
            args=[generation, max(1, int(ttl_seconds * 1000)), *members],
        )
        return bool(done)

    async def sold_out_clear(self, keys: tuple[str, str]) -> None:
        await self._sold_out_clear(keys=[self.prefix + k for k in keys])

    async def close(self) -> None:
        await self.redis.aclose()
