"""Administration of merchants, their staff and their incentives."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from app.deps import Admin, AdminOrAuditor, KVDep, Session
from app.kit.errors import BadRequest, Forbidden, NotFound, Unauthorized, ValidationFailed
from app.kit.pagination import CursorParam, LimitParam
from app.kit.problems import responses
from app.schemas.rewards import (
    IncentiveOut,
    MerchantIn,
    MerchantIncentiveIn,
    MerchantOut,
    MerchantPatch,
    MerchantsPage,
    StaffIn,
    StaffOut,
)
from app.services.identity.errors import EmailTaken, WeakPassword
from app.services.rewards import incentives as incentive_service
from app.services.rewards import merchants as merchant_service
from app.services.rewards import sold_out

router = APIRouter(prefix="/v1/admin", tags=["admin"], responses=responses(Unauthorized, Forbidden))


@router.post(
    "/merchants",
    status_code=201,
    response_model=MerchantOut,
    summary="Register a merchant",
    responses=responses(ValidationFailed),
)
async def create_merchant(body: MerchantIn, principal: Admin, session: Session) -> MerchantOut:
    merchant = await merchant_service.create_merchant(session, name=body.name, actor=principal)
    return MerchantOut.model_validate(merchant)


@router.get(
    "/merchants",
    response_model=MerchantsPage,
    summary="Merchants, newest first",
    responses=responses(BadRequest),
)
async def list_merchants(
    principal: AdminOrAuditor,
    session: Session,
    limit: LimitParam = 50,
    cursor: CursorParam = None,
) -> MerchantsPage:
    items, next_cursor = await merchant_service.list_merchants(session, limit, cursor)
    return MerchantsPage.model_validate(
        {"items": [MerchantOut.model_validate(m) for m in items], "next_cursor": next_cursor}
    )


@router.patch(
    "/merchants/{merchant_id}",
    response_model=MerchantOut,
    summary="Rename a merchant, or deactivate it (its incentives leave the catalogue, its "
    "staff cannot verify codes)",
    responses=responses(NotFound, ValidationFailed),
)
async def update_merchant(
    merchant_id: Annotated[str, Path(max_length=36)],
    body: MerchantPatch,
    principal: Admin,
    session: Session,
    kv: KVDep,
) -> MerchantOut:
    changes = body.model_dump(exclude_unset=True)
    merchant = await merchant_service.update_merchant(
        session, merchant_id, changes, actor=principal
    )
    if "active" in changes:
        await sold_out.clear_merchant_after_commit(session, kv, merchant_id)
    return MerchantOut.model_validate(merchant)


@router.post(
    "/merchants/{merchant_id}/staff",
    status_code=201,
    response_model=StaffOut,
    summary="Create a staff account (role merchant) bound to this merchant",
    responses=responses(NotFound, EmailTaken, WeakPassword, ValidationFailed),
)
async def add_staff(
    merchant_id: Annotated[str, Path(max_length=36)],
    body: StaffIn,
    principal: Admin,
    session: Session,
) -> StaffOut:
    user = await merchant_service.add_staff(
        session,
        merchant_id=merchant_id,
        email=body.email,
        password=body.password,
        display_name=body.display_name,
        actor=principal,
    )
    return StaffOut.model_validate(user)


@router.post(
    "/merchants/{merchant_id}/incentives",
    status_code=201,
    response_model=IncentiveOut,
    summary="Publish an incentive for this merchant (audited)",
    description="The same body and answer as `POST /v1/merchant/incentives`, for the merchant "
    "named by the path.",
    responses=responses(NotFound, ValidationFailed),
)
async def create_merchant_incentive(
    merchant_id: Annotated[str, Path(max_length=36)],
    body: MerchantIncentiveIn,
    principal: Admin,
    session: Session,
) -> IncentiveOut:
    incentive = await incentive_service.create_incentive(
        session, actor=principal, data={**body.model_dump(), "merchant_id": merchant_id}
    )
    return IncentiveOut.model_validate(incentive_service.merchant_view(incentive))
