from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query, Response
from pydantic import ValidationError
from sqlalchemy import select

from app.deps import Citizen, CitizenRow, KVDep, Session, SettingsDep
from app.errors import (
    BadRequest,
    DomainError,
    Forbidden,
    IdempotencyConflict,
    NotFound,
    Unauthorized,
    UnknownType,
    ValidationFailed,
    domain_problem,
    responses,
    validation_errors,
)
from app.models import Record
from app.schemas.common import decode_cursor, encode_cursor
from app.schemas.records import BatchIn, BatchOut, EventDetailOut, EventIn, EventOut, EventsPage
from app.services import records

router = APIRouter(prefix="/v1", tags=["events"], responses=responses(Unauthorized, Forbidden))

E = TypeVar("E", bound=EventIn)


def item_result(outcome: records.Outcome | DomainError) -> dict[str, Any]:
    if isinstance(outcome, DomainError):
        return {"status": "invalid", "error": domain_problem(outcome)}
    return {**records.view(outcome.record), "replayed": not outcome.created}


def parse_item(raw: Any, model: type[E]) -> E | DomainError:
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
        **responses(IdempotencyConflict, UnknownType, ValidationFailed),
    },
)
async def post_event(
    body: EventIn,
    response: Response,
    user: CitizenRow,
    session: Session,
    kv: KVDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    outcome = await records.ingest(session, settings, kv, user, body)
    if not outcome.created:
        response.status_code = 200
    return records.view(outcome.record)


@router.post(
    "/events/batch",
    response_model=BatchOut,
    summary="Post 1–500 records; each item answered as POST /v1/events would",
    responses=responses(ValidationFailed),
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
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    query = select(Record).where(Record.user_id == principal.id)
    if status:
        query = query.where(Record.status == status)
    if type:
        query = query.where(Record.type == type)
    after = decode_cursor(cursor, 2)
    if after is not None:
        at, rid = records.cursor_values(after)
        query = query.where(
            (Record.received_at < at) | ((Record.received_at == at) & (Record.id < rid))
        )
    rows = list(
        (
            await session.scalars(
                query.order_by(Record.received_at.desc(), Record.id.desc()).limit(limit + 1)
            )
        ).all()
    )
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(last.received_at.isoformat(), last.id)
    return {"items": [records.view(r) for r in rows[:limit]], "next_cursor": next_cursor}


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
