"""Records over HTTP. The API calls a record an "event" (``/v1/events``); the code says
record. A citizen's records, the leaderboards, and administrators' review and clawback."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query, Request, Response

from app.db import utcnow
from app.deps import (
    Admin,
    AdminOrAuditor,
    Citizen,
    CurrentUser,
    KVDep,
    Session,
    SettingsDep,
)
from app.kit.batches import item_result, parse_item
from app.kit.errors import (
    BadRequest,
    Forbidden,
    IdempotencyConflict,
    InvalidState,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
    ValidationFailed,
)
from app.kit.inputs import ITEMS_CHECKED_ALONE
from app.kit.pagination import CursorParam, LimitParam
from app.kit.problems import responses
from app.models import Record
from app.models.records import RecordStatus
from app.schemas.identity import REGION_PATTERN
from app.schemas.records import (
    AdminRecordDetailOut,
    AdminRecordOut,
    AdminRecordsPage,
    ApproveIn,
    BatchIn,
    BatchOut,
    LeaderboardOut,
    ReasonIn,
    RebuildOut,
    RecordDetailOut,
    RecordIn,
    RecordOut,
    RecordsPage,
    ReviewPage,
)
from app.services.methodologies.errors import UnknownType
from app.services.records import decisions, group_commit, intake, leaderboards
from app.services.records import views as record_views
from app.services.records.errors import AlreadyReversed

record_routes = APIRouter(
    prefix="/v1", tags=["events"], responses=responses(Unauthorized, Forbidden)
)


@record_routes.post(
    "/events",
    status_code=201,
    response_model=RecordOut,
    operation_id="postEvent",
    summary="Post one behaviour record (idempotent per client_event_id)",
    responses={
        200: {"description": "A replay: the stored result, unchanged", "model": RecordOut},
        **responses(IdempotencyConflict, UnknownType, ValidationFailed, ServiceUnavailable),
    },
)
async def post_record(
    body: RecordIn, request: Request, response: Response, principal: Citizen
) -> RecordOut:
    # The application's state read here rather than as four dependencies (settings, store,
    # committer, a session that a grouped record never uses): each costs the framework more
    # per request than reading an attribute.
    state = request.app.state
    outcome = await group_commit.ingest_single(
        state.sessionmaker,
        state.settings,
        state.kv,
        getattr(state, "record_committer", None),
        principal.id,
        body,
    )
    if not outcome.created:
        response.status_code = 200
    return RecordOut.model_validate(outcome.record)


@record_routes.post(
    "/events/batch",
    response_model=BatchOut,
    operation_id="postEventBatch",
    summary="Post 1–500 records; each item answered as POST /v1/events would",
    responses=responses(ValidationFailed),
    openapi_extra={ITEMS_CHECKED_ALONE: "events"},
)
async def post_batch(
    body: BatchIn, principal: Citizen, session: Session, kv: KVDep, settings: SettingsDep
) -> dict[str, Any]:
    # The citizen (region, organisations) in the unit of work's first statement.
    user = await intake.citizen(session, principal.id)
    items = [(user, parse_item(raw, RecordIn)) for raw in body.events]
    outcomes = await intake.ingest_many(session, settings, kv, items)
    return {"results": [item_result(o, record_views.item_view) for o in outcomes]}


@record_routes.get(
    "/events",
    response_model=RecordsPage,
    operation_id="listEvents",
    summary="The caller's records, newest first",
    responses=responses(BadRequest),
)
async def list_records(
    principal: Citizen,
    session: Session,
    status: RecordStatus | None = None,
    type: Annotated[str | None, Query(max_length=64)] = None,  # noqa: A002
    limit: LimitParam = 50,
    cursor: CursorParam = None,
) -> RecordsPage:
    rows, next_cursor = await record_views.list_for_user(
        session, principal.id, status=status, code=type, limit=limit, cursor=cursor
    )
    return RecordsPage(items=[RecordOut.model_validate(r) for r in rows], next_cursor=next_cursor)


@record_routes.get(
    "/events/{event_id}",
    response_model=RecordDetailOut,
    operation_id="getEvent",
    summary="One of the caller's records, with the calculation",
    responses=responses(NotFound),
)
async def get_record(event_id: str, principal: Citizen, session: Session) -> RecordDetailOut:
    record = await session.get(Record, event_id)
    if record is None or record.user_id != principal.id:
        raise NotFound(f"No record {event_id}.")
    return RecordDetailOut.model_validate(record)


leaderboard_routes = APIRouter(
    prefix="/v1", tags=["leaderboards"], responses=responses(Unauthorized)
)


@leaderboard_routes.get(
    "/leaderboards/{period}",
    response_model=LeaderboardOut,
    operation_id="getLeaderboard",
    summary="Top citizens by verified reduction, and your rank",
    responses=responses(ServiceUnavailable),
)
async def get_board(
    period: Literal["day", "week", "month", "all"],
    principal: CurrentUser,
    session: Session,
    kv: KVDep,
    settings: SettingsDep,
    region: Annotated[str | None, Query(pattern=REGION_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    return await leaderboards.board(
        session, kv, settings, period, region, principal.id, limit, utcnow()
    )


@leaderboard_routes.post(
    "/admin/leaderboards/rebuild",
    response_model=RebuildOut,
    tags=["admin"],
    operation_id="rebuildLeaderboards",
    summary="Recompute every leaderboard from the credited records",
    responses=responses(Forbidden),
)
async def rebuild(
    principal: Admin, session: Session, kv: KVDep, settings: SettingsDep
) -> dict[str, Any]:
    rows = await leaderboards.rebuild(session, kv, settings, actor=principal)
    return {"rebuilt_from_rows": rows}


review_routes = APIRouter(
    prefix="/v1/admin", tags=["admin"], responses=responses(Unauthorized, Forbidden)
)

RecordId = Annotated[str, Path(max_length=36)]


@review_routes.get(
    "/review",
    response_model=ReviewPage,
    operation_id="listReviewQueue",
    summary="Records waiting for review, oldest received first",
    responses=responses(BadRequest),
)
async def list_review(
    principal: AdminOrAuditor,
    session: Session,
    limit: LimitParam = 50,
    cursor: CursorParam = None,
) -> ReviewPage:
    items, next_cursor = await decisions.list_pending(session, limit, cursor)
    return ReviewPage(
        items=[AdminRecordOut.model_validate(r) for r in items],
        next_cursor=next_cursor,
    )


@review_routes.get(
    "/events",
    response_model=AdminRecordsPage,
    operation_id="listCitizenEvents",
    summary="One citizen's records, newest received first",
    description="For administrators and auditors: every record of the citizen `user_id`, "
    "whatever its status, filtered by `status` and `type`. An unknown id gives an empty list.",
    responses=responses(BadRequest),
)
async def list_citizen_records(
    principal: AdminOrAuditor,
    session: Session,
    user_id: Annotated[str, Query(min_length=1, max_length=36, description="The citizen's id")],
    status: RecordStatus | None = None,
    type: Annotated[str | None, Query(max_length=64)] = None,  # noqa: A002
    limit: LimitParam = 50,
    cursor: CursorParam = None,
) -> AdminRecordsPage:
    rows, next_cursor = await record_views.list_for_user(
        session, user_id, status=status, code=type, limit=limit, cursor=cursor
    )
    return AdminRecordsPage(
        items=[AdminRecordOut.model_validate(r) for r in rows], next_cursor=next_cursor
    )


@review_routes.get(
    "/events/{record_id}",
    response_model=AdminRecordDetailOut,
    summary="Any record by id, with its full calculation",
    responses=responses(NotFound),
)
async def get_any_record(
    record_id: RecordId, principal: AdminOrAuditor, session: Session
) -> AdminRecordDetailOut:
    record = await decisions.get(session, record_id)
    return AdminRecordDetailOut.model_validate(record)


@review_routes.post(
    "/events/{record_id}/approve",
    response_model=AdminRecordOut,
    operation_id="approveEvent",
    summary="Approve a pending record: credit it as of now (daily cap applies)",
    responses=responses(NotFound, InvalidState),
)
async def approve(
    record_id: RecordId,
    principal: Admin,
    session: Session,
    settings: SettingsDep,
    kv: KVDep,
    body: Annotated[ApproveIn | None, Body()] = None,
) -> AdminRecordOut:
    record = await decisions.approve(
        session,
        settings,
        record_id=record_id,
        actor=principal,
        note=body.note if body else None,
        kv=kv,
    )
    return AdminRecordOut.model_validate(record)


@review_routes.post(
    "/events/{record_id}/reject",
    response_model=AdminRecordOut,
    operation_id="rejectEvent",
    summary="Reject a pending record, with the reason",
    responses=responses(NotFound, InvalidState),
)
async def reject(
    record_id: RecordId, body: ReasonIn, principal: Admin, session: Session
) -> AdminRecordOut:
    record = await decisions.reject(
        session, record_id=record_id, actor=principal, reason=body.reason
    )
    return AdminRecordOut.model_validate(record)


@review_routes.post(
    "/events/{record_id}/reverse",
    response_model=AdminRecordOut,
    operation_id="reverseEvent",
    summary="Claw back a credited record with reversing ledger entries",
    description="Points still available are taken back; points already spent become the "
    "citizen's debt, repaid first from later credits. The record keeps status `credited`, "
    "gains `reversed_at` and the reason `reversed_by_admin`, and leaves reports.",
    responses=responses(NotFound, InvalidState, AlreadyReversed),
)
async def reverse(
    record_id: RecordId, body: ReasonIn, principal: Admin, session: Session
) -> AdminRecordOut:
    record = await decisions.reverse(
        session, record_id=record_id, actor=principal, reason=body.reason
    )
    return AdminRecordOut.model_validate(record)


router = APIRouter()
router.include_router(record_routes)
router.include_router(leaderboard_routes)
router.include_router(review_routes)
