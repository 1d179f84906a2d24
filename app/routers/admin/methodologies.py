from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from app.deps import Admin, AdminOrAuditor, Session
from app.errors import Forbidden, NotFound, Unauthorized, ValidationFailed, responses
from app.schemas.admin import SimulateIn, SimulateOut, VersionIn, VersionOut, VersionsOut
from app.services import tuning
from app.services.methodologies import get_methodology, list_versions

router = APIRouter(prefix="/v1/admin", tags=["admin"], responses=responses(Unauthorized, Forbidden))

Code = Annotated[str, Path(max_length=64, description="Methodology code, e.g. transit.metro")]


@router.get(
    "/methodologies/{code}/versions",
    response_model=VersionsOut,
    summary="Every parameter version of a methodology, oldest first",
    responses=responses(NotFound),
)
async def versions(code: Code, principal: AdminOrAuditor, session: Session) -> dict[str, Any]:
    get_methodology(code)
    return {"items": [tuning.version_view(v) for v in await list_versions(session, code)]}


@router.post(
    "/methodologies/{code}/versions",
    status_code=201,
    response_model=VersionOut,
    summary="Publish a new parameter version, effective now or later",
    responses=responses(NotFound, ValidationFailed),
)
async def create_version(
    code: Code, body: VersionIn, principal: Admin, session: Session
) -> dict[str, Any]:
    version = await tuning.create_version(
        session,
        code=code,
        raw_params=body.params,
        effective_from=body.effective_from,
        note=body.note,
        actor=principal,
    )
    return tuning.version_view(version)


@router.post(
    "/methodologies/{code}/simulate",
    response_model=SimulateOut,
    summary="Re-run stored records with proposed parameters; changes nothing",
    responses=responses(NotFound, ValidationFailed),
)
async def simulate(
    code: Code, body: SimulateIn, principal: Admin, session: Session
) -> dict[str, Any]:
    return await tuning.simulate(session, code, body.params, body.start, body.end)
