"""Decisions on single records: review of flagged records, clawback of credited ones."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path

from app.deps import Admin, AdminOrAuditor, KVDep, Session, SettingsDep
from app.errors import (
    AlreadyReversed,
    BadRequest,
    Forbidden,
    InvalidState,
    NotFound,
    Unauthorized,
    responses,
)
from app.kit.pagination import CursorParam, LimitParam
from app.schemas.admin import AdminRecordOut, ApproveIn, ReasonIn, ReviewPage
from app.services import review

router = APIRouter(prefix="/v1/admin", tags=["admin"], responses=responses(Unauthorized, Forbidden))

RecordId = Annotated[str, Path(max_length=36)]


@router.get(
    "/review",
    response_model=ReviewPage,
    summary="Records waiting for review, oldest received first",
    responses=responses(BadRequest),
)
async def list_review(
    principal: AdminOrAuditor,
    session: Session,
    limit: LimitParam = 50,
    cursor: CursorParam = None,
) -> ReviewPage:
    items, next_cursor = await review.list_pending(session, limit, cursor)
    return ReviewPage(
        items=[AdminRecordOut.model_validate(review.view(r)) for r in items],
        next_cursor=next_cursor,
    )


@router.post(
    "/events/{record_id}/approve",
    response_model=AdminRecordOut,
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
    record = await review.approve(
        session,
        settings,
        record_id=record_id,
        actor=principal,
        note=body.note if body else None,
        kv=kv,
    )
    return AdminRecordOut.model_validate(review.view(record))


@router.post(
    "/events/{record_id}/reject",
    response_model=AdminRecordOut,
    summary="Reject a pending record, with the reason",
    responses=responses(NotFound, InvalidState),
)
async def reject(
    record_id: RecordId, body: ReasonIn, principal: Admin, session: Session
) -> AdminRecordOut:
    record = await review.reject(session, record_id=record_id, actor=principal, reason=body.reason)
    return AdminRecordOut.model_validate(review.view(record))


@router.post(
    "/events/{record_id}/reverse",
    response_model=AdminRecordOut,
    summary="Claw back a credited record with reversing ledger entries",
    description="Points still available are taken back; points already spent become the "
    "citizen's debt, repaid first from later credits. The record keeps status `credited`, "
    "gains `reversed_at` and the reason `reversed_by_admin`, and leaves reports.",
    responses=responses(NotFound, InvalidState, AlreadyReversed),
)
async def reverse(
    record_id: RecordId, body: ReasonIn, principal: Admin, session: Session
) -> AdminRecordOut:
    record = await review.reverse(session, record_id=record_id, actor=principal, reason=body.reason)
    return AdminRecordOut.model_validate(review.view(record))
