"""Request dependencies as ``Annotated`` aliases: one place to see what a route can ask for."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.config import Settings
from app.db import session_scope
from app.kit.errors import Forbidden, Unauthorized
from app.kv import KV
from app.models.identity import Role
from app.security import TokenClaims, decode_checked
from app.services.identity import console
from app.services.identity.standing import authenticate

oauth2 = OAuth2PasswordBearer(tokenUrl="/v1/auth/token", auto_error=False)


async def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


async def get_kv(request: Request) -> KV:
    return request.app.state.kv  # type: ignore[no-any-return]


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's unit of work; it commits before the response is sent."""
    async with session_scope(request.app.state.sessionmaker) as session:
        yield session


def client_ip(request: Request) -> str:
    """The peer address; uvicorn replaces it with X-Forwarded-For only when the peer is one of
    the proxies named by --forwarded-allow-ips, so a client cannot choose its own bucket."""
    return request.client.host if request.client else "unknown"


async def get_engine(request: Request) -> AsyncEngine:
    """For reads that need no unit of work (see ``app.db.read_only``)."""
    return request.app.state.engine  # type: ignore[no-any-return]


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
Engine = Annotated[AsyncEngine, Depends(get_engine)]
KVDep = Annotated[KV, Depends(get_kv)]
Session = Annotated[AsyncSession, Depends(get_session, scope="function")]
# Chosen by the client for an act that spends points (a redemption, a donation).
IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="Chosen by the client; retrying with the same key never acts twice",
    ),
]
ClientIP = Annotated[str, Depends(client_ip)]


@dataclass(frozen=True)
class Principal:
    """Who is calling, from the verified token alone: any change of the user's standing
    (role, merchant, disabling, deletion) revokes the tokens that carry the old one."""

    id: str
    role: str
    merchant_id: str | None
    claims: TokenClaims


async def get_principal(
    request: Request, token: Annotated[str | None, Depends(oauth2)]
) -> Principal:
    """The caller, from the verified token and one round trip to the store (revocation and
    rate limit together). Settings, store and sessions come from the application's state
    rather than as sub-dependencies: every authenticated request resolves this, and each
    dependency costs the framework more than the check itself. A database session is
    opened only when the store cannot answer (Redis down or being reloaded). The console
    sends its token in a cookie, which the browser adds by itself: such a request must also
    prove, with its CSRF header, that the console made it."""
    state = request.app.state
    from_cookie = False
    if not token and (token := request.cookies.get(console.ACCESS_COOKIE)):
        from_cookie = True
    if not token:
        raise Unauthorized("Missing bearer token.", reason="token_missing")
    claims = decode_checked(state.settings, token, "access")
    if from_cookie:
        console.check_csrf(
            state.settings,
            claims.sub,
            request.headers.get(console.CSRF_HEADER),
            request.cookies.get(console.CSRF_COOKIE),
        )
    await authenticate(state.sessionmaker, state.kv, state.settings, claims)
    request.state.user_id = claims.sub
    return Principal(id=claims.sub, role=claims.role, merchant_id=claims.merchant_id, claims=claims)


CurrentUser = Annotated[Principal, Depends(get_principal)]


def require_roles(*roles: str) -> Callable[[Principal], Coroutine[Any, Any, Principal]]:
    async def guard(principal: CurrentUser) -> Principal:
        if principal.role not in roles:
            raise Forbidden(f"This needs the role {' or '.join(roles)}.", reason="role_required")
        return principal

    return guard


def require_admin_read() -> Callable[[Request, Principal], Coroutine[Any, Any, Principal]]:
    """Admins may do everything here; auditors may only read (GET)."""

    async def guard(request: Request, principal: CurrentUser) -> Principal:
        if principal.role == Role.ADMIN:
            return principal
        if principal.role == Role.AUDITOR and request.method in ("GET", "HEAD"):
            return principal
        raise Forbidden(
            "This needs the role admin"
            + (" (auditors may only read)." if principal.role == Role.AUDITOR else "."),
            reason="role_required",
        )

    return guard


Citizen = Annotated[Principal, Depends(require_roles(Role.CITIZEN))]


MerchantStaff = Annotated[Principal, Depends(require_roles(Role.MERCHANT))]
MerchantOrAdmin = Annotated[Principal, Depends(require_roles(Role.MERCHANT, Role.ADMIN))]
Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
AdminOrAuditor = Annotated[Principal, Depends(require_admin_read())]
