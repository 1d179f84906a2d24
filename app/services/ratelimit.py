"""Rate limits: per IP on auth endpoints, per citizen, per partner key (sliding windows)."""

from __future__ import annotations

import logging

from fastapi import Request
from redis.exceptions import RedisError

from app.config import Settings
from app.errors import RateLimited
from app.kv import KV, retry_after_seconds

WINDOW_SECONDS = 60.0
logger = logging.getLogger("tanhui.ratelimit")


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def _check(kv: KV, key: str, per_minute: int, what: str) -> None:
    if per_minute <= 0:
        return
    try:
        allowed, retry = await kv.hit(key, per_minute, WINDOW_SECONDS)
    except RedisError:
        # Without Redis the limits cannot be shared; serving beats refusing everyone.
        logger.warning("redis unreachable: rate limit %s not enforced", key.split(":")[1])
        return
    if not allowed:
        seconds = retry_after_seconds(retry)
        raise RateLimited(f"Too many {what}; try again in {seconds} s.", retry_after=seconds)


async def check_auth(request: Request, kv: KV, settings: Settings) -> None:
    await _check(
        kv,
        f"rl:auth:{client_ip(request)}",
        settings.rate_limit_auth_per_minute,
        "sign-in attempts from this address",
    )


async def check_user(kv: KV, settings: Settings, user_id: str) -> None:
    await _check(
        kv,
        f"rl:user:{user_id}",
        settings.rate_limit_citizen_per_minute,
        "requests for this account",
    )


async def check_partner(kv: KV, settings: Settings, key_id: str) -> None:
    await _check(
        kv,
        f"rl:partner:{key_id}",
        settings.rate_limit_partner_per_minute,
        "requests for this partner key",
    )
