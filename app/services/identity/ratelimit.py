"""Rate limits (sliding windows): per IP on the auth endpoints, per IP on refresh, per account
on failed sign-ins, per partner key. The per-citizen limit is counted in the same store
round trip that authenticates the request (``app.services.identity.standing.authenticate``)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter

from redis.exceptions import RedisError

from app.config import Settings
from app.kit.errors import RateLimited
from app.kv import KV, retry_after_seconds
from app.observability import RATE_LIMITED, REDIS_FALLBACKS

WINDOW_SECONDS = 60.0
logger = logging.getLogger("tanhui.ratelimit")


async def check(
    kv: KV, key: str, limit: int, what: str, window_seconds: float = WINDOW_SECONDS
) -> None:
    """Count one request under ``key``; 429 past ``limit`` per window (0 disables)."""
    if limit <= 0:
        return
    try:
        allowed, retry = await kv.hit(key, limit, window_seconds)
    except RedisError:
        # Without Redis the limits cannot be shared; serving beats refusing everyone.
        logger.warning("redis unreachable: rate limit %s not enforced", key.split(":")[1])
        REDIS_FALLBACKS.labels("rate_limit").inc()
        return
    if not allowed:
        seconds = retry_after_seconds(retry)
        RATE_LIMITED.labels(key.split(":")[1]).inc()
        raise RateLimited(f"Too many {what}; try again in {seconds} s.", retry_after=seconds)


@dataclass(frozen=True)
class Limit:
    """A per-minute budget set in ``Settings``, counted per subject (an address, a key)."""

    name: str
    per_minute: Callable[[Settings], int]
    what: str


AUTH = Limit("auth", attrgetter("rate_limit_auth_per_minute"), "sign-in attempts from this address")
REFRESH = Limit(
    "refresh", attrgetter("rate_limit_refresh_per_minute"), "token refreshes from this address"
)
PARTNER = Limit(
    "partner", attrgetter("rate_limit_partner_per_minute"), "requests for this partner key"
)


async def enforce(kv: KV, settings: Settings, limit: Limit, subject: str) -> None:
    """Count one request of ``subject`` against ``limit``."""
    await check(kv, f"rl:{limit.name}:{subject}", limit.per_minute(settings), limit.what)
