"""The citizen's side of rewards: the catalogue, redeeming, and their redemption codes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from app.deps import Citizen, CurrentUser, IdempotencyKey, KVDep, Session, SettingsDep
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
from app.schemas.rewards import PublicIncentivesPage, RedemptionIn, RedemptionOut, RedemptionsPage
from app.services.ledger.errors import InsufficientPoints
from app.services.rewards import incentives as incentive_service
from app.services.rewards import redemption_views
from app.services.rewards import redemptions as redemption_service
from app.services.rewards.errors import (
    AlreadyFulfilled,
    CodeCancelled,
    CodeExpired,
    IncentiveInactive,
    LimitReached,
    OutOfStock,
)

router = APIRouter(prefix="/v1", tags=["incentives"], responses=responses(Unauthorized))


@router.get(
    "/incentives",
    response_model=PublicIncentivesPage,
    summary="Incentives that can be redeemed now, newest first",
    responses=responses(BadRequest),
)
async def list_incentives(
    principal: CurrentUser, session: Session, limit: LimitParam = 50, cursor: CursorParam = None
) -> PublicIncentivesPage:
    items, next_cursor = await incentive_service.list_active(session, limit, cursor)
    return PublicIncentivesPage.model_validate({"items": items, "next_cursor": next_cursor})


@router.post(
    "/redemptions",
    status_code=201,
    response_model=RedemptionOut,
    summary="Redeem an incentive: hold the points, take a unit, issue a code",
    description=(
        "201 with the new code; 200 with the same body when the `Idempotency-Key` was already "
        "used for this incentive by the caller (a safe retry)."
    ),
    responses={
        200: {
            "model": RedemptionOut,
            "description": "Replay of an earlier request with the same Idempotency-Key",
        },
        **responses(
            Forbidden,
            NotFound,
            InsufficientPoints,
            OutOfStock,
            LimitReached,
            IncentiveInactive,
            IdempotencyConflict,
            ValidationFailed,
        ),
    },
)
async def redeem(
    body: RedemptionIn,
    principal: Citizen,
    request: Request,
    response: Response,
    idempotency_key: IdempotencyKey,
) -> RedemptionOut:
    # Decided with the other requests for this incentive waiting in this worker, in a unit
    # of work of their own: the request needs no session.
    state = request.app.state
    issued = await state.redemption_groups.redeem(principal.id, body.incentive_id, idempotency_key)
    if not issued.created:
        response.status_code = 200
    view = redemption_views.issued_view(state.settings.jwt_key, issued)
    return RedemptionOut.model_validate(view)


@router.get(
    "/redemptions",
    response_model=RedemptionsPage,
    summary="The caller's redemptions, newest first (codes shown while usable)",
    responses=responses(Forbidden, BadRequest),
)
async def list_redemptions(
    principal: Citizen,
    session: Session,
    settings: SettingsDep,
    limit: LimitParam = 50,
    cursor: CursorParam = None,
) -> RedemptionsPage:
    items, next_cursor = await redemption_views.list_for_citizen(
        session, settings.jwt_key, principal.id, limit, cursor
    )
    return RedemptionsPage.model_validate({"items": items, "next_cursor": next_cursor})


@router.post(
    "/redemptions/{redemption_id}/cancel",
    response_model=RedemptionOut,
    summary="Cancel an unused code: the points and the unit go back",
    responses=responses(
        Forbidden,
        NotFound,
        AlreadyFulfilled,
        CodeCancelled,
        CodeExpired,
    ),
)
async def cancel_redemption(
    redemption_id: Annotated[str, Path(max_length=36)],
    principal: Citizen,
    session: Session,
    settings: SettingsDep,
    kv: KVDep,
) -> RedemptionOut:
    redemption = await redemption_service.cancel(
        session, user_id=principal.id, redemption_id=redemption_id, kv=kv
    )
    view = await redemption_views.citizen_view(session, settings.jwt_key, redemption)
    return RedemptionOut.model_validate(view)
