"""Public-good projects and donations: administrators publish projects, citizens donate
whole units of them with their points and receive a certificate."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from app.deps import Admin, Citizen, CurrentUser, IdempotencyKey, Session
from app.kit.errors import (
    BadRequest,
    Forbidden,
    IdempotencyConflict,
    NotFound,
    Unauthorized,
    ValidationFailed,
)
from app.kit.pagination import CursorParam, LimitParam
from app.kit.problems import responses
from app.schemas.communities.donations import (
    DonationIn,
    DonationOut,
    DonationsPage,
    ProjectIn,
    ProjectOut,
    ProjectPatch,
    ProjectsPage,
)
from app.services.communities import donations as service
from app.services.communities.errors import ProjectClosed, TargetReached
from app.services.ledger.errors import InsufficientPoints

router = APIRouter(prefix="/v1", tags=["donations"], responses=responses(Unauthorized))


@router.post(
    "/admin/projects",
    status_code=201,
    response_model=ProjectOut,
    summary="Publish a public-good project (e.g. one tree = 500 points)",
    responses=responses(Forbidden, ValidationFailed),
)
async def create_project(body: ProjectIn, principal: Admin, session: Session) -> ProjectOut:
    project = await service.create_project(session, actor=principal, data=body.model_dump())
    return ProjectOut.model_validate(service.project_view(project))


@router.patch(
    "/admin/projects/{project_id}",
    response_model=ProjectOut,
    summary="Open or close a project for donations",
    responses=responses(Forbidden, NotFound, ValidationFailed),
)
async def update_project(
    project_id: Annotated[str, Path(max_length=36)],
    body: ProjectPatch,
    principal: Admin,
    session: Session,
) -> ProjectOut:
    project = await service.set_active(
        session, actor=principal, project_id=project_id, active=body.active
    )
    return ProjectOut.model_validate(service.project_view(project))


@router.get(
    "/projects",
    response_model=ProjectsPage,
    summary="Public-good projects with their progress, newest first",
    responses=responses(BadRequest),
)
async def list_projects(
    principal: CurrentUser, session: Session, limit: LimitParam = 50, cursor: CursorParam = None
) -> ProjectsPage:
    items, next_cursor = await service.list_projects(session, limit, cursor)
    return ProjectsPage.model_validate(
        {"items": [service.project_view(p) for p in items], "next_cursor": next_cursor}
    )


@router.post(
    "/donations",
    status_code=201,
    response_model=DonationOut,
    summary="Donate whole units to a project: the points leave your balance, once per key",
    description=(
        "201 with the new donation and its certificate; 200 with the same body when the "
        "`Idempotency-Key` was already used by the caller for the same donation."
    ),
    responses={
        200: {"model": DonationOut, "description": "Replay of an earlier request"},
        **responses(
            Forbidden,
            NotFound,
            InsufficientPoints,
            ProjectClosed,
            TargetReached,
            IdempotencyConflict,
            ValidationFailed,
        ),
    },
)
async def donate(
    body: DonationIn,
    principal: Citizen,
    session: Session,
    response: Response,
    idempotency_key: IdempotencyKey,
) -> DonationOut:
    done = await service.donate(
        session,
        user_id=principal.id,
        project_id=body.project_id,
        units=body.units,
        idempotency_key=idempotency_key,
    )
    if not done.created:
        response.status_code = 200
    return DonationOut.model_validate(service.donation_view(done.donation, done.project))


@router.get(
    "/donations",
    response_model=DonationsPage,
    summary="The caller's donations with their certificates, newest first",
    responses=responses(Forbidden, BadRequest),
)
async def list_donations(
    principal: Citizen, session: Session, limit: LimitParam = 50, cursor: CursorParam = None
) -> DonationsPage:
    items, next_cursor = await service.list_donations(session, principal.id, limit, cursor)
    return DonationsPage.model_validate({"items": items, "next_cursor": next_cursor})
