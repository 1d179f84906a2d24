"""Users: registration and the CLI's account creation. Queries for users live here."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.errors import NotFound, ValidationFailed
from app.models import Merchant, User
from app.models.identity import ROLES, Role
from app.security import hash_password_async, password_problems
from app.services.identity.errors import EmailTaken, WeakPassword


def normalise_email(email: str) -> str:
    return email.strip().lower()


async def get_user(session: AsyncSession, user_id: str) -> User | None:
    return await session.get(User, user_id)


async def get_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == normalise_email(email)))


async def create_user(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    role: str = Role.CITIZEN,
    display_name: str | None = None,
    region: str | None = None,
    merchant_id: str | None = None,
) -> User:
    email = normalise_email(email)
    if role not in ROLES:
        raise ValidationFailed(f"role must be one of {', '.join(ROLES)}")
    problems = password_problems(password, email)
    if problems:
        raise WeakPassword(
            "Password " + "; ".join(problems) + ".",
            errors=[{"field": "password", "message": p} for p in problems],
        )
    if role == Role.MERCHANT:
        if not merchant_id:
            raise ValidationFailed("merchant staff need a merchant_id")
        if await session.get(Merchant, merchant_id) is None:
            raise NotFound(f"merchant {merchant_id} does not exist")
    elif merchant_id:
        raise ValidationFailed("only merchant staff are bound to a merchant")
    if await session.scalar(select(func.count()).select_from(User).where(User.email == email)):
        raise EmailTaken(f"{email} is already registered")
    user = User(
        email=email,
        password_hash=await hash_password_async(password),
        role=role,
        display_name=display_name,
        region=region,
        merchant_id=merchant_id,
    )
    session.add(user)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:  # a concurrent registration won the race
        raise EmailTaken(f"{email} is already registered") from exc
    return user
