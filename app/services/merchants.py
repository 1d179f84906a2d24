"""Merchants and their staff (administration)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import utcnow
from app.errors import NotFound
from app.kit.pagination import Keyset
from app.models import Merchant, User
from app.services import audit
from app.services.users import create_user

NEWEST = Keyset((Merchant.created_at, Merchant.id))


def _snapshot(merchant: Merchant) -> dict[str, Any]:
    return {"id": merchant.id, "name": merchant.name}


async def create_merchant(session: AsyncSession, *, name: str, actor: User) -> Merchant:
    merchant = Merchant(name=name.strip(), created_at=utcnow())
    session.add(merchant)
    await session.flush()
    await audit.record(
        session,
        actor_id=actor.id,
        actor_role=actor.role,
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
    actor: User,
) -> User:
    """A user with role ``merchant`` who acts for this merchant only."""
    await get_merchant(session, merchant_id)
    user = await create_user(
        session,
        email=email,
        password=password,
        role="merchant",
        display_name=display_name,
        merchant_id=merchant_id,
    )
    await audit.record(
        session,
        actor_id=actor.id,
        actor_role=actor.role,
        action="merchant.staff.create",
        target_type="user",
        target_id=user.id,
        after={"email": user.email, "role": user.role, "merchant_id": merchant_id},
    )
    return user
