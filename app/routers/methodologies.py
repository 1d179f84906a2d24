"""Methodologies over HTTP: the public catalogue, and administrators' dated parameter
versions and simulations."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path

from app.db import utcnow
from app.deps import Admin, AdminOrAuditor, Session
from app.kit.errors import Forbidden, NotFound, Unauthorized, ValidationFailed
from app.kit.problems import responses
from app.rules import registry
from app.schemas.methodologies import (
    MethodologyDetailOut,
    MethodologyList,
    SimulateIn,
    SimulateOut,
    VersionIn,
    VersionOut,
    VersionsOut,
)
from app.services.methodologies import tuning
from app.services.methodologies import versions as in_force

public_routes = APIRouter(prefix="/v1", tags=["methodologies"])


@public_routes.get(
    "/methodologies",
    response_model=MethodologyList,
    summary="Active methodologies with their input schemas",
)
async def list_methodologies(session: Session) -> dict[str, Any]:
    now = utcnow()
    items = []
    for m in registry.all_methodologies():
        current = await in_force.version_in_force(session, m, now)
        items.append(in_force.describe(m, current))
    return {"items": items}


@public_routes.get(
    "/methodologies/{code}",
    response_model=MethodologyDetailOut,
    summary="One methodology with its current parameters",
    responses=responses(NotFound),
)
async def get_methodology(code: str, session: Session) -> dict[str, Any]:
    m = in_force.get_methodology(code)
    current = await in_force.version_in_force(session, m, utcnow())
    return {
        **in_force.describe(m, current),
        "params": json.loads(current.version.params),
        "params_schema": m.Params.model_json_schema(),
    }


admin_routes = APIRouter(
    prefix="/v1/admin", tags=["admin"], responses=responses(Unauthorized, Forbidden)
)

Code = Annotated[str, Path(max_length=64, description="Methodology code, e.g. transit.metro")]


@admin_routes.get(
    "/methodologies/{code}/versions",
    response_model=VersionsOut,
    operation_id="listMethodologyVersions",
    summary="Every parameter version of a methodology, oldest first",
    responses=responses(NotFound),
)
async def versions(code: Code, principal: AdminOrAuditor, session: Session) -> dict[str, Any]:
    in_force.get_methodology(code)
    rows = await in_force.list_versions(session, code)
    return {"items": [tuning.version_view(v) for v in rows]}


@admin_routes.post(
    "/methodologies/{code}/versions",
    status_code=201,
    response_model=VersionOut,
    operation_id="createMethodologyVersion",
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


@admin_routes.post(
    "/methodologies/{code}/simulate",
    response_model=SimulateOut,
    operation_id="simulateMethodology",
    summary="Re-run stored records with proposed parameters; changes nothing",
    responses=responses(NotFound, ValidationFailed),
)
async def simulate(
    code: Code, body: SimulateIn, principal: Admin, session: Session
) -> dict[str, Any]:
    return await tuning.simulate(session, code, body.params, body.start, body.end)


router = APIRouter()
router.include_router(public_routes)
router.include_router(admin_routes)
