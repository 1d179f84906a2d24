"""Administering user accounts: listing, role changes and disabling, each audited; every
change of standing revokes the user's tokens."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.kit.errors import Forbidden, NotFound, ValidationFailed
from app.kit.pagination import Keyset
from app.kv import KV
from app.models import Merchant, User
from app.models.identity import Role
from app.security import Actor
from app.services.admin import audit
from app.services.admin.errors import SelfChangeRefused
from app.services.identity import tokens


def snapshot(user: User) -> dict[str, Any]:
    return {"role": user.role, "is_active": user.is_active, "merchant_id": user.merchant_id}


NEWEST = Keyset((User.created_at, User.id))


async def list_users(
    session: AsyncSession, *, role: str | None, limit: int, cursor: str | None
) -> tuple[list[User], str | None]:
    """Newest first, keyset-paged on (created_at, id)."""
    query = select(User)
    if role:
        query = query.where(User.role == role)
    return NEWEST.page((await session.scalars(NEWEST.apply(query, cursor, limit))).all(), limit)


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, errors=[{"field": field, "message": message}])


async def update_user(
    session: AsyncSession,
    kv: KV,
    settings: Settings,
    *,
    user_id: str,
    actor: Actor,
    role: str | None = None,
    is_active: bool | None = None,
    merchant_id: str | None = None,
) -> User:
    """Change a user's role and/or active flag. Merchant staff are bound to one merchant;
    leaving the merchant role unbinds them. Admins may not demote or disable themselves, so
    the act that could lock the last administrator out is never possible."""
    # Lock the target and the actor in id order and re-read the actor: two admins demoting
    # each other at once then queue, and the second finds it is no longer an admin.
    locked = {
        u.id: u
        for u in await session.scalars(
            select(User)
            .where(User.id.in_({user_id, actor.id}))
            .order_by(User.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    }
    acting = locked.get(actor.id)
    if acting is None or acting.role != Role.ADMIN or not acting.is_active:
        raise Forbidden("This needs the role admin.")
    user = locked.get(user_id)
    if user is None:
        raise NotFound(f"User {user_id} does not exist.")
    if user.id == actor.id and ((role is not None and role != user.role) or is_active is False):
        raise SelfChangeRefused("You cannot change your own role or disable your own account.")
    before = snapshot(user)
    new_role = role or user.role
    if new_role == Role.MERCHANT:
        bound = merchant_id or (user.merchant_id if user.role == Role.MERCHANT else None)
        if not bound:
            raise _invalid("merchant_id", "merchant staff need a merchant_id")
        if await session.get(Merchant, bound) is None:
            raise NotFound(f"Merchant {bound} does not exist.")
        user.merchant_id = bound
    else:
        if merchant_id:
            raise _invalid("merchant_id", "only merchant staff are bound to a merchant")
        user.merchant_id = None
    user.role = new_role
    if is_active is not None:
        user.is_active = is_active
    await session.flush()
    after = snapshot(user)
    if after != before:
        # Tokens carry the role and merchant: a new standing voids every token of the old
        # one, and re-enabling an account does not revive the tokens it had when disabled.
        if (
            after["role"] != before["role"]
            or after["merchant_id"] != before["merchant_id"]
            or not after["is_active"]
        ):
            await tokens.revoke_all(session, kv, settings, user.id)
        await audit.record(
            session,
            actor=actor,
            action="user.updated",
            target_type="user",
            target_id=user.id,
            before=before,
            after=after,
        )
    return user
