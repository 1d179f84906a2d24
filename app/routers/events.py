from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query, Response
from pydantic import ValidationError

from app.deps import Citizen, CitizenRow, KVDep, RecordCommitterDep, Session, SettingsDep
from app.errors import (
    BadRequest,
    DomainError,
    Forbidden,
    IdempotencyConflict,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
    UnknownType,
    ValidationFailed,
    domain_problem,
    responses,
    validation_errors,
)
from app.kit.inputs import ITEMS_CHECKED_ALONE, MESSAGE, find_unstorable
from app.kit.pagination import CursorParam, LimitParam
from app.models import Record
from app.schemas.records import BatchIn, BatchOut, EventDetailOut, EventIn, EventOut, EventsPage
from app.services import group_commit, records

router = APIRouter(prefix="/v1", tags=["events"], responses=responses(Unauthorized, Forbidden))

E = TypeVar("E", bound=EventIn)


def item_result(outcome: records.Outcome | DomainError) -> dict[str, Any]:
    if isinstance(outcome, DomainError):
        return {"status": "invalid", "error": domain_problem(outcome)}
    return {**records.view(outcome.record), "replayed": not outcome.created}


def parse_item(raw: Any, model: type[E]) -> E | DomainError:
    """One batch item, validated alone: its failure is its own result, not the batch's."""
    if unstorable := [".".join(map(str, loc)) for loc in find_unstorable(raw)]:
        return ValidationFailed(
            "The record has text that cannot be stored.",
            errors=[{"field": f, "message": MESSAGE} for f in unstorable],
        )
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        return ValidationFailed(
            "The record has invalid or missing fields.", errors=validation_errors(exc.errors())
        )


@router.post(
    "/events",
    status_code=201,
    response_model=EventOut,
    summary="Post one behaviour record (idempotent per client_event_id)",
    responses={
        200: {"description": "A replay: the stored result, unchanged", "model": EventOut},
        **responses(IdempotencyConflict, UnknownType, ValidationFailed, ServiceUnavailable),
    },
)
async def post_event(
    body: EventIn,
    response: Response,
    user: CitizenRow,
    session: Session,
    kv: KVDep,
    settings: SettingsDep,
    committer: RecordCommitterDep,
) -> dict[str, Any]:
    outcome = await group_commit.ingest_single(session, settings, kv, committer, user, body)
    if not outcome.created:
        response.status_code = 200
    return records.view(outcome.record)


@router.post(
    "/events/batch",
    response_model=BatchOut,
    summary="Post 1–500 records; each item answered as POST /v1/events would",
    responses=responses(ValidationFailed),
    openapi_extra={ITEMS_CHECKED_ALONE: "events"},
)
async def post_batch(
    body: BatchIn, user: CitizenRow, session: Session, kv: KVDep, settings: SettingsDep
) -> dict[str, Any]:
    items = [(user, parse_item(raw, EventIn)) for raw in body.events]
    outcomes = await records.ingest_many(session, settings, kv, items)
    return {"results": [item_result(o) for o in outcomes]}


@router.get(
    "/events",
    response_model=EventsPage,
    summary="The caller's records, newest first",
    responses=responses(BadRequest),
)
async def list_events(
    principal: Citizen,
    session: Session,
    status: Annotated[str | None, Query(pattern="^(credited|rejected|pending_review)$")] = None,
    type: Annotated[str | None, Query(max_length=64)] = None,  # noqa: A002
    limit: LimitParam = 50,
    cursor: CursorParam = None,
) -> dict[str, Any]:
    rows, next_cursor = await records.list_for_user(
        session, principal.id, status=status, code=type, limit=limit, cursor=cursor
    )
    return {"items": [records.view(r) for r in rows], "next_cursor": next_cursor}


@router.get(
    "/events/{event_id}",
    response_model=EventDetailOut,
    summary="One of the caller's records, with the calculation",
    responses=responses(NotFound),
)
async def get_event(event_id: str, principal: Citizen, session: Session) -> dict[str, Any]:
    record = await session.get(Record, event_id)
    if record is None or record.user_id != principal.id:
        raise NotFound(f"No record {event_id}.")
    return records.view(record, detail=True)
