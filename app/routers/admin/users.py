"""Administration of user accounts: who has which role, who may sign in."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from app.deps import Admin, AdminOrAuditor, KVDep, Session, SettingsDep
from app.errors import BadRequest, Forbidden, NotFound, Unauthorized, ValidationFailed, responses
from app.kit.pagination import CursorParam, LimitParam
from app.schemas.admin import AdminUserOut, Role, UserPatchIn, UsersPage
from app.services import user_admin

router = APIRouter(prefix="/v1/admin", tags=["admin"], responses=responses(Unauthorized, Forbidden))


@router.get(
    "/users",
    response_model=UsersPage,
    summary="Users, newest first; filter by role",
    responses=responses(BadRequest),
)
async def list_users(
    principal: AdminOrAuditor,
    session: Session,
    role: Role | None = None,
    limit: LimitParam = 50,
    cursor: CursorParam = None,
) -> UsersPage:
    items, next_cursor = await user_admin.list_users(session, role=role, limit=limit, cursor=cursor)
    return UsersPage(items=[AdminUserOut.model_validate(u) for u in items], next_cursor=next_cursor)


@router.patch(
    "/users/{user_id}",
    response_model=AdminUserOut,
    summary="Change a user's role or disable/enable the account (audited)",
    responses=responses(NotFound, user_admin.SelfChangeRefused, ValidationFailed),
)
async def update_user(
    user_id: Annotated[str, Path(max_length=36)],
    body: UserPatchIn,
    principal: Admin,
    session: Session,
    kv: KVDep,
    settings: SettingsDep,
) -> AdminUserOut:
    user = await user_admin.update_user(
        session,
        kv,
        settings,
        user_id=user_id,
        actor=principal,
        role=body.role,
        is_active=body.is_active,
        merchant_id=body.merchant_id,
    )
    return AdminUserOut.model_validate(user)
