"""The signed-in user's own account: profile, password, and the data rights of PIPL."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.deps import Citizen, CurrentUser, KVDep, Session, SettingsDep
from app.errors import Forbidden, NotFound, Unauthorized, ValidationFailed, WeakPassword, responses
from app.models import User
from app.schemas.auth import ErasureIn, ExportOut, PasswordChangeIn, ProfilePatchIn, UserOut
from app.services import privacy
from app.services.users import get_user

router = APIRouter(prefix="/v1", tags=["me"], responses=responses(Unauthorized))


async def _own_row(session: Session, user_id: str) -> User:
    user = await get_user(session, user_id)
    if user is None or not user.is_active:  # tokens die with the account; a race at most
        raise Unauthorized("Unknown or disabled user.", reason="token_revoked")
    return user


@router.get("/me", response_model=UserOut, summary="The signed-in user")
async def me(principal: CurrentUser, session: Session) -> UserOut:
    return UserOut.model_validate(await _own_row(session, principal.id))


@router.patch(
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


@router.post(
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


@router.get(
    "/me/export",
    response_model=ExportOut,
    summary="Everything held about the caller, as one JSON document",
)
async def export_me(
    principal: CurrentUser, session: Session, settings: SettingsDep
) -> dict[str, Any]:
    user = await _own_row(session, principal.id)
    return await privacy.export(session, settings, user)


@router.delete(
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
