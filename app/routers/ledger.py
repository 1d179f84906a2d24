"""The ledger over HTTP: the citizen's carbon account and its lines, and the administrators'
ledger check."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from app.deps import AdminOrAuditor, Citizen, Engine, Session, SettingsDep
from app.kit.errors import BadRequest, Forbidden, Unauthorized, ValidationFailed
from app.kit.pagination import CursorParam, LimitParam
from app.kit.problems import responses
from app.kit.times import DayOrInstant, range_end, range_start
from app.schemas.ledger import AccountOut, CheckpointsPage, LedgerCheckOut, LinesPage, StatsOut
from app.services.ledger import checkpoints, statement
from app.services.ledger.check import check
from app.services.ledger.verification import export_stream
from app.services.records import stats

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


@account_routes.get(
    "/account/stats",
    response_model=StatsOut,
    operation_id="getAccountStats",
    summary="The caller's credited reductions and points per day or month and methodology",
    description="Credited, unreversed records with `from <= occurred_at < to`. A date in "
    "`from` or `to` is that whole local day in the platform's time zone; periods are local "
    "days or months there too.",
    responses=responses(ValidationFailed),
)
async def get_stats(
    principal: Citizen,
    session: Session,
    settings: SettingsDep,
    start: Annotated[DayOrInstant | None, Query(alias="from")] = None,
    end: Annotated[DayOrInstant | None, Query(alias="to")] = None,
    group_by: stats.GroupBy = "day",
) -> StatsOut:
    lower = range_start(start, settings.tz) if start is not None else None
    upper = range_end(end, settings.tz) if end is not None else None
    if lower is not None and upper is not None and lower >= upper:
        raise ValidationFailed(
            "'from' must be before 'to'.",
            errors=[{"field": "from", "message": "must be before 'to'", "type": "range"}],
        )
    items = await stats.citizen_stats(
        session, principal.id, start=lower, end=upper, group_by=group_by
    )
    return StatsOut.model_validate({"items": items})


admin_routes = APIRouter(
    prefix="/v1/admin", tags=["admin"], responses=responses(Unauthorized, Forbidden)
)


@admin_routes.get(
    "/ledger/check",
    response_model=LedgerCheckOut,
    response_model_exclude_none=True,
    operation_id="checkLedger",
    summary="Recompute every balance from the entries and report any difference",
)
async def ledger_check(principal: AdminOrAuditor, session: Session) -> LedgerCheckOut:
    return LedgerCheckOut.model_validate(await check(session))


@admin_routes.get(
    "/ledger/checkpoints",
    response_model=CheckpointsPage,
    summary="Hash checkpoints over the ledger, oldest first, each chained to the previous",
    responses=responses(BadRequest),
)
async def list_checkpoints(
    principal: AdminOrAuditor, session: Session, limit: LimitParam = 50, cursor: CursorParam = None
) -> CheckpointsPage:
    items, next_cursor = await checkpoints.page(session, limit, cursor)
    return CheckpointsPage.model_validate({"items": items, "next_cursor": next_cursor})


SeqParam = Annotated[int | None, Query(ge=1, le=2**63 - 1)]


@admin_routes.get(
    "/ledger/export",
    summary="The ledger as JSON Lines (transactions, entries, hashes, checkpoints), "
    "verifiable offline with `tanhui verify-export`",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {
                "application/x-ndjson": {
                    "schema": {
                        "type": "string",
                        "description": "JSON Lines: a header, then each transaction with its "
                        "entries and hashes, and each checkpoint, in sequence order",
                    }
                }
            },
            "description": "One JSON item a line",
        },
        **responses(ValidationFailed),
    },
)
async def export_ledger(
    principal: AdminOrAuditor,
    engine: Engine,
    from_seq: SeqParam = None,
    to_seq: SeqParam = None,
) -> StreamingResponse:
    if from_seq is not None and to_seq is not None and from_seq > to_seq:
        raise ValidationFailed(
            "from_seq is after to_seq.", errors=[{"field": "to_seq", "message": "before from_seq"}]
        )

    return StreamingResponse(
        export_stream(engine, from_seq, to_seq),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": 'attachment; filename="ledger.jsonl"'},
    )


router = APIRouter()
router.include_router(account_routes)
router.include_router(admin_routes)
