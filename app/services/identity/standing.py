"""A token's standing: whether it is revoked, read from the shared store on every request.

The keys and the marker that say the store holds the standing (``tokens`` writes them when it
revokes), one round trip that authenticates a request and counts it against its user's rate
limit, the reload of the still-relevant revocations from the database into the store, and the
database's answer while the store is unreachable. See ``app.services.identity.tokens``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from weakref import WeakKeyDictionary

from redis.exceptions import RedisError
from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.db import session_scope
from app.kit.errors import RateLimited, Unauthorized
from app.kv import AUTH_RATE_LIMITED, AUTH_REVOKED, AUTH_UNLOADED, KV, AuthKeys, retry_after_seconds
from app.models import RevokedToken, User
from app.models.identity import Role
from app.observability import RATE_LIMITED, REDIS_FALLBACKS
from app.security import TokenClaims
from app.services.identity import ratelimit

logger = logging.getLogger("tanhui.auth")

STANDING_MARKER = "auth:standing-loaded"


def revoked_key(jti: str) -> str:
    return f"revoked:{jti}"


def valid_after_key(user_id: str) -> str:
    return f"valid-after:{user_id}"


def access_life(settings: Settings) -> timedelta:
    return timedelta(minutes=settings.access_token_minutes)


@dataclass
class _Standing:
    """Per store and process: one reload at a time, and whether a write to Redis was lost."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    dirty: bool = False


_standings: WeakKeyDictionary[KV, _Standing] = WeakKeyDictionary()


def _state(kv: KV) -> _Standing:
    state = _standings.get(kv)
    if state is None:
        state = _standings[kv] = _Standing()
    return state


def lost_write(kv: KV) -> None:
    """A revocation could not be written to the store: this worker reloads the standing
    from the database once the store answers again."""
    _state(kv).dirty = True


def auth_keys(claims: TokenClaims) -> AuthKeys:
    """The store's keys that say whether this token stands, and its user's rate limit."""
    return AuthKeys(
        STANDING_MARKER,
        revoked_key(claims.jti),
        valid_after_key(claims.sub),
        f"rl:user:{claims.sub}",
    )


def rate_limit(settings: Settings, claims: TokenClaims) -> int:
    """Requests a minute for this token's user; 0: not limited."""
    return settings.rate_limit_citizen_per_minute if claims.role == Role.CITIZEN else 0


def standing_loaded(kv: KV) -> bool:
    """False while this worker knows the store's copy of the revocations needs reloading."""
    return not _state(kv).dirty


async def authenticate(
    maker: async_sessionmaker[AsyncSession], kv: KV, settings: Settings, claims: TokenClaims
) -> None:
    """Refuse a revoked token and count the request against the citizen's rate limit: one
    round trip to the store, no database read (nor session) while the store answers."""
    keys = auth_keys(claims)
    limit = rate_limit(settings, claims)
    try:
        if _state(kv).dirty:
            async with session_scope(maker) as session:
                await _reload(session, kv, settings)
        code, retry = await kv.authorize(keys, claims.issued_at, limit, ratelimit.WINDOW_SECONDS)
        if code == AUTH_UNLOADED:
            async with session_scope(maker) as session:
                await _reload(session, kv, settings)
            code, retry = await kv.authorize(
                keys, claims.issued_at, limit, ratelimit.WINDOW_SECONDS
            )
    except RedisError:
        logger.warning("redis unreachable: checking revocation in the database")
        REDIS_FALLBACKS.labels("authentication").inc()
        code = AUTH_UNLOADED
    if code == AUTH_UNLOADED:
        async with session_scope(maker) as session:
            if await _revoked_in_database(session, claims):
                code = AUTH_REVOKED
    if code == AUTH_REVOKED:
        raise Unauthorized("Token has been revoked.", reason="token_revoked")
    if code == AUTH_RATE_LIMITED:
        seconds = retry_after_seconds(retry)
        RATE_LIMITED.labels("citizen").inc()
        raise RateLimited(
            f"Too many requests for this account; try again in {seconds} s.",
            retry_after=seconds,
        )


async def _revoked_in_database(session: AsyncSession, claims: TokenClaims) -> bool:
    jti_revoked = exists().where(RevokedToken.jti == claims.jti)
    row = (
        await session.execute(
            select(User.tokens_valid_after, jti_revoked).where(User.id == claims.sub)
        )
    ).first()
    if row is None:
        return True
    valid_after, revoked = row
    return bool(revoked) or (valid_after is not None and claims.iat < valid_after)


async def _reload(session: AsyncSession, kv: KV, settings: Settings) -> None:
    """Copy the revocations that can still matter from the database into the store."""
    state = _state(kv)
    async with state.lock:
        state.dirty = False
        now = datetime.now(UTC)
        values: list[tuple[str, str, int]] = []
        for jti, expires_at in await session.execute(
            select(RevokedToken.jti, RevokedToken.expires_at).where(RevokedToken.expires_at > now)
        ):
            values.append((revoked_key(jti), "1", int((expires_at - now).total_seconds()) + 1))
        # A standing older than an access token's lifetime voids only expired tokens.
        life = access_life(settings)
        for user_id, after in await session.execute(
            select(User.id, User.tokens_valid_after).where(User.tokens_valid_after > now - life)
        ):
            ttl = int((after + life - now).total_seconds()) + 1
            values.append((valid_after_key(user_id), repr(after.timestamp()), ttl))
        try:
            await kv.load_standing(STANDING_MARKER, values)
        except RedisError:
            state.dirty = True
            raise
        logger.info("auth standing loaded into the store: %d entries", len(values))


async def is_revoked(session: AsyncSession, kv: KV, jti: str) -> bool:
    """Whether one access token id is revoked (the store first, then the database)."""
    try:
        if await kv.exists(revoked_key(jti)):
            return True
    except RedisError:
        logger.warning("redis unreachable: checking revocation in the database")
        REDIS_FALLBACKS.labels("authentication").inc()
    return await session.get(RevokedToken, jti) is not None
