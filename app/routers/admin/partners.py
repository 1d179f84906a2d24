from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from app.deps import Admin, AdminOrAuditor, Session, SettingsDep
from app.errors import Forbidden, NotFound, Unauthorized, ValidationFailed, responses
from app.schemas.partners import (
    PartnerCreatedOut,
    PartnerIn,
    PartnerList,
    PartnerOut,
    PartnerPatch,
)
from app.services import partners

router = APIRouter(prefix="/v1/admin", tags=["admin"], responses=responses(Unauthorized, Forbidden))

PartnerId = Annotated[str, Path(max_length=36)]


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
        link_confirmation=body.link_confirmation,
        refs_case_sensitive=body.refs_case_sensitive,
        actor_id=principal.id,
        actor_role=principal.role,
    )
    return {**PartnerOut.model_validate(partner).model_dump(), "secret": secret}


@router.get("/partners", response_model=PartnerList, summary="Data partners (never their secrets)")
async def list_partners(principal: AdminOrAuditor, session: Session) -> dict[str, Any]:
    return {"items": [PartnerOut.model_validate(p) for p in await partners.list_partners(session)]}


@router.get(
    "/partners/{partner_id}",
    response_model=PartnerOut,
    summary="One data partner (never its secret)",
    responses=responses(NotFound),
)
async def get_partner(
    partner_id: PartnerId, principal: AdminOrAuditor, session: Session
) -> PartnerOut:
    return PartnerOut.model_validate(await partners.get(session, partner_id))


@router.patch(
    "/partners/{partner_id}",
    response_model=PartnerOut,
    summary="Deactivate or reactivate a partner, change what it may submit or its link rule",
    responses=responses(NotFound, ValidationFailed),
)
async def update_partner(
    partner_id: PartnerId, body: PartnerPatch, principal: Admin, session: Session
) -> PartnerOut:
    partner = await partners.update(
        session,
        partner_id,
        body.model_dump(exclude_unset=True),
        actor_id=principal.id,
        actor_role=principal.role,
    )
    return PartnerOut.model_validate(partner)


@router.post(
    "/partners/{partner_id}/rotate",
    response_model=PartnerCreatedOut,
    summary="A new secret for the partner, shown once; the old one stops working at once",
    responses=responses(NotFound),
)
async def rotate_partner_secret(
    partner_id: PartnerId, principal: Admin, session: Session, settings: SettingsDep
) -> dict[str, Any]:
    partner, secret = await partners.rotate(
        session, settings, partner_id, actor_id=principal.id, actor_role=principal.role
    )
    return {**PartnerOut.model_validate(partner).model_dump(), "secret": secret}
