"""Tokens: issue, rotate (a refresh token works once) and revoke; ``standing`` authenticates.

Two kinds of revocation, both written to the database (the durable truth) and to the shared
store (Redis, or the in-process stand-in), where every request reads them:

- one access token (``revoked_tokens``), by logout or a stolen refresh family;
- every token of a user issued before an instant (``users.tokens_valid_after``), set by
  anything that changes the user's standing: logout-all, disabling, a role or merchant
  change, deletion. A token therefore never outlives the standing it was issued under, and
  no request needs to read the user row.

The store's entries live as long as an access token. A marker key says the store holds the
standing; when a worker finds it missing (Redis restarted, flushed, or a fresh process with
the stand-in) it reloads the still-relevant revocations from the database before answering.
While Redis is unreachable the database answers, and a revocation that could not be written
to Redis makes this worker reload everything once Redis is back.

Refresh tokens are rows: spending one is a single conditional UPDATE, so two concurrent
refreshes cannot both succeed; the loser is a reuse (see ``refresh`` for the lock order).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from redis.exceptions import RedisError
from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db import insert_ignore, new_id
from app.kit.errors import Unauthorized
from app.kv import KV
from app.models import RefreshToken, RevokedToken, User
from app.observability import REDIS_FALLBACKS
from app.security import (
    TokenClaims,
    decode_checked,
    encode_token,
    floor_ms,
    sign,
    verify_password_async,
)
from app.services.identity import ratelimit, standing
from app.services.identity.users import get_by_email, normalise_email

logger = logging.getLogger("tanhui.auth")


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


async def issue_pair(
    session: AsyncSession, settings: Settings, user: User, family: str | None = None
) -> TokenPair:
    access = encode_token(
        settings,
        sub=user.id,
        role=user.role,
        typ="access",
        lifetime=standing.access_life(settings),
        merchant_id=user.merchant_id,
    )
    family = family or new_id()
    refresh = encode_token(
        settings,
        sub=user.id,
        role=user.role,
        typ="refresh",
        lifetime=timedelta(days=settings.refresh_token_days),
        family=family,
        merchant_id=user.merchant_id,
    )
    session.add(
        RefreshToken(
            jti=refresh.jti,
            user_id=user.id,
            family_id=family,
            access_jti=access.jti,
            expires_at=refresh.exp,
        )
    )
    await session.flush()
    return TokenPair(
        sign(settings, access),
        sign(settings, refresh),
        int(standing.access_life(settings).total_seconds()),
    )


async def login(
    session: AsyncSession, kv: KV, settings: Settings, email: str, password: str
) -> TokenPair:
    """Per account, every attempt since the last success counts against a budget: guessing
    one citizen's password from many addresses locks that account alone, for a while."""
    failures_key = f"rl:login:{normalise_email(email)}"
    await ratelimit.check(
        kv,
        failures_key,
        settings.login_failures_per_account,
        "failed sign-ins for this account",
        window_seconds=settings.login_failure_window_seconds,
    )
    user = await get_by_email(session, email)
    ok = await verify_password_async(password, user.password_hash if user else None)
    if user is None or not ok or not user.is_active:
        raise Unauthorized("Incorrect email or password.", reason="invalid_credentials")
    try:
        await kv.delete(failures_key)
    except RedisError:
        logger.warning("redis unreachable: sign-in failures of an account not reset")
        REDIS_FALLBACKS.labels("login_failures").inc()
    return await issue_pair(session, settings, user)


async def refresh(session: AsyncSession, kv: KV, settings: Settings, token: str) -> TokenPair:
    """Spend a refresh token once. Lock order (PostgreSQL): the presented token's row alone,
    then, only on reuse and holding nothing (the spend is rolled back), every row of its
    family in ``jti`` order. A concurrent refresh of the same token waits on that one row,
    then finds it spent and is a reuse: the family is revoked, without deadlock."""
    claims = decode_checked(settings, token, "refresh")
    now = datetime.now(UTC)
    # Waits here for a concurrent refresh of this token (a no-op on SQLite, which writes one
    # transaction at a time; there the conditional UPDATE below decides alone).
    await session.execute(
        select(RefreshToken.jti).where(RefreshToken.jti == claims.jti).with_for_update()
    )
    spent = await session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.jti == claims.jti,
            RefreshToken.used_at.is_(None),
            RefreshToken.revoked_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        row = (
            await session.execute(
                select(RefreshToken.used_at, RefreshToken.family_id).where(
                    RefreshToken.jti == claims.jti
                )
            )
        ).first()
        if row is not None and row.used_at is not None:
            # A spent token presented again: treat the whole family as stolen. Release the
            # token's row first (nothing was written), so the family is locked in one order
            # only. The revocation must outlive the 401 that follows: it commits on its own.
            await session.rollback()
            await _revoke_family(session, kv, settings, row.family_id)
            await session.commit()
            raise Unauthorized("Refresh token already used.", reason="refresh_reused")
        raise Unauthorized("Refresh token revoked.", reason="token_revoked")
    user = await session.get(User, claims.sub)
    if user is None or not user.is_active:
        raise Unauthorized("Unknown or disabled user.", reason="token_revoked")
    if user.tokens_valid_after is not None and claims.iat < user.tokens_valid_after:
        raise Unauthorized("Refresh token revoked.", reason="token_revoked")
    family = await session.scalar(
        select(RefreshToken.family_id).where(RefreshToken.jti == claims.jti)
    )
    return await issue_pair(session, settings, user, family=family)


