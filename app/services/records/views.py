"""Records as their owner sees them: a batch item's answer and a citizen's list (which is also
what operators list for one citizen). One record is ``RecordOut`` or ``RecordDetailOut`` built
from the row."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.pagination import Keyset
from app.models import Record
from app.schemas.records import RecordOut
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


def item_view(outcome: Outcome) -> dict[str, Any]:
    """A batch item's answer: the record as ``POST /v1/events`` answers it (its instants as
    UTC text, as every ``RecordOut`` is written), and whether it was already stored."""
    return {
        **RecordOut.model_validate(outcome.record).model_dump(mode="json"),
        "replayed": not outcome.created,
    }
