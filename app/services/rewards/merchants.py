"""Merchants and their staff (administration)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import utcnow
from app.kit.errors import Forbidden, NotFound, ValidationFailed
from app.kit.pagination import Keyset
from app.models import Merchant, User
from app.models.identity import Role
from app.security import Actor
from app.services.admin import audit
from app.services.identity.users import create_user

NEWEST = Keyset((Merchant.created_at, Merchant.id))


def _snapshot(merchant: Merchant) -> dict[str, Any]:
    return {"id": merchant.id, "name": merchant.name, "is_active": merchant.is_active}


async def create_merchant(session: AsyncSession, *, name: str, actor: Actor) -> Merchant:
    merchant = Merchant(name=name.strip(), is_active=True, created_at=utcnow())
    session.add(merchant)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="merchant.create",
        target_type="merchant",
        target_id=merchant.id,
        after=_snapshot(merchant),
    )
    return merchant


async def get_merchant(session: AsyncSession, merchant_id: str) -> Merchant:
    merchant = await session.get(Merchant, merchant_id)
    if merchant is None:
        raise NotFound(f"Merchant {merchant_id} does not exist.")
    return merchant


async def update_merchant(
    session: AsyncSession, merchant_id: str, changes: dict[str, Any], *, actor: Actor
) -> Merchant:
    """Rename or (de)activate. Deactivation takes effect for requests that start after the
    commit; a redemption already past its checks when it lands is refused by the stock
    update, which also requires the merchant to be active."""
    merchant = await session.scalar(
        select(Merchant).where(Merchant.id == merchant_id).with_for_update()
    )
    if merchant is None:
        raise NotFound(f"Merchant {merchant_id} does not exist.")
    before = _snapshot(merchant)
    if "name" in changes:
        name = changes["name"].strip()
        if not name:
            raise ValidationFailed(
                "The name is blank.", errors=[{"field": "body.name", "message": "blank"}]
            )
        merchant.name = name
    if "active" in changes:
        merchant.is_active = changes["active"]
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="merchant.update",
        target_type="merchant",
        target_id=merchant.id,
        before=before,
        after=_snapshot(merchant),
    )
    return merchant


async def require_active(session: AsyncSession, merchant_id: str) -> None:
    """Staff of a deactivated merchant may look but not act at the till."""
    if not await session.scalar(select(Merchant.is_active).where(Merchant.id == merchant_id)):
        raise Forbidden("This merchant is deactivated.", reason="merchant_inactive")


async def list_merchants(
    session: AsyncSession, limit: int, cursor: str | None
) -> tuple[list[Merchant], str | None]:
    rows = (await session.scalars(NEWEST.apply(select(Merchant), cursor, limit))).all()
    return NEWEST.page(rows, limit)


async def add_staff(
    session: AsyncSession,
    *,
    merchant_id: str,
    email: str,
    password: str,
    display_name: str | None,
    actor: Actor,
) -> User:
    """A user with role ``merchant`` who acts for this merchant only."""
    await get_merchant(session, merchant_id)
    user = await create_user(
        session,
        email=email,
        password=password,
        role=Role.MERCHANT,
        display_name=display_name,
        merchant_id=merchant_id,
    )
    await audit.record(
        session,
        actor=actor,
        action="merchant.staff.create",
        target_type="user",
        target_id=user.id,
        after={"email": user.email, "role": user.role, "merchant_id": merchant_id},
    )
    return user
