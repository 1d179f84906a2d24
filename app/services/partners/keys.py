"""Data partners: keys, secrets and their rotation, signed requests, nonces.

A partner's secret is never stored: it is HMAC(server key, key id + salt), so the database
alone cannot forge a partner's signature, and the secret is shown once, at creation.
Rotation draws a new salt: the old secret stops working with the commit, in every worker,
because each request derives the secret from the partner row it reads (nothing is cached).
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
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db import utcnow
from app.kit.errors import Forbidden, NotFound, Unauthorized, ValidationFailed
from app.kv import KV, RedisKV
from app.models import Partner, PartnerNonce
from app.models.partners import LinkConfirmation
from app.observability import REDIS_FALLBACKS
from app.rules import registry
from app.security import Actor
from app.services.admin import audit

logger = logging.getLogger("tanhui.partners")


def derive_secret(settings: Settings, partner: Partner) -> str:
    label = f"partner-secret:{partner.key_id}:{partner.secret_salt}".encode()
    return hmac.new(settings.jwt_key.encode(), label, hashlib.sha256).hexdigest()


def sign(secret: str, timestamp: str, nonce: str, body: bytes) -> str:
    message = timestamp.encode() + b"\n" + nonce.encode() + b"\n" + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _check_types(allowed_types: list[str]) -> list[str]:
    unknown = sorted({t for t in allowed_types if registry.get(t) is None})
    if unknown:
        raise ValidationFailed(
            f"Unknown methodologies: {', '.join(unknown)}.",
            errors=[{"field": "body.allowed_types", "message": t} for t in unknown],
        )
    return sorted(set(allowed_types))


def snapshot(partner: Partner) -> dict[str, Any]:
    """What the audit log keeps of a partner: never its secret or salt."""
    return {
        "name": partner.name,
        "key_id": partner.key_id,
        "allowed_types": list(partner.allowed_types),
        "is_active": partner.is_active,
        "link_confirmation": partner.link_confirmation,
        "refs_case_sensitive": partner.refs_case_sensitive,
    }


async def create(
    session: AsyncSession,
    settings: Settings,
    *,
    name: str,
    allowed_types: list[str],
    link_confirmation: str = LinkConfirmation.PARTNER,
    refs_case_sensitive: bool = True,
    actor: Actor,
) -> tuple[Partner, str]:
    partner = Partner(
        name=name,
        key_id="pk_" + secrets.token_hex(10),
        secret_salt=secrets.token_hex(16),
        allowed_types=_check_types(allowed_types),
        is_active=True,
        link_confirmation=link_confirmation,
        refs_case_sensitive=refs_case_sensitive,
    )
    session.add(partner)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="partner.created",
        target_type="partner",
        target_id=partner.id,
        after=snapshot(partner),
    )
    return partner, derive_secret(settings, partner)


async def get(session: AsyncSession, partner_id: str, *, lock: bool = False) -> Partner:
    query = select(Partner).where(Partner.id == partner_id)
    if lock:
        query = query.with_for_update()
    partner = await session.scalar(query)
    if partner is None:
        raise NotFound(f"Partner {partner_id} does not exist.")
    return partner


async def update(
    session: AsyncSession,
    partner_id: str,
    changes: dict[str, Any],
    *,
    actor: Actor,
) -> Partner:
    partner = await get(session, partner_id, lock=True)
    before = snapshot(partner)
    if "active" in changes:
        partner.is_active = changes["active"]
    if "allowed_types" in changes:
        partner.allowed_types = _check_types(changes["allowed_types"])
    if "link_confirmation" in changes:
        partner.link_confirmation = changes["link_confirmation"]
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="partner.updated",
        target_type="partner",
        target_id=partner.id,
        before=before,
        after=snapshot(partner),
    )
    return partner


async def rotate(
    session: AsyncSession, settings: Settings, partner_id: str, *, actor: Actor
) -> tuple[Partner, str]:
    """A new secret, shown once; the old one is refused from the commit on."""
    partner = await get(session, partner_id, lock=True)
    partner.secret_salt = secrets.token_hex(16)
    partner.secret_rotated_at = utcnow()
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="partner.secret_rotated",
        target_type="partner",
        target_id=partner.id,
        after={"key_id": partner.key_id, "rotated_at": partner.secret_rotated_at.isoformat()},
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
        raise Unauthorized(
            "X-Partner-Key, X-Timestamp, X-Nonce and X-Signature are required.",
            reason="signature_invalid",
        )
    if not timestamp.isdigit() or len(timestamp) > 12:
        raise Unauthorized("Malformed timestamp.", reason="timestamp_stale")
    if not 8 <= len(nonce) <= 128 or not nonce.isascii():
        raise Unauthorized("Malformed nonce.", reason="signature_invalid")
    now = utcnow()
    window = settings.partner_timestamp_window_seconds
    if abs(now.timestamp() - int(timestamp)) > window:
        raise Unauthorized("Stale or future timestamp.", reason="timestamp_stale")
    partner = await session.scalar(select(Partner).where(Partner.key_id == key_id))
    expected = sign(
        derive_secret(settings, partner) if partner else secrets.token_hex(32),
        timestamp,
        nonce,
        body,
    )
    if partner is None or not hmac.compare_digest(expected.encode(), signature.lower().encode()):
        raise Unauthorized("Unknown partner key or bad signature.", reason="signature_invalid")
    # Only a partner that proved its secret learns that it was deactivated.
    if not partner.is_active:
        raise Forbidden("This partner is deactivated.", reason="partner_inactive")
    if not await _first_use(session, kv, partner.id, nonce, window):
        raise Unauthorized("Nonce already used.", reason="nonce_reused")
    return partner


async def _first_use(
    session: AsyncSession, kv: KV, partner_id: str, nonce: str, window: int
) -> bool:
    if isinstance(kv, RedisKV):
        try:
            return await kv.set_once(f"nonce:{partner_id}:{nonce}", 2 * window)
        except RedisError:
            logger.warning("redis unreachable: partner nonce checked in the database")
            REDIS_FALLBACKS.labels("partner_nonce").inc()
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
