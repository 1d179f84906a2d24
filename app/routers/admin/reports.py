"""Reports on verified reductions, as JSON or CSV."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import AwareDatetime

from app.deps import AdminOrAuditor, Session
from app.errors import Forbidden, Unauthorized, ValidationFailed, responses
from app.schemas.admin import GroupBy, ReportOut
from app.services import reports

router = APIRouter(prefix="/v1/admin", tags=["admin"], responses=responses(Unauthorized, Forbidden))

_CSV_EXAMPLE = (
    "key,records,reduction_g,points\r\n"
    "cycling,3,360,360\r\n"
    "transit.metro,2,1401,1401\r\n"
    "totals,5,1761,1761\r\n"
)


def _wants_csv(request: Request) -> bool:
    return "text/csv" in request.headers.get("accept", "").lower()


@router.get(
    "/reports/reductions",
    response_model=ReportOut,
    summary="Verified reductions of credited records by methodology, region or day",
    description="Credited, non-reversed records with `from <= occurred_at < to`. "
    "`day` is the record's local day in the platform's time zone. Send `Accept: text/csv` "
    "for CSV: a header row, the same rows, then a `totals` row.",
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}, "example": _CSV_EXAMPLE}}},
        **responses(ValidationFailed),
    },
)
async def reductions(
    request: Request,
    principal: AdminOrAuditor,
    session: Session,
    start: Annotated[AwareDatetime, Query(alias="from")],
    end: Annotated[AwareDatetime, Query(alias="to")],
    group_by: GroupBy = "methodology",
) -> ReportOut | Response:
    report = await reports.reductions(session, start=start, end=end, group_by=group_by)
    if _wants_csv(request):
        return Response(
            reports.to_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="reductions-by-{group_by}.csv"'},
        )
    return ReportOut.model_validate(report)
