"""The merchant's desk: their incentives, and redemption codes checked and settled at the till."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from app.db import utcnow
from app.deps import KVDep, MerchantOrAdmin, MerchantStaff, Session, SettingsDep
from app.kit.errors import BadRequest, Forbidden, NotFound, Unauthorized, ValidationFailed
from app.kit.pagination import CursorParam, LimitParam
from app.kit.problems import responses
from app.schemas.rewards import (
    IncentiveIn,
    IncentiveOut,
    IncentivePatch,
    IncentivesPage,
    MerchantRedemptionLookupOut,
    MerchantRedemptionOut,
    MerchantRedemptionsPage,
    RedemptionStatus,
    VerifyIn,
)
from app.services.rewards import incentives as incentive_service
from app.services.rewards import merchants as merchant_service
from app.services.rewards import redemption_views, sold_out
from app.services.rewards import redemptions as redemption_service
from app.services.rewards.errors import AlreadyFulfilled, CodeCancelled, CodeExpired

router = APIRouter(
    prefix="/v1/merchant", tags=["merchant"], responses=responses(Unauthorized, Forbidden)
)


@router.post(
    "/incentives",
    status_code=201,
    response_model=IncentiveOut,
    summary="Publish an incentive (staff for their merchant; admins name the merchant)",
    responses=responses(NotFound, ValidationFailed),
)
async def create_incentive(
    body: IncentiveIn, principal: MerchantOrAdmin, session: Session
) -> IncentiveOut:
    incentive = await incentive_service.create_incentive(
        session, actor=principal, data=body.model_dump()
    )
    return IncentiveOut.model_validate(incentive_service.merchant_view(incentive))


@router.patch(
    "/incentives/{incentive_id}",
    response_model=IncentiveOut,
    summary="Change stock, validity window, pause state, title or description",
    responses=responses(NotFound, ValidationFailed),
)
async def update_incentive(
    incentive_id: Annotated[str, Path(max_length=36)],
    body: IncentivePatch,
    principal: MerchantOrAdmin,
    session: Session,
    kv: KVDep,
) -> IncentiveOut:
    incentive = await incentive_service.update_incentive(
        session,
        incentive_id,
        actor=principal,
        changes=body.model_dump(exclude_unset=True),
    )
    sold_out.clear_after_commit(session, kv, [incentive.id])  # stock, window or pause changed
    return IncentiveOut.model_validate(incentive_service.merchant_view(incentive))


@router.get(
    "/incentives",
    response_model=IncentivesPage,
    operation_id="listMerchantIncentives",
    summary="The merchant's incentives, paused and past ones included, newest first",
    responses=responses(BadRequest),
)
async def list_incentives(
    principal: MerchantOrAdmin,
    session: Session,
    merchant_id: Annotated[
        str | None, Query(max_length=36, description="Admins: one merchant (default all)")
    ] = None,
    limit: LimitParam = 50,
    cursor: CursorParam = None,
) -> IncentivesPage:
    merchant = incentive_service.acting_merchant(principal, merchant_id)
    items, next_cursor = await incentive_service.list_for_merchant(session, merchant, limit, cursor)
    return IncentivesPage.model_validate(
        {
            "items": [incentive_service.merchant_view(i) for i in items],
            "next_cursor": next_cursor,
        }
    )


@router.post(
    "/redemptions/verify",
    response_model=MerchantRedemptionOut,
    operation_id="verifyRedemptionCode",
    summary="Verify a code at the till: the points settle to the merchant, once",
    responses=responses(
        NotFound,
        ValidationFailed,
        AlreadyFulfilled,
        CodeCancelled,
        CodeExpired,
    ),
)
async def verify_code(
    body: VerifyIn, principal: MerchantStaff, session: Session, settings: SettingsDep
) -> MerchantRedemptionOut:
    merchant_id = incentive_service.acting_merchant(principal, None)
    assert merchant_id is not None
    await merchant_service.require_active(session, merchant_id)
    redemption = await redemption_service.verify(
        session,
        settings.jwt_key,
        merchant_id=merchant_id,
        staff_id=principal.id,
        raw_code=body.code,
    )
    return MerchantRedemptionOut.model_validate(
        await redemption_views.merchant_view(session, redemption)
    )


@router.post(
    "/redemptions/lookup",
    response_model=MerchantRedemptionLookupOut,
    operation_id="lookupRedemptionCode",
    summary="Check a code at the till without settling it: the redemption and its incentive",
    responses=responses(NotFound, ValidationFailed),
)
async def lookup_code(
    body: VerifyIn, principal: MerchantStaff, session: Session, settings: SettingsDep
) -> MerchantRedemptionLookupOut:
    merchant_id = incentive_service.acting_merchant(principal, None)
    assert merchant_id is not None
    await merchant_service.require_active(session, merchant_id)
    redemption, incentive = await redemption_service.lookup(
        session, settings.jwt_key, merchant_id=merchant_id, raw_code=body.code
    )
    now = utcnow()
    return MerchantRedemptionLookupOut.model_validate(
        {
            **await redemption_views.merchant_view(session, redemption),
            "usable": redemption.status == RedemptionStatus.ISSUED and redemption.expires_at > now,
            "incentive": incentive_service.merchant_view(incentive, now),
        }
    )


@router.get(
    "/redemptions",
    response_model=MerchantRedemptionsPage,
    operation_id="listMerchantRedemptions",
    summary="The merchant's redemptions, newest first, with totals for settlement",
    responses=responses(BadRequest),
)
async def list_redemptions(
    principal: MerchantStaff,
    session: Session,
    status: RedemptionStatus | None = None,
    limit: LimitParam = 50,
    cursor: CursorParam = None,
) -> MerchantRedemptionsPage:
    merchant_id = incentive_service.acting_merchant(principal, None)
    assert merchant_id is not None
    items, next_cursor = await redemption_views.list_for_merchant(
        session, merchant_id, status, limit, cursor
    )
    totals = await redemption_views.merchant_totals(session, merchant_id)
    return MerchantRedemptionsPage.model_validate(
        {"items": items, "next_cursor": next_cursor, "totals": totals}
    )
