"""Administrators' decisions on single records: review of flagged records and clawback.

Locking: every decision locks the citizen's ledger accounts first (``ledger.lock_user``), then
the record row (``FOR UPDATE``), the same order that ingest and the ledger use, so two admins
deciding the same record at once queue, and the second sees the first one's outcome (409).
On SQLite transactions are serial anyway.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db import utcnow
from app.kit.errors import InvalidState, NotFound
from app.kit.pagination import Keyset
from app.kv import KV
from app.models import Record
from app.models.records import Reason, RecordStatus
from app.security import Actor
from app.services import ledger
from app.services.admin import audit
from app.services.communities import stats as organisation_stats
from app.services.records import intake
from app.services.records.errors import AlreadyReversed
from app.services.trust import batches


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def snapshot(record: Record) -> dict[str, Any]:
    """What an audit row keeps of a record before and after a decision."""
    return {
        "status": record.status,
        "reduction_g": record.reduction_g,
        "points": record.points,
        "reasons": list(record.reasons or []),
        "transaction_id": record.transaction_id,
        "decided_by": record.decided_by,
        "decided_at": _iso(record.decided_at),
        "decision_note": record.decision_note,
        "reversed_at": _iso(record.reversed_at),
    }


OLDEST = Keyset((Record.received_at, Record.id), descending=False)


async def list_pending(
    session: AsyncSession, limit: int, cursor: str | None
) -> tuple[list[Record], str | None]:
    """Records waiting for a decision, oldest received first (keyset on received_at, id)."""
    query = select(Record).where(Record.status == RecordStatus.PENDING_REVIEW)
    return OLDEST.page((await session.scalars(OLDEST.apply(query, cursor, limit))).all(), limit)


async def get(session: AsyncSession, record_id: str) -> Record:
    record = await session.get(Record, record_id)
    if record is None:
        raise NotFound(f"Record {record_id} does not exist.")
    return record


async def _locked_record(session: AsyncSession, record_id: str) -> Record:
    found = await session.scalar(select(Record.user_id).where(Record.id == record_id))
    if found is None:
        raise NotFound(f"Record {record_id} does not exist.")
    await ledger.lock_user(session, found)
    record = await session.scalar(
        select(Record)
        .where(Record.id == record_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert record is not None  # records are never deleted
    return record


def _require_pending(record: Record) -> None:
    if record.status != RecordStatus.PENDING_REVIEW:
        raise InvalidState(f"The record is {record.status}, not pending_review.")


async def approve(
    session: AsyncSession,
    settings: Settings,
    *,
    record_id: str,
    actor: Actor,
    note: str | None = None,
    kv: KV | None = None,
) -> Record:
    """Credit a pending record as of the decision: the daily cap of the record's local day is
    applied to what that day has credited by now."""
    record = await _locked_record(session, record_id)
    _require_pending(record)
    before = snapshot(record)
    now = utcnow()
    await intake.apply_credit(session, settings, record, now, kv)
    record.decided_by = actor.id
    record.decided_at = now
    record.decision_note = note
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="record.approved",
        target_type="record",
        target_id=record.id,
        before=before,
        after=snapshot(record),
    )
    return record


async def reject(session: AsyncSession, *, record_id: str, actor: Actor, reason: str) -> Record:
    """Reject a pending record: nothing is credited; the note says why."""
    record = await _locked_record(session, record_id)
    _require_pending(record)
    before = snapshot(record)
    record.status = RecordStatus.REJECTED
    record.reduction_g = 0  # what was computed stays in the breakdown
    record.points = 0
    record.reasons = [*(record.reasons or []), Reason.REJECTED_BY_REVIEW]
    record.decided_by = actor.id
    record.decided_at = utcnow()
    record.decision_note = reason
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="record.rejected",
        target_type="record",
        target_id=record.id,
        before=before,
        after=snapshot(record),
    )
    return record


async def reverse(session: AsyncSession, *, record_id: str, actor: Actor, reason: str) -> Record:
    """Claw back a credited record's points with reversing ledger entries.

    The record keeps status ``credited`` (the API's statuses are credited, rejected and
    pending_review); ``reversed_at`` and the reason ``reversed_by_admin`` mark it, and reports
    and lifetime totals leave it out. Points the citizen already spent are booked to their
    debt account by the ledger and repaid from later credits."""
    record = await _locked_record(session, record_id)
    if record.reversed_at is not None:
        raise AlreadyReversed(f"Record {record.id} was reversed at {record.reversed_at}.")
    if (
        record.status != RecordStatus.CREDITED
        or record.points <= 0
        or record.transaction_id is None
    ):
        raise InvalidState("Only a credited record with points can be reversed.")
    before = snapshot(record)
    txn = await ledger.reverse(
        session,
        transaction_id=record.transaction_id,
        ref=f"record:{record.id}:reverse",
        reason=reason,
        actor_id=actor.id,
        reduction_g=record.reduction_g,
    )
    record.reversed_at = utcnow()
    record.reasons = [*(record.reasons or []), Reason.REVERSED_BY_ADMIN]
    await session.flush()
    batch_id = await batches.record_reversed(session, record.id, record.reduction_g)
    await organisation_stats.count_reversed(session, record)
    after = snapshot(record)
    after["reversal"] = {"transaction_id": txn.id, "reason": reason, **(txn.memo or {})}
    if batch_id is not None:
        after["reversal"]["batch_id"] = batch_id
        after["reversal"]["buffer_deduction_g"] = record.reduction_g
    await audit.record(
        session,
        actor=actor,
        action="record.reversed",
        target_type="record",
        target_id=record.id,
        before=before,
        after=after,
    )
    return record
