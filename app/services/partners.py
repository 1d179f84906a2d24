"""Data partners: keys, signed requests, nonces, and the citizens' links to them.

A partner's secret is never stored: it is HMAC(server key, key id + salt), so the database
alone cannot forge a partner's signature, and the secret is shown once, at creation.
A request is signed over ``timestamp + "\\n" + nonce + "\\n" + raw body``; the nonce is
remembered for twice the timestamp window (Redis when configured, else the database), so a
captured request cannot be replayed.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from datetime import timedelta

from redis.exceptions import RedisError
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db import utcnow
from app.errors import Conflict, NotFound, Unauthorized, ValidationFailed
from app.kv import KV, RedisKV
from app.models import Partner, PartnerNonce, User, UserLink
from app.rules import registry
from app.security import Actor
from app.services import audit

logger = logging.getLogger("tanhui.partners")


def derive_secret(settings: Settings, partner: Partner) -> str:
    label = f"partner-secret:{partner.key_id}:{partner.secret_salt}".encode()
    return hmac.new(settings.jwt_key.encode(), label, hashlib.sha256).hexdigest()


def sign(secret: str, timestamp: str, nonce: str, body: bytes) -> str:
    message = timestamp.encode() + b"\n" + nonce.encode() + b"\n" + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


async def create(
    session: AsyncSession,
    settings: Settings,
    *,
    name: str,
    allowed_types: list[str],
    actor_id: str,
    actor_role: str,
) -> tuple[Partner, str]:
    unknown = sorted({t for t in allowed_types if registry.get(t) is None})
    if unknown:
        raise ValidationFailed(
            f"Unknown methodologies: {', '.join(unknown)}.",
            errors=[{"field": "body.allowed_types", "message": t} for t in unknown],
        )
    partner = Partner(
        name=name,
        key_id="pk_" + secrets.token_hex(10),
        secret_salt=secrets.token_hex(16),
        allowed_types=sorted(set(allowed_types)),
    )
    session.add(partner)
    await session.flush()
    await audit.record(
        session,
        actor_id=actor_id,
        actor_role=actor_role,
        action="partner.created",
        target_type="partner",
        target_id=partner.id,
        after={"name": name, "key_id": partner.key_id, "allowed_types": partner.allowed_types},
    )
    return partner, derive_secret(settings, partner)


async def list_partners(session: AsyncSession) -> list[Partner]:
    return list((await session.scalars(select(Partner).order_by(Partner.created_at))).all())


async def authenticate(
    session: AsyncSession,
    kv: KV,
    settings: Settings,
    *,
    key_id: str | None,
    timestamp: str | None,
    nonce: str | None,
    signature: str | None,
    body: bytes,
) -> Partner:
    """The calling partner, or a 401 before anything is processed."""
    if not (key_id and timestamp and nonce and signature):
        raise Unauthorized("X-Partner-Key, X-Timestamp, X-Nonce and X-Signature are required.")
    if not timestamp.isdigit() or not 8 <= len(nonce) <= 128 or not nonce.isascii():
        raise Unauthorized("Malformed timestamp or nonce.")
    now = utcnow()
    window = settings.partner_timestamp_window_seconds
    if abs(now.timestamp() - int(timestamp)) > window:
        raise Unauthorized("Stale or future timestamp.")
    partner = await session.scalar(select(Partner).where(Partner.key_id == key_id))
    expected = sign(
        derive_secret(settings, partner) if partner else secrets.token_hex(32),
        timestamp,
        nonce,
        body,
    )
    if (
        partner is None
        or not partner.is_active
        or not hmac.compare_digest(expected, signature.lower())
    ):
        raise Unauthorized("Unknown partner key or bad signature.")
    if not await _first_use(session, kv, partner.id, nonce, window):
        raise Unauthorized("Nonce already used.")
    return partner


async def _first_use(
    session: AsyncSession, kv: KV, partner_id: str, nonce: str, window: int
) -> bool:
    if isinstance(kv, RedisKV):
        try:
            return await kv.set_once(f"nonce:{partner_id}:{nonce}", 2 * window)
        except RedisError:
            logger.warning("redis unreachable: partner nonce checked in the database")
    now = utcnow()
    await session.execute(
        delete(PartnerNonce).where(PartnerNonce.seen_at < now - timedelta(seconds=2 * window))
    )
    try:
        async with session.begin_nested():
            session.add(PartnerNonce(partner_id=partner_id, nonce=nonce, seen_at=now))
            await session.flush()
    except IntegrityError:
        return False
    return True


async def resolve_users(
    session: AsyncSession, partner: Partner, refs: list[str]
) -> dict[str, User]:
    """user_ref → user: a linked external reference of this partner, else a user id."""
    wanted = sorted(set(refs))
    linked = (
        await session.execute(
            select(UserLink.external_ref, User)
            .join(User, User.id == UserLink.user_id)
            .where(UserLink.partner_id == partner.id, UserLink.external_ref.in_(wanted))
        )
    ).all()
    out: dict[str, User] = {ref: user for ref, user in linked}
    rest = [r for r in wanted if r not in out]
    if rest:
        for user in (await session.scalars(select(User).where(User.id.in_(rest)))).all():
            out[user.id] = user
    return {ref: user for ref, user in out.items() if user.role == "citizen" and user.is_active}


async def link(
    session: AsyncSession, user: Actor, partner_key: str, external_ref: str
) -> tuple[UserLink, bool]:
    partner = await session.scalar(select(Partner).where(Partner.key_id == partner_key))
    if partner is None or not partner.is_active:
        raise NotFound(f"No partner with key {partner_key!r}.")
    found = await session.scalar(
        select(UserLink).where(
            UserLink.partner_id == partner.id, UserLink.external_ref == external_ref
        )
    )
    if found is not None:
        if found.user_id != user.id:
            raise Conflict("That reference is already linked to another account.")
        return found, False
    row = UserLink(user_id=user.id, partner_id=partner.id, external_ref=external_ref)
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        raise Conflict("That reference was linked a moment ago.") from None
    return row, True


async def links_of(session: AsyncSession, user_id: str) -> list[tuple[UserLink, Partner]]:
    rows = await session.execute(
        select(UserLink, Partner)
        .join(Partner, Partner.id == UserLink.partner_id)
        .where(UserLink.user_id == user_id)
        .order_by(UserLink.created_at)
    )
    return [(link_row, partner) for link_row, partner in rows.tuples()]
