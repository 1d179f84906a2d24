"""Organisations: registered by administrators, joined and left by citizens, with statistics
for their members and administrators, and a leaderboard of organisations."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response

from app.db import utcnow
from app.deps import Admin, Citizen, CurrentUser, Session, SettingsDep
from app.kit.errors import BadRequest, Forbidden, NotFound, Unauthorized, ValidationFailed
from app.kit.pagination import CursorParam, LimitParam
from app.kit.problems import responses
from app.models.communities import OrganisationKind
from app.models.identity import Role
from app.schemas.communities.organisations import (
    AdminOrganisationOut,
    AdminOrganisationsPage,
    JoinIn,
    MembershipOut,
    MembershipsOut,
    OrganisationBoardOut,
    OrganisationIn,
    OrganisationPatch,
    OrganisationsPage,
    OrganisationStatsOut,
)
from app.schemas.identity import REGION_PATTERN
from app.services.communities import organisations as service
from app.services.communities import stats
from app.services.communities.errors import (
    AlreadyMember,
    MembershipLimitReached,
    OrganisationRetired,
)

MAX_STATS_DAYS = 366

router = APIRouter(prefix="/v1", tags=["organisations"], responses=responses(Unauthorized))


@router.post(
    "/admin/organisations",
    status_code=201,
    response_model=AdminOrganisationOut,
    summary="Register an organisation; the answer carries its join code",
    responses=responses(Forbidden, ValidationFailed),
)
async def create_organisation(
    body: OrganisationIn, principal: Admin, session: Session
) -> AdminOrganisationOut:
    org = await service.create(
        session, actor=principal, name=body.name, kind=body.kind, region=body.region
    )
    return AdminOrganisationOut.model_validate(service.view(org, with_code=True))


@router.get(
    "/admin/organisations",
    response_model=AdminOrganisationsPage,
    summary="Every organisation with its join code, retired ones included, newest first",
    responses=responses(Forbidden, BadRequest),
)
async def admin_list_organisations(
    principal: Admin,
    session: Session,
    kind: OrganisationKind | None = None,
    region: Annotated[str | None, Query(pattern=REGION_PATTERN)] = None,
    active: Annotated[
        bool | None, Query(description="true: only active; false: only retired; unset: all")
    ] = None,
    limit: LimitParam = 50,
    cursor: CursorParam = None,
) -> AdminOrganisationsPage:
    items, next_cursor = await service.list_organisations(
        session,
        kind=kind,
        region=region,
        limit=limit,
        cursor=cursor,
        include_retired=True,
        active=active,
    )
    return AdminOrganisationsPage.model_validate(
        {"items": [service.view(o, with_code=True) for o in items], "next_cursor": next_cursor}
    )


@router.patch(
    "/admin/organisations/{organisation_id}",
    response_model=AdminOrganisationOut,
    summary="Rename, retire or reinstate an organisation",
    description=(
        "Only the fields sent change. A retired organisation (`active: false`) accepts no "
        "joins and its join code stops working; its members may leave, and its statistics "
        "and leaderboard places stay readable."
    ),
    responses=responses(Forbidden, NotFound, ValidationFailed),
)
async def update_organisation(
    organisation_id: Annotated[str, Path(max_length=36)],
    body: OrganisationPatch,
    principal: Admin,
    session: Session,
) -> AdminOrganisationOut:
    org = await service.update_organisation(
        session,
        actor=principal,
        organisation_id=organisation_id,
        name=body.name,
        active=body.active,
    )
    return AdminOrganisationOut.model_validate(service.view(org, with_code=True))


@router.get(
    "/admin/organisations/{organisation_id}",
    response_model=AdminOrganisationOut,
    summary="An organisation with its join code",
    responses=responses(Forbidden, NotFound),
)
async def get_organisation(
    organisation_id: Annotated[str, Path(max_length=36)], principal: Admin, session: Session
) -> AdminOrganisationOut:
    org = await service.get(session, organisation_id)
    return AdminOrganisationOut.model_validate(service.view(org, with_code=True))


@router.get(
    "/organisations",
    response_model=OrganisationsPage,
    summary="Organisations that accept members, newest first",
    responses=responses(BadRequest),
)
async def list_organisations(
    principal: CurrentUser,
    session: Session,
    kind: OrganisationKind | None = None,
    region: Annotated[str | None, Query(pattern=REGION_PATTERN)] = None,
    limit: LimitParam = 50,
    cursor: CursorParam = None,
) -> OrganisationsPage:
    items, next_cursor = await service.list_organisations(
        session, kind=kind, region=region, limit=limit, cursor=cursor
    )
    return OrganisationsPage.model_validate(
        {"items": [service.view(o) for o in items], "next_cursor": next_cursor}
    )


@router.post(
    "/me/organisations",
    status_code=201,
    response_model=MembershipOut,
    summary=f"Join an organisation with its join code (at most {service.MAX_MEMBERSHIPS})",
    responses=responses(
        Forbidden, NotFound, AlreadyMember, MembershipLimitReached, OrganisationRetired
    ),
)
async def join(body: JoinIn, principal: Citizen, session: Session) -> MembershipOut:
    joined = await service.join(session, user_id=principal.id, join_code=body.join_code)
    return MembershipOut.model_validate(service.membership_view(joined))


@router.get(
    "/me/organisations",
    response_model=MembershipsOut,
    summary="The organisations the caller belongs to",
    responses=responses(Forbidden),
)
async def my_organisations(principal: Citizen, session: Session) -> MembershipsOut:
    joined = await service.my_memberships(session, principal.id)
    return MembershipsOut.model_validate({"items": [service.membership_view(j) for j in joined]})


@router.delete(
    "/me/organisations/{organisation_id}",
    status_code=204,
    summary="Leave an organisation; what you did as a member stays in its statistics",
    responses=responses(Forbidden, NotFound),
)
async def leave(
    organisation_id: Annotated[str, Path(max_length=36)], principal: Citizen, session: Session
) -> Response:
    await service.leave(session, user_id=principal.id, organisation_id=organisation_id)
    return Response(status_code=204)


@router.get(
    "/organisations/{organisation_id}/stats",
    response_model=OrganisationStatsOut,
    summary="Members, reductions and points per period and methodology (members and admins)",
    description=(
        "Counts the credited records of members that occurred while they were members: "
        "joining later does not bring earlier records, leaving does not take any away. "
        "`from` and `to` are local days, both included (default: the last 30 days)."
    ),
    responses=responses(Forbidden, NotFound, ValidationFailed),
)
async def organisation_stats(
    organisation_id: Annotated[str, Path(max_length=36)],
    principal: CurrentUser,
    session: Session,
    settings: SettingsDep,
    from_: Annotated[date | None, Query(alias="from")] = None,
    to: date | None = None,
    group_by: Literal["day", "month"] = "day",
) -> OrganisationStatsOut:
    org = await service.get(session, organisation_id)
    if principal.role not in (Role.ADMIN, Role.AUDITOR) and not await service.is_member(
        session, principal.id, org.id
    ):
        raise Forbidden("Only the organisation's members and administrators see its statistics.")
    end = to or utcnow().astimezone(settings.tz).date()
    start = from_ or end - timedelta(days=29)
    if start > end or (end - start).days >= MAX_STATS_DAYS:
        raise ValidationFailed(
            f"from must not be after to, and the range at most {MAX_STATS_DAYS} days.",
            errors=[{"field": "from", "message": "outside the allowed range"}],
        )
    body = await stats.organisation_stats(session, org, start, end, group_by, settings.tz)
    return OrganisationStatsOut.model_validate(body)


@router.get(
    "/leaderboards/organisations/{period}",
    response_model=OrganisationBoardOut,
    summary="Organisations ranked by their members' verified reductions in the period",
)
async def organisation_board(
    period: Literal["day", "week", "month", "all"],
    principal: CurrentUser,
    session: Session,
    settings: SettingsDep,
    kind: OrganisationKind | None = None,
    region: Annotated[str | None, Query(pattern=REGION_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> OrganisationBoardOut:
    body = await stats.leaderboard(
        session,
        period=period,
        today=utcnow().astimezone(settings.tz).date(),
        kind=kind,
        region=region,
        limit=limit,
    )
    return OrganisationBoardOut.model_validate(body)
