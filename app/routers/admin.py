"""Administration over HTTP: user accounts, the audit log and reports."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from app.deps import Admin, AdminOrAuditor, KVDep, Session, SettingsDep
from app.kit.errors import BadRequest, Forbidden, NotFound, Unauthorized, ValidationFailed
from app.kit.pagination import CursorParam, LimitParam
from app.kit.problems import responses
from app.kit.times import DayOrInstant, range_end, range_start
from app.schemas.admin import (
    AdminUserOut,
    AuditOut,
    AuditPage,
    GroupBy,
    ReportOut,
    Role,
    UserPatchIn,
    UsersPage,
)
from app.services.admin import reports, user_management
from app.services.admin.audit import AuditFilter, list_entries

user_routes = APIRouter(
    prefix="/v1/admin", tags=["admin"], responses=responses(Unauthorized, Forbidden)
)


@user_routes.get(
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
    items, next_cursor = await user_management.list_users(
        session, role=role, limit=limit, cursor=cursor
    )
    return UsersPage(items=[AdminUserOut.model_validate(u) for u in items], next_cursor=next_cursor)


@user_routes.patch(
    "/users/{user_id}",
    response_model=AdminUserOut,
    summary="Change a user's role or disable/enable the account (audited)",
    responses=responses(NotFound, user_management.SelfChangeRefused, ValidationFailed),
)
async def update_user(
    user_id: Annotated[str, Path(max_length=36)],
    body: UserPatchIn,
    principal: Admin,
    session: Session,
    kv: KVDep,
    settings: SettingsDep,
) -> AdminUserOut:
    user = await user_management.update_user(
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


audit_routes = APIRouter(
    prefix="/v1/admin", tags=["admin"], responses=responses(Unauthorized, Forbidden)
)


@audit_routes.get(
    "/audit",
    response_model=AuditPage,
    operation_id="listAuditLog",
    summary="Administrative acts, newest first, filtered",
    responses=responses(BadRequest),
)
async def list_audit(
    principal: AdminOrAuditor,
    session: Session,
    settings: SettingsDep,
    action: Annotated[str | None, Query(max_length=64)] = None,
    actor_id: Annotated[str | None, Query(max_length=36)] = None,
    target_type: Annotated[str | None, Query(max_length=32)] = None,
    target_id: Annotated[str | None, Query(max_length=80)] = None,
    start: Annotated[
        DayOrInstant | None, Query(alias="from", description="created_at >= from")
    ] = None,
    end: Annotated[DayOrInstant | None, Query(alias="to", description="created_at < to")] = None,
    limit: LimitParam = 50,
    cursor: CursorParam = None,
) -> AuditPage:
    flt = AuditFilter(
        action=action,
        actor_id=actor_id,
        target_type=target_type,
        target_id=target_id,
        start=range_start(start, settings.tz) if start is not None else None,
        end=range_end(end, settings.tz) if end is not None else None,
    )
    items, next_cursor = await list_entries(session, flt, limit, cursor)
    return AuditPage(items=[AuditOut.model_validate(e) for e in items], next_cursor=next_cursor)


report_routes = APIRouter(
    prefix="/v1/admin", tags=["admin"], responses=responses(Unauthorized, Forbidden)
)

_CSV_EXAMPLE = (
    "key,records,reduction_g,points\r\n"
    "cycling,3,360,360\r\n"
    "transit.metro,2,1401,1401\r\n"
    "totals,5,1761,1761\r\n"
)


def _wants_csv(request: Request) -> bool:
    return "text/csv" in request.headers.get("accept", "").lower()


@report_routes.get(
    "/reports/reductions",
    response_model=ReportOut,
    operation_id="getReductionsReport",
    summary="Verified reductions of credited records by methodology, region or day",
    description="Credited, non-reversed records with `from <= occurred_at < to`. "
    "`day` is the record's local day in the platform's time zone. Send `Accept: text/csv` "
    "for CSV: a header row, the same rows, then a `totals` row.",
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}, "example": _CSV_EXAMPLE}}},
        **responses(ValidationFailed),
    },
)
async def reductions(
    request: Request,
    principal: AdminOrAuditor,
    session: Session,
    settings: SettingsDep,
    start: Annotated[DayOrInstant, Query(alias="from")],
    end: Annotated[DayOrInstant, Query(alias="to")],
    group_by: GroupBy = "methodology",
) -> ReportOut | Response:
    report = await reports.reductions(
        session,
        start=range_start(start, settings.tz),
        end=range_end(end, settings.tz),
        group_by=group_by,
    )
    if _wants_csv(request):
        return Response(
            reports.to_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="reductions-by-{group_by}.csv"'},
        )
    return ReportOut.model_validate(report)


router = APIRouter()
router.include_router(user_routes)
router.include_router(audit_routes)
router.include_router(report_routes)
