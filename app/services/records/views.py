"""Records as their owner sees them: one record (with its calculation on request), a batch
item's answer, and the citizen's list."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.pagination import Keyset
from app.models import Record
from app.services.records.intake import Outcome

NEWEST = Keyset((Record.received_at, Record.id))


async def list_for_user(
    session: AsyncSession,
    user_id: str,
    *,
    status: str | None,
    code: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Record], str | None]:
    """A citizen's records, newest received first."""
    query = select(Record).where(Record.user_id == user_id)
    if status:
        query = query.where(Record.status == status)
    if code:
        query = query.where(Record.type == code)
    return NEWEST.page((await session.scalars(NEWEST.apply(query, cursor, limit))).all(), limit)


def view(record: Record, *, detail: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": record.id,
        "client_event_id": record.client_event_id,
        "type": record.type,
        "status": record.status,
        "reduction_g": record.reduction_g,
        "points": record.points,
        "reasons": list(record.reasons or []),
        "methodology": {"code": record.type, "version": record.version},
        "occurred_at": record.occurred_at,
        "received_at": record.received_at,
        "source": record.source,
        "reversed_at": record.reversed_at,
    }
    if detail:
        out |= {
            "data": record.data,
            "region": record.region,
            "local_day": record.local_day,
            "params_hash": record.params_hash,
            "breakdown": record.breakdown,
            "decided_at": record.decided_at,
            "decision_note": record.decision_note,
        }
    return out


def item_view(outcome: Outcome) -> dict[str, Any]:
    """A batch item's answer: the record, and whether it was already stored."""
    return {**view(outcome.record), "replayed": not outcome.created}
