"""The ledger over HTTP: the citizen's carbon account and its lines, and the administrators'
ledger check."""

from __future__ import annotations

from fastapi import APIRouter

from app.deps import AdminOrAuditor, Citizen, Engine, Session
from app.kit.errors import BadRequest, Forbidden, Unauthorized
from app.kit.pagination import CursorParam, LimitParam
from app.kit.problems import responses
from app.schemas.ledger import AccountOut, LedgerCheckOut, LinesPage
from app.services.ledger import statement
from app.services.ledger.check import check

account_routes = APIRouter(
    prefix="/v1", tags=["account"], responses=responses(Unauthorized, Forbidden)
)


@account_routes.get("/account", response_model=AccountOut, summary="The caller's carbon account")
async def get_account(principal: Citizen, engine: Engine) -> AccountOut:
    return AccountOut.model_validate(await statement.summary(engine, principal.id))


@account_routes.get(
    "/account/transactions",
    response_model=LinesPage,
    operation_id="listTransactions",
    summary="The caller's ledger lines, newest first",
    responses=responses(BadRequest),
)
async def get_lines(
    principal: Citizen,
    session: Session,
    limit: LimitParam = 50,
    cursor: CursorParam = None,
) -> LinesPage:
    items, next_cursor = await statement.lines(session, principal.id, limit, cursor)
    return LinesPage.model_validate({"items": items, "next_cursor": next_cursor})


admin_routes = APIRouter(
    prefix="/v1/admin", tags=["admin"], responses=responses(Unauthorized, Forbidden)
)


@admin_routes.get(
    "/ledger/check",
    response_model=LedgerCheckOut,
    operation_id="checkLedger",
    summary="Recompute every balance from the entries and report any difference",
)
async def ledger_check(principal: AdminOrAuditor, session: Session) -> LedgerCheckOut:
    return LedgerCheckOut.model_validate(await check(session))


router = APIRouter()
router.include_router(account_routes)
router.include_router(admin_routes)
