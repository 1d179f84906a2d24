from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter

from app.db import utcnow
from app.deps import Session
from app.errors import NotFound, responses
from app.rules import registry
from app.schemas.methodologies import MethodologyDetailOut, MethodologyList
from app.services import methodologies

router = APIRouter(prefix="/v1", tags=["methodologies"])


@router.get(
    "/methodologies",
    response_model=MethodologyList,
    summary="Active methodologies with their input schemas",
)
async def list_methodologies(session: Session) -> dict[str, Any]:
    now = utcnow()
    items = []
    for m in registry.all_methodologies():
        current = await methodologies.version_in_force(session, m, now)
        items.append(methodologies.describe(m, current))
    return {"items": items}


@router.get(
    "/methodologies/{code}",
    response_model=MethodologyDetailOut,
    summary="One methodology with its current parameters",
    responses=responses(NotFound),
)
async def get_methodology(code: str, session: Session) -> dict[str, Any]:
    m = methodologies.get_methodology(code)
    current = await methodologies.version_in_force(session, m, utcnow())
    return {
        **methodologies.describe(m, current),
        "params": json.loads(current.version.params),
        "params_schema": m.Params.model_json_schema(),
    }
