"""Incentives: what merchants publish and citizens redeem.

Stock is ``stock`` units left (null = unlimited). ``issued`` counts the units currently taken
by codes that are issued or fulfilled: a redemption adds one, a cancelled or expired code
gives its unit back to ``stock`` and takes one off ``issued``. So while nobody edits the
stock, ``stock + issued`` is the number of units the merchant has offered.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import utcnow
from app.kit.errors import Forbidden, NotFound, ValidationFailed
from app.kit.pagination import Keyset
from app.models import Incentive, Merchant
from app.models.identity import Role
from app.security import Actor
from app.services.admin import audit
from app.services.rewards.merchants import get_merchant

EDITABLE = (
    "title",
    "description",
    "stock",
    "per_user_limit",
    "valid_from",
    "valid_until",
    "paused",
)


INACTIVE = {
    "paused": "paused",
    "not_yet_valid": "not valid yet",
    "past_validity": "past its validity",
}


def inactive_reason(incentive: Incentive, now: datetime) -> str | None:
    """Why the incentive cannot be redeemed now, stock aside (a key of ``INACTIVE``), or None."""
    if incentive.paused:
        return "paused"
    if incentive.valid_from is not None and now < incentive.valid_from:
        return "not_yet_valid"
    if incentive.valid_until is not None and now >= incentive.valid_until:
        return "past_validity"
    return None


def is_active(incentive: Incentive, now: datetime) -> bool:
    in_stock = incentive.stock is None or incentive.stock > 0
    return in_stock and inactive_reason(incentive, now) is None


def merchant_view(incentive: Incentive, now: datetime | None = None) -> dict[str, Any]:
    out = {name: getattr(incentive, name) for name in _FIELDS}
    out["active"] = is_active(incentive, now or utcnow())
    return out


_FIELDS = (
    "id",
    "merchant_id",
    "title",
    "description",
    "points_cost",
    "stock",
    "issued",
    "per_user_limit",
    "valid_from",
    "valid_until",
    "code_ttl_days",
    "paused",
    "created_at",
    "updated_at",
)


def _snapshot(incentive: Incentive) -> dict[str, Any]:
    out = {name: getattr(incentive, name) for name in EDITABLE}
    for name in ("valid_from", "valid_until"):
        out[name] = out[name].isoformat() if out[name] else None
    return out


def acting_merchant(actor: Actor, requested: str | None) -> str | None:
    """The merchant a staff member acts for: always their own. Admins act for any (None when
    they named none)."""
    if actor.role == Role.ADMIN:
        return requested
    if actor.merchant_id is None:
        raise Forbidden("This staff account is not bound to a merchant.")
    if requested is not None and requested != actor.merchant_id:
        raise Forbidden("Merchant staff act only for their own merchant.")
    return actor.merchant_id


async def create_incentive(
    session: AsyncSession, *, actor: Actor, data: dict[str, Any]
) -> Incentive:
    merchant_id = acting_merchant(actor, data.pop("merchant_id", None))
    if merchant_id is None:
        raise ValidationFailed(
            "An admin must name the merchant.",
            errors=[{"field": "body.merchant_id", "message": "required for admins"}],
        )
    await get_merchant(session, merchant_id)
    now = utcnow()
    incentive = Incentive(merchant_id=merchant_id, issued=0, paused=False, created_at=now, **data)
    session.add(incentive)
    await session.flush()
    if actor.role == Role.ADMIN:
        await audit.record(
            session,
            actor=actor,
            action="incentive.create",
            target_type="incentive",
            target_id=incentive.id,
            after={
                "merchant_id": merchant_id,
                "points_cost": incentive.points_cost,
                **_snapshot(incentive),
            },
        )
    return incentive


async def _lock_for(session: AsyncSession, incentive_id: str, actor: Actor) -> Incentive:
    """Lock the row (so an edit never loses a concurrent redemption's stock change). Another
    merchant's incentive is reported as missing, not forbidden: its existence is not theirs."""
    incentive = await session.scalar(
        select(Incentive)
        .where(Incentive.id == incentive_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if incentive is None:
        raise NotFound(f"Incentive {incentive_id} does not exist.")
    if actor.role != Role.ADMIN and incentive.merchant_id != acting_merchant(actor, None):
        raise NotFound(f"Incentive {incentive_id} does not exist.")
    return incentive


async def update_incentive(
    session: AsyncSession, incentive_id: str, *, actor: Actor, changes: dict[str, Any]
) -> Incentive:
    incentive = await _lock_for(session, incentive_id, actor)
    before = _snapshot(incentive)
    valid_from = changes.get("valid_from", incentive.valid_from)
    valid_until = changes.get("valid_until", incentive.valid_until)
    if valid_from is not None and valid_until is not None and valid_until <= valid_from:
        raise ValidationFailed(
            "valid_until must be after valid_from.",
            errors=[{"field": "body.valid_until", "message": "must be after valid_from"}],
        )
    for name, value in changes.items():
        if name not in EDITABLE:
            raise ValidationFailed(f"{name} cannot be changed.")
        setattr(incentive, name, value)
    incentive.updated_at = utcnow()
    await session.flush()
    if actor.role == Role.ADMIN:
        await audit.record(
            session,
            actor=actor,
            action="incentive.update",
            target_type="incentive",
            target_id=incentive.id,
            before=before,
            after=_snapshot(incentive),
        )
    return incentive


NEWEST = Keyset((Incentive.created_at, Incentive.id))


async def list_for_merchant(
    session: AsyncSession, merchant_id: str | None, limit: int, cursor: str | None
) -> tuple[list[Incentive], str | None]:
    """A merchant's incentives, paused and past ones included (all merchants' for None)."""
    query = select(Incentive)
    if merchant_id is not None:
        query = query.where(Incentive.merchant_id == merchant_id)
    rows = (await session.scalars(NEWEST.apply(query, cursor, limit))).all()
    return NEWEST.page(rows, limit)


async def list_active(
    session: AsyncSession, limit: int, cursor: str | None, now: datetime | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """The catalogue: of active merchants, not paused, within the validity window, in stock;
    newest first."""
    now = now or utcnow()
    query = (
        select(Incentive, Merchant.name)
        .join(Merchant, Merchant.id == Incentive.merchant_id)
        .where(
            Merchant.is_active.is_(True),
            Incentive.paused.is_(False),
            or_(Incentive.valid_from.is_(None), Incentive.valid_from <= now),
            or_(Incentive.valid_until.is_(None), Incentive.valid_until > now),
            or_(Incentive.stock.is_(None), Incentive.stock > 0),
        )
    )
    rows, next_cursor = NEWEST.page(
        (await session.execute(NEWEST.apply(query, cursor, limit))).all(), limit, lambda r: r[0]
    )
    items = [
        {name: getattr(incentive, name) for name in _PUBLIC} | {"merchant_name": merchant_name}
        for incentive, merchant_name in rows
    ]
    return items, next_cursor


_PUBLIC = (
    "id",
    "merchant_id",
    "title",
    "description",
    "points_cost",
    "stock",
    "per_user_limit",
    "valid_from",
    "valid_until",
    "code_ttl_days",
)