async def _revoke_family(session: AsyncSession, kv: KV, settings: Settings, family: str) -> None:
    """Revoke every token of a family, its rows locked in ``jti`` order (the one order every
    revocation takes). A row inserted while the locks were awaited (a refresh that was
    committing) is not in the first read: read again until no new row appears."""
    now = datetime.now(UTC)
    done: set[str] = set()
    while True:
        rows = (
            await session.scalars(
                select(RefreshToken)
                .where(RefreshToken.family_id == family)
                .order_by(RefreshToken.jti)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).all()
        fresh = [row for row in rows if row.jti not in done]
        if not fresh:
            break
        for row in fresh:
            done.add(row.jti)
            if row.revoked_at is None:
                row.revoked_at = now
            await revoke_access(
                session,
                kv,
                settings,
                row.access_jti,
                row.created_at + standing.access_life(settings),
            )
        await session.flush()


async def _lock_in_order(session: AsyncSession, *where: ColumnElement[bool]) -> None:
    """Lock the refresh-token rows a bulk revocation will update in ``jti`` order first: an
    ``UPDATE`` alone locks them in the order of its scan, which can deadlock with a family's
    revocation taking the same rows in ``jti`` order."""
    await session.execute(
        select(RefreshToken.jti).where(*where).order_by(RefreshToken.jti).with_for_update()
    )


async def revoke_access(
    session: AsyncSession, kv: KV, settings: Settings, jti: str, expires_at: datetime
) -> None:
    ttl = int((expires_at - datetime.now(UTC)).total_seconds()) + 1
    if ttl <= 0:
        return
    # Concurrent revocations of one token (two reuses detected at once) must both succeed.
    await session.execute(
        insert_ignore(session, RevokedToken, [{"jti": jti, "expires_at": expires_at}])
    )
    await _store(kv, standing.revoked_key(jti), "1", ttl)


async def _store(kv: KV, key: str, value: str, ttl: int) -> None:
    try:
        await kv.set_value(key, value, ttl)
    except RedisError:
        standing.lost_write(kv)
        logger.warning("redis unreachable: a revocation is kept in the database only for now")
        REDIS_FALLBACKS.labels("revocation").inc()


async def logout(session: AsyncSession, kv: KV, settings: Settings, claims: TokenClaims) -> None:
    await revoke_access(session, kv, settings, claims.jti, claims.exp)
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.access_jti == claims.jti, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
    # Old revocations are useless once their tokens have expired.
    await session.execute(delete(RevokedToken).where(RevokedToken.expires_at < datetime.now(UTC)))


async def revoke_all(session: AsyncSession, kv: KV, settings: Settings, user_id: str) -> None:
    """Void every access and refresh token of the user issued until now."""
    now = floor_ms(datetime.now(UTC))
    await session.execute(update(User).where(User.id == user_id).values(tokens_valid_after=now))
    live = (RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
    await _lock_in_order(session, *live)
    await session.execute(update(RefreshToken).where(*live).values(revoked_at=now))
    ttl = int(standing.access_life(settings).total_seconds()) + 1
    await _store(kv, standing.valid_after_key(user_id), repr(now.timestamp()), ttl)


async def revoke_other_sessions(
    session: AsyncSession, kv: KV, settings: Settings, claims: TokenClaims
) -> None:
    """Void every session of the user but the one presenting ``claims`` (a password change:
    the phone that changed it stays signed in, every other one is out)."""
    keep = await session.scalar(
        select(RefreshToken.family_id).where(RefreshToken.access_jti == claims.jti)
    )
    now = datetime.now(UTC)
    others = (
        await session.scalars(
            select(RefreshToken).where(
                RefreshToken.user_id == claims.sub,
                RefreshToken.family_id != (keep or ""),
                RefreshToken.created_at > now - standing.access_life(settings),
            )
        )
    ).all()
    for row in others:
        await revoke_access(
            session, kv, settings, row.access_jti, row.created_at + standing.access_life(settings)
        )
    live = (
        RefreshToken.user_id == claims.sub,
        RefreshToken.family_id != (keep or ""),
        RefreshToken.revoked_at.is_(None),
    )
    await _lock_in_order(session, *live)
    await session.execute(update(RefreshToken).where(*live).values(revoked_at=now))
