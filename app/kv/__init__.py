"""Shared fast state: Redis when configured, an in-process stand-in otherwise.

The stand-in is correct for one process only (the embedded default). Everything kept here
is either rebuildable from the database (leaderboards) or short-lived (nonces, rate-limit
windows, revoked token ids until they expire).

The ``KV`` protocol and the types it shares live in ``base``, the stores in ``redis_store``
and ``memory``; everything is importable from here.
"""

from __future__ import annotations

from app.kv.base import (
    ADMIT_DECIDE,
    ADMIT_NOT,
    ADMIT_REFUSE,
    AUTH_OK,
    AUTH_RATE_LIMITED,
    AUTH_REVOKED,
    AUTH_UNLOADED,
    KV,
    AuthKeys,
    Increment,
    KVBusy,
    retry_after_seconds,
)
from app.kv.memory import MemoryKV
from app.kv.redis_store import RedisKV

__all__ = [
    "ADMIT_DECIDE",
    "ADMIT_NOT",
    "ADMIT_REFUSE",
    "AUTH_OK",
    "AUTH_RATE_LIMITED",
    "AUTH_REVOKED",
    "AUTH_UNLOADED",
    "KV",
    "AuthKeys",
    "Increment",
    "KVBusy",
    "MemoryKV",
    "RedisKV",
    "make_kv",
    "retry_after_seconds",
]


def make_kv(
    redis_url: str | None,
    prefix: str = "tanhui:",
    max_connections: int = 64,
    pool_wait_seconds: float = 10.0,
) -> KV:
    if not redis_url:
        return MemoryKV()
    return RedisKV(redis_url, prefix, max_connections, pool_wait_seconds)
