from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.deps import Admin, AdminOrAuditor, Session, SettingsDep
from app.errors import Forbidden, Unauthorized, ValidationFailed, responses
from app.schemas.partners import PartnerCreatedOut, PartnerIn, PartnerList, PartnerOut
from app.services import partners

router = APIRouter(prefix="/v1/admin", tags=["admin"], responses=responses(Unauthorized, Forbidden))


@router.post(
    "/partners",
    status_code=201,
    response_model=PartnerCreatedOut,
    summary="Register a data partner: key id and secret (the secret is shown once)",
    responses=responses(ValidationFailed),
)
async def create_partner(
    body: PartnerIn, principal: Admin, session: Session, settings: SettingsDep
) -> dict[str, Any]:
    partner, secret = await partners.create(
        session,
        settings,
        name=body.name,
        allowed_types=body.allowed_types,
        actor_id=principal.id,
        actor_role=principal.role,
    )
    return {**PartnerOut.model_validate(partner).model_dump(), "secret": secret}


@router.get("/partners", response_model=PartnerList, summary="Data partners (never their secrets)")
async def list_partners(principal: AdminOrAuditor, session: Session) -> dict[str, Any]:
    return {"items": [PartnerOut.model_validate(p) for p in await partners.list_partners(session)]}
