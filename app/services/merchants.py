"""Merchants and their staff (administration), plus the newest-first paging that the
merchant, incentive and redemption listings share."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from app.db import utcnow
from app.errors import BadRequest, NotFound
from app.models import Merchant, User
from app.schemas.common import decode_cursor, encode_cursor
from app.security import Actor
from app.services import audit
from app.services.users import create_user

T = TypeVar("T", bound=tuple[Any, ...])


def newest_first(
    query: Select[T],
    created: InstrumentedAttribute[datetime],
    ident: InstrumentedAttribute[str],
    cursor: str | None,
    limit: int,
) -> Select[T]:
    """Keyset paging on (created_at, id) descending; fetches one row more than a page so the
    caller can tell whether there is a next one."""
    after = decode_cursor(cursor, 2)
    if after is not None:
        try:
            at = datetime.fromisoformat(str(after[0]))
        except ValueError as exc:
            raise BadRequest("The cursor is not valid.") from exc
        if at.tzinfo is None:
            raise BadRequest("The cursor is not valid.")
        query = query.where(or_(created < at, and_(created == at, ident < str(after[1]))))
    return query.order_by(created.desc(), ident.desc()).limit(limit + 1)


def page_cursor(rows: Sequence[Any], limit: int, key: Any) -> str | None:
    """The cursor after the last row of this page, or None at the end."""
    if len(rows) <= limit:
        return None
    created_at, ident = key(rows[limit - 1])
    return encode_cursor(created_at.isoformat(), ident)


def _snapshot(merchant: Merchant) -> dict[str, Any]:
    return {"id": merchant.id, "name": merchant.name}


async def create_merchant(session: AsyncSession, *, name: str, actor: Actor) -> Merchant:
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
    query = newest_first(select(Merchant), Merchant.created_at, Merchant.id, cursor, limit)
    rows = list((await session.scalars(query)).all())
    return rows[:limit], page_cursor(rows, limit, lambda m: (m.created_at, m.id))


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
