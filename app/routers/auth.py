from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request

from app.deps import CurrentUser, KVDep, Session, SettingsDep
from app.errors import EmailTaken, Unauthorized, ValidationFailed, WeakPassword, responses
from app.schemas.auth import RefreshIn, RegisterIn, TokenOut, UserOut
from app.services import auth as auth_service
from app.services import ratelimit
from app.services.users import create_user

router = APIRouter(prefix="/v1", tags=["auth"])


@router.post(
    "/auth/register",
    status_code=201,
    response_model=UserOut,
    summary="Register a citizen account",
    responses=responses(EmailTaken, WeakPassword, ValidationFailed),
)
async def register(
    body: RegisterIn, request: Request, session: Session, kv: KVDep, settings: SettingsDep
) -> UserOut:
    await ratelimit.check_auth(request, kv, settings)
    user = await create_user(
        session,
        email=body.email,
        password=body.password,
        display_name=body.display_name,
        region=body.region,
    )
    return UserOut.model_validate(user)


@router.post(
    "/auth/token",
    response_model=TokenOut,
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
    await ratelimit.check_auth(request, kv, settings)
    pair = await auth_service.login(session, kv, settings, username, password)
    return TokenOut(
        access_token=pair.access_token, expires_in=pair.expires_in, refresh_token=pair.refresh_token
    )


@router.post(
    "/auth/refresh",
    response_model=TokenOut,
    summary="Exchange a refresh token for a new pair (each works once)",
    responses=responses(Unauthorized),
)
async def refresh(
    body: RefreshIn, request: Request, session: Session, kv: KVDep, settings: SettingsDep
) -> TokenOut:
    await ratelimit.check_refresh(request, kv, settings)
    pair = await auth_service.refresh(session, kv, settings, body.refresh_token)
    return TokenOut(
        access_token=pair.access_token, expires_in=pair.expires_in, refresh_token=pair.refresh_token
    )


@router.post(
    "/auth/logout",
    status_code=204,
    summary="Revoke the presented access token and its refresh token",
    responses=responses(Unauthorized),
)
async def logout(
    principal: CurrentUser, session: Session, kv: KVDep, settings: SettingsDep
) -> None:
    await auth_service.logout(session, kv, settings, principal.claims)


@router.post(
    "/auth/logout-all",
    status_code=204,
    summary="Revoke every access and refresh token of the caller",
    responses=responses(Unauthorized),
)
async def logout_all(
    principal: CurrentUser, session: Session, kv: KVDep, settings: SettingsDep
) -> None:
    await auth_service.revoke_all(session, kv, settings, principal.id)
