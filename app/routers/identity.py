"""Identity over HTTP: registration, sign-in, token refresh and logout, and the signed-in
user's own profile, password and data rights (``/v1/auth/*``, ``/v1/me``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request

from app.deps import Citizen, CurrentUser, KVDep, Session, SettingsDep, client_ip
from app.kit.errors import Forbidden, NotFound, Unauthorized, ValidationFailed
from app.kit.problems import responses
from app.models import User
from app.schemas.identity import (
    ErasureIn,
    ExportOut,
    PasswordChangeIn,
    ProfilePatchIn,
    RefreshIn,
    RegisterIn,
    TokenOut,
    UserOut,
)
from app.services.identity import privacy, ratelimit, tokens
from app.services.identity.errors import EmailTaken, WeakPassword
from app.services.identity.users import create_user, get_user

session_routes = APIRouter(prefix="/v1", tags=["auth"])


@session_routes.post(
    "/auth/register",
    status_code=201,
    response_model=UserOut,
    summary="Register a citizen account",
    responses=responses(EmailTaken, WeakPassword, ValidationFailed),
)
async def register(
    body: RegisterIn, request: Request, session: Session, kv: KVDep, settings: SettingsDep
) -> UserOut:
    await ratelimit.enforce(kv, settings, ratelimit.AUTH, client_ip(request))
    user = await create_user(
        session,
        email=body.email,
        password=body.password,
        display_name=body.display_name,
        region=body.region,
    )
    return UserOut.model_validate(user)


@session_routes.post(
    "/auth/token",
    response_model=TokenOut,
    operation_id="signIn",
    summary="Log in (OAuth2 password form)",
    responses=responses(Unauthorized),
)
async def token(
    request: Request,
    session: Session,
    kv: KVDep,
    settings: SettingsDep,
    username: Annotated[str, Form(description="The account's email", max_length=320)],
    password: Annotated[str, Form(max_length=256)],
) -> TokenOut:
    await ratelimit.enforce(kv, settings, ratelimit.AUTH, client_ip(request))
    pair = await tokens.login(session, kv, settings, username, password)
    return TokenOut(
        access_token=pair.access_token, expires_in=pair.expires_in, refresh_token=pair.refresh_token
    )


@session_routes.post(
    "/auth/refresh",
    response_model=TokenOut,
    operation_id="refreshToken",
    summary="Exchange a refresh token for a new pair (each works once)",
    responses=responses(Unauthorized),
)
async def refresh(
    body: RefreshIn, request: Request, session: Session, kv: KVDep, settings: SettingsDep
) -> TokenOut:
    await ratelimit.enforce(kv, settings, ratelimit.REFRESH, client_ip(request))
    pair = await tokens.refresh(session, kv, settings, body.refresh_token)
    return TokenOut(
        access_token=pair.access_token, expires_in=pair.expires_in, refresh_token=pair.refresh_token
    )


@session_routes.post(
    "/auth/logout",
    status_code=204,
    summary="Revoke the presented access token and its refresh token",
    responses=responses(Unauthorized),
)
async def logout(
    principal: CurrentUser, session: Session, kv: KVDep, settings: SettingsDep
) -> None:
    await tokens.logout(session, kv, settings, principal.claims)


@session_routes.post(
    "/auth/logout-all",
    status_code=204,
    summary="Revoke every access and refresh token of the caller",
    responses=responses(Unauthorized),
)
async def logout_all(
    principal: CurrentUser, session: Session, kv: KVDep, settings: SettingsDep
) -> None:
    await tokens.revoke_all(session, kv, settings, principal.id)


me_routes = APIRouter(prefix="/v1", tags=["me"], responses=responses(Unauthorized))


async def _own_row(session: Session, user_id: str) -> User:
    user = await get_user(session, user_id)
    if user is None or not user.is_active:  # tokens die with the account; a race at most
        raise Unauthorized("Unknown or disabled user.", reason="token_revoked")
    return user


@me_routes.get("/me", response_model=UserOut, operation_id="getMe", summary="The signed-in user")
async def me(principal: CurrentUser, session: Session) -> UserOut:
    return UserOut.model_validate(await _own_row(session, principal.id))


@me_routes.patch(
    "/me",
    response_model=UserOut,
    summary="Change the display name or region",
    responses=responses(ValidationFailed),
)
async def update_me(body: ProfilePatchIn, principal: CurrentUser, session: Session) -> UserOut:
    user = await _own_row(session, principal.id)
    privacy.update_profile(user, body.model_dump(exclude_unset=True))
    await session.flush()
    return UserOut.model_validate(user)


@me_routes.post(
    "/me/password",
    status_code=204,
    summary="Change the password; every other session of the user is revoked",
    responses=responses(Forbidden, WeakPassword, ValidationFailed),
)
async def change_password(
    body: PasswordChangeIn,
    principal: CurrentUser,
    session: Session,
    kv: KVDep,
    settings: SettingsDep,
) -> None:
    user = await _own_row(session, principal.id)
    await privacy.change_password(
        session, kv, settings, user, principal.claims, body.current_password, body.new_password
    )


@me_routes.get(
    "/me/export",
    response_model=ExportOut,
    summary="Everything held about the caller, as one JSON document",
)
async def export_me(
    principal: CurrentUser, session: Session, settings: SettingsDep
) -> dict[str, Any]:
    user = await _own_row(session, principal.id)
    return await privacy.export(session, settings, user)


@me_routes.delete(
    "/me",
    status_code=204,
    summary="Erase the caller's identity; records and ledger stay under a pseudonymous id",
    responses=responses(Forbidden, NotFound, ValidationFailed),
)
async def erase_me(
    body: ErasureIn, principal: Citizen, session: Session, kv: KVDep, settings: SettingsDep
) -> None:
    user = await _own_row(session, principal.id)
    await privacy.erase(session, kv, settings, user, body.password)


router = APIRouter()
router.include_router(session_routes)
router.include_router(me_routes)
