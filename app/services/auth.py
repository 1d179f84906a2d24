"""Tokens: issue, rotate (a refresh token works once), revoke, and check revocation.

Revoked access-token ids are written to the ``revoked_tokens`` table and, when configured, to
Redis, which every worker reads first; if Redis is unreachable the table answers instead, so
an outage neither lets a revoked token through nor takes sign-in down. Refresh tokens are
rows: spending one is a single conditional UPDATE, so two concurrent refreshes cannot both
succeed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from redis.exceptions import RedisError
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db import insert_ignore, new_id
from app.errors import Unauthorized
from app.kv import KV, RedisKV
from app.models import RefreshToken, RevokedToken, User
from app.security import TokenClaims, decode_token, encode_token, sign, verify_password
from app.services.users import get_by_email

logger = logging.getLogger("tanhui.auth")


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


def _revoked_key(jti: str) -> str:
    return f"revoked:{jti}"


async def issue_pair(
    session: AsyncSession, settings: Settings, user: User, family: str | None = None
) -> TokenPair:
    access_life = timedelta(minutes=settings.access_token_minutes)
    access = encode_token(settings, sub=user.id, role=user.role, typ="access", lifetime=access_life)
    family = family or new_id()
    refresh = encode_token(
        settings,
        sub=user.id,
        role=user.role,
        typ="refresh",
        lifetime=timedelta(days=settings.refresh_token_days),
        family=family,
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
        sign(settings, access), sign(settings, refresh), int(access_life.total_seconds())
    )


async def login(session: AsyncSession, settings: Settings, email: str, password: str) -> TokenPair:
    user = await get_by_email(session, email)
    ok = verify_password(password, user.password_hash if user else None)
    if user is None or not ok or not user.is_active:
        raise Unauthorized("Incorrect email or password.")
    return await issue_pair(session, settings, user)


async def refresh(session: AsyncSession, kv: KV, settings: Settings, token: str) -> TokenPair:
    claims = decode_token(settings, token, "refresh")
    if claims is None:
        raise Unauthorized("Invalid or expired refresh token.")
    now = datetime.now(UTC)
    spent = await session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.jti == claims.jti,
            RefreshToken.used_at.is_(None),
            RefreshToken.revoked_at.is_(None),
        )
        .values(used_at=now)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        row = await session.get(RefreshToken, claims.jti)
        if row is not None and row.used_at is not None:
            # A spent token presented again: treat the whole family as stolen. The
            # revocation must outlive the 401 that follows, so it commits on its own.
            await _revoke_family(session, kv, settings, row.family_id)
            await session.commit()
        raise Unauthorized("Refresh token already used or revoked.")
    user = await session.get(User, claims.sub)
    if user is None or not user.is_active:
        raise Unauthorized("Unknown user.")
    row = await session.get(RefreshToken, claims.jti)
    return await issue_pair(session, settings, user, family=row.family_id if row else None)


async def _revoke_family(session: AsyncSession, kv: KV, settings: Settings, family: str) -> None:
    rows = (
        await session.scalars(select(RefreshToken).where(RefreshToken.family_id == family))
    ).all()
    now = datetime.now(UTC)
    for row in rows:
        if row.revoked_at is None:
            row.revoked_at = now
        await revoke_access(
            session,
            kv,
            settings,
            row.access_jti,
            row.created_at + timedelta(minutes=settings.access_token_minutes),
        )
    await session.flush()


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
    if isinstance(kv, RedisKV):
        try:
            await kv.set_once(_revoked_key(jti), ttl)
        except RedisError:
            logger.warning("redis unreachable: revocation of %s kept in the database only", jti)


async def logout(session: AsyncSession, kv: KV, settings: Settings, claims: TokenClaims) -> None:
    await revoke_access(session, kv, settings, claims.jti, claims.exp)
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.access_jti == claims.jti, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
    # Old revocations are useless once their tokens have expired.
    await session.execute(delete(RevokedToken).where(RevokedToken.expires_at < datetime.now(UTC)))


async def is_revoked(session: AsyncSession, kv: KV, jti: str) -> bool:
    if isinstance(kv, RedisKV):
        try:
            return await kv.exists(_revoked_key(jti))
        except RedisError:
            logger.warning("redis unreachable: checking revocation in the database")
    return await session.get(RevokedToken, jti) is not None
