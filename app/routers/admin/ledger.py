from __future__ import annotations

from fastapi import APIRouter

from app.deps import AdminOrAuditor, Session
from app.errors import Forbidden, Unauthorized, responses
from app.schemas.account import LedgerCheckOut
from app.services.ledger.check import check

router = APIRouter(prefix="/v1/admin", tags=["admin"], responses=responses(Unauthorized, Forbidden))


@router.get(
    "/ledger/check",
    response_model=LedgerCheckOut,
    summary="Recompute every balance from the entries and report any difference",
)
async def ledger_check(principal: AdminOrAuditor, session: Session) -> LedgerCheckOut:
    return LedgerCheckOut.model_validate(await check(session))
