"""Request dependencies as ``Annotated`` aliases: one place to see what a route can ask for."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.config import Settings
from app.db import session_scope
from app.errors import Forbidden, Unauthorized
from app.kv import KV
from app.models import User
from app.security import TokenClaims, decode_token
from app.services import ratelimit
from app.services.auth import is_revoked
from app.services.group_commit import RecordCommitter

oauth2 = OAuth2PasswordBearer(tokenUrl="/v1/auth/token", auto_error=False)


async def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


async def get_kv(request: Request) -> KV:
    return request.app.state.kv  # type: ignore[no-any-return]


async def get_record_committer(request: Request) -> RecordCommitter | None:
    """The worker's group committer of single records, or None when grouping is off."""
    return getattr(request.app.state, "record_committer", None)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's unit of work; it commits before the response is sent."""
    async with session_scope(request.app.state.sessionmaker) as session:
        yield session


async def get_engine(request: Request) -> AsyncEngine:
    """For reads that need no unit of work (see ``app.db.read_only``)."""
    return request.app.state.engine  # type: ignore[no-any-return]


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
Engine = Annotated[AsyncEngine, Depends(get_engine)]
KVDep = Annotated[KV, Depends(get_kv)]
Session = Annotated[AsyncSession, Depends(get_session, scope="function")]
RecordCommitterDep = Annotated[RecordCommitter | None, Depends(get_record_committer)]


@dataclass(frozen=True)
class Principal:
    user: User
    claims: TokenClaims

    @property
    def id(self) -> str:
        return self.user.id

    @property
    def role(self) -> str:
        return self.user.role


async def get_principal(
    request: Request,
    session: Session,
    kv: KVDep,
    settings: SettingsDep,
    token: Annotated[str | None, Depends(oauth2)],
) -> Principal:
    if not token:
        raise Unauthorized("Missing bearer token.")
    claims = decode_token(settings, token, "access")
    if claims is None:
        raise Unauthorized("Invalid or expired token.")
    if await is_revoked(session, kv, claims.jti):
        raise Unauthorized("Token has been revoked.")
    user = await session.get(User, claims.sub)
    if user is None or not user.is_active:
        raise Unauthorized("Unknown or disabled user.")
    request.state.user_id = user.id
    if user.role == "citizen":
        await ratelimit.check_user(kv, settings, user.id)
    return Principal(user=user, claims=claims)


CurrentUser = Annotated[Principal, Depends(get_principal)]


def require_roles(*roles: str) -> Callable[[Principal], Coroutine[Any, Any, Principal]]:
    async def guard(principal: CurrentUser) -> Principal:
        if principal.role not in roles:
            raise Forbidden(f"This needs the role {' or '.join(roles)}.")
        return principal

    return guard


def require_admin_read() -> Callable[[Request, Principal], Coroutine[Any, Any, Principal]]:
    """Admins may do everything here; auditors may only read (GET)."""

    async def guard(request: Request, principal: CurrentUser) -> Principal:
        if principal.role == "admin":
            return principal
        if principal.role == "auditor" and request.method in ("GET", "HEAD"):
            return principal
        raise Forbidden(
            "This needs the role admin"
            + (" (auditors may only read)." if principal.role == "auditor" else ".")
        )

    return guard


Citizen = Annotated[Principal, Depends(require_roles("citizen"))]
MerchantStaff = Annotated[Principal, Depends(require_roles("merchant"))]
MerchantOrAdmin = Annotated[Principal, Depends(require_roles("merchant", "admin"))]
Admin = Annotated[Principal, Depends(require_roles("admin"))]
AdminOrAuditor = Annotated[Principal, Depends(require_admin_read())]
