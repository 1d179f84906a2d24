from __future__ import annotations

from fastapi import APIRouter

from app.deps import Citizen, Engine, Session
from app.errors import BadRequest, Forbidden, Unauthorized, responses
from app.kit.pagination import CursorParam, LimitParam
from app.schemas.account import AccountOut, LinesPage
from app.services import account as account_service

router = APIRouter(prefix="/v1", tags=["account"], responses=responses(Unauthorized, Forbidden))


@router.get("/account", response_model=AccountOut, summary="The caller's carbon account")
async def get_account(principal: Citizen, engine: Engine) -> AccountOut:
    return AccountOut.model_validate(await account_service.summary(engine, principal.id))


@router.get(
    "/account/transactions",
    response_model=LinesPage,
    summary="The caller's ledger lines, newest first",
    responses=responses(BadRequest),
)
async def get_lines(
    principal: Citizen,
    session: Session,
    limit: LimitParam = 50,
    cursor: CursorParam = None,
) -> LinesPage:
    items, next_cursor = await account_service.lines(session, principal.id, limit, cursor)
    return LinesPage.model_validate({"items": items, "next_cursor": next_cursor})
