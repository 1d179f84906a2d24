"""The in-process stand-in for Redis: correct for one process only (the embedded default)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from app.kv.base import (
    ADMIT_DECIDE,
    ADMIT_NOT,
    ADMIT_REFUSE,
    AUTH_OK,
    AUTH_RATE_LIMITED,
    AUTH_REVOKED,
    AUTH_UNLOADED,
    AuthKeys,
    Increment,
)


class MemoryKV:
    """Starts empty, like a restarted Redis: the auth standing is loaded on first use."""

    def __init__(self) -> None:
        self._keys: dict[str, float] = {}
        self._values: dict[str, str] = {}
        self._marker_set = False
        self._zsets: dict[str, dict[str, float]] = {}
        self._windows: dict[str, list[float]] = {}
        self._marks: dict[str, tuple[float, frozenset[str]]] = {}
        self._generations: dict[str, int] = {}
        self._lock = asyncio.Lock()

    async def ping(self) -> bool:
        return True

    def _alive(self, key: str) -> bool:
        exp = self._keys.get(key)
        if exp is None:
            return False
        if exp < time.monotonic():
            del self._keys[key]
            self._values.pop(key, None)
            return False
        return True

    async def set_once(self, key: str, ttl_seconds: int) -> bool:
        if self._alive(key):
            return False
        self._keys[key] = time.monotonic() + ttl_seconds
        if len(self._keys) > 100_000:
            now = time.monotonic()
            self._keys = {k: v for k, v in self._keys.items() if v >= now}
            self._values = {k: v for k, v in self._values.items() if k in self._keys}
        return True

    async def exists(self, key: str) -> bool:
        return self._alive(key)

    async def zincrby_many(self, increments: Sequence[Increment]) -> None:
        for inc in increments:
            zset = self._zsets.setdefault(inc.key, {})
            zset[inc.member] = zset.get(inc.member, 0.0) + inc.amount

    async def ztop(self, key: str, n: int) -> list[tuple[str, float]]:
        zset = self._zsets.get(key, {})
        return sorted(zset.items(), key=lambda kv: (-kv[1], kv[0]))[:n]

    async def zrank_score(self, key: str, member: str) -> tuple[int, float] | None:
        zset = self._zsets.get(key, {})
        if member not in zset:
            return None
        score = zset[member]
        return sum(1 for s in zset.values() if s > score), score

    async def delete_prefix(self, prefix: str) -> None:
        for key in [k for k in self._zsets if k.startswith(prefix)]:
            del self._zsets[key]

    async def hit(self, key: str, limit: int, window_seconds: float) -> tuple[bool, float]:
        now = time.monotonic()
        stamps = [t for t in self._windows.get(key, []) if t > now - window_seconds]
        if len(stamps) < limit:
            stamps.append(now)
            self._windows[key] = stamps
            return True, 0.0
        self._windows[key] = stamps
        return False, max(0.0, stamps[0] + window_seconds - now)

    async def set_value(self, key: str, value: str, ttl_seconds: int) -> None:
        self._keys[key] = time.monotonic() + max(1, ttl_seconds)
        self._values[key] = value

    async def delete(self, key: str) -> None:
        self._keys.pop(key, None)
        self._values.pop(key, None)
        self._windows.pop(key, None)

    async def authorize(
        self, keys: AuthKeys, issued_at: float, limit: int, window_seconds: float
    ) -> tuple[int, float]:
        if not self._marker_set:
            return AUTH_UNLOADED, 0.0
        if self._alive(keys.revoked):
            return AUTH_REVOKED, 0.0
        if self._alive(keys.valid_after) and float(self._values[keys.valid_after]) > issued_at:
            return AUTH_REVOKED, 0.0
        if limit <= 0:
            return AUTH_OK, 0.0
        allowed, retry = await self.hit(keys.rate, limit, window_seconds)
        return (AUTH_OK, 0.0) if allowed else (AUTH_RATE_LIMITED, retry)

    async def load_standing(self, marker: str, values: Sequence[tuple[str, str, int]]) -> None:
        for key, value, ttl in values:
            await self.set_value(key, value, ttl)
        self._marker_set = True

    async def sold_out_check(self, keys: tuple[str, str], member: str) -> tuple[bool, str]:
        marker, gen = keys
        generation = str(self._generations.get(gen, 0))
        mark = self._marks.get(marker)
        if mark is None or mark[0] < time.monotonic():
            self._marks.pop(marker, None)
            return False, generation
        return member not in mark[1], generation

    async def sold_out_admit(
        self,
        keys: tuple[str, str],
        member: str,
        auth: AuthKeys,
        issued_at: float,
        limit: int,
        window_seconds: float,
    ) -> tuple[int, str]:
        refuse, generation = await self.sold_out_check(keys, member)
        code, _ = await self.authorize(auth, issued_at, limit, window_seconds)
        if code != AUTH_OK:
            return ADMIT_NOT, generation
        return (ADMIT_REFUSE if refuse else ADMIT_DECIDE), generation

    async def sold_out_mark(
        self, keys: tuple[str, str], generation: str, members: Sequence[str], ttl_seconds: float
    ) -> bool:
        marker, gen = keys
        if str(self._generations.get(gen, 0)) != generation:
            return False
        self._marks[marker] = (time.monotonic() + ttl_seconds, frozenset(members))
        return True

    async def sold_out_clear(self, keys: tuple[str, str]) -> None:
        marker, gen = keys
        self._generations[gen] = self._generations.get(gen, 0) + 1
        self._marks.pop(marker, None)

    async def close(self) -> None:
        return None
