"""A citizen's own statistics: credited reductions and points per period and methodology."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Record
from app.models.records import RecordStatus

GroupBy = Literal["day", "month"]


async def citizen_stats(
    session: AsyncSession,
    user_id: str,
    *,
    start: datetime | None,
    end: datetime | None,
    group_by: GroupBy,
) -> list[dict[str, Any]]:
    """Credited, unreversed records with ``start <= occurred_at < end``, grouped by their
    local day (stored with the record, in the platform time zone) or its month."""
    period = Record.local_day if group_by == "day" else func.substr(Record.local_day, 1, 7)
    query = (
        select(
            period.label("period"),
            Record.type,
            func.sum(Record.reduction_g),
            func.sum(Record.points),
            func.count(),
        )
        .where(
            Record.user_id == user_id,
            Record.status == RecordStatus.CREDITED,
            Record.reversed_at.is_(None),
        )
        .group_by(period, Record.type)
        .order_by(period, Record.type)
    )
    if start is not None:
        query = query.where(Record.occurred_at >= start)
    if end is not None:
        query = query.where(Record.occurred_at < end)
    return [
        {
            "period": row[0],
            "methodology": row[1],
            "reduction_g": int(row[2] or 0),
            "points": int(row[3] or 0),
            "records": int(row[4]),
        }
        for row in (await session.execute(query)).all()
    ]
