"""The operators' dashboard: today's and this month's verified reductions, the review queue,
the points citizens hold, and a 30-day series, in a handful of aggregate queries.

Days are local days in the platform's time zone (``Record.local_day``, stored at ingest), so
the figures agree with the reports grouped by day. Only records that still stand count
(credited, not reversed), as in the reports.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Record
from app.models.ledger import AccountSummary
from app.models.records import RecordStatus

SERIES_DAYS = 30


def _standing() -> tuple[Any, ...]:
    return (Record.status == RecordStatus.CREDITED, Record.reversed_at.is_(None))


async def summary(session: AsyncSession, tz: ZoneInfo, now: datetime) -> dict[str, Any]:
    local_now = now.astimezone(tz)
    today = local_now.date()
    first = today - timedelta(days=SERIES_DAYS - 1)
    month_start = today.replace(day=1)
    since = min(first, month_start).isoformat()
    rows = (
        await session.execute(
            select(
                Record.local_day,
                func.count(),
                func.coalesce(func.sum(Record.reduction_g), 0),
                func.coalesce(func.sum(Record.points), 0),
            )
            .where(*_standing(), Record.local_day >= since, Record.local_day <= today.isoformat())
            .group_by(Record.local_day)
        )
    ).all()
    by_day = {str(day): (int(n), int(g), int(p)) for day, n, g, p in rows}
    month = [v for d, v in by_day.items() if d >= month_start.isoformat()]
    day = by_day.get(today.isoformat(), (0, 0, 0))
    start_of_today = datetime.combine(today, time(), tz)
    received_today = await session.scalar(
        select(func.count()).select_from(Record).where(Record.received_at >= start_of_today)
    )
    review_queue = await session.scalar(
        select(func.count()).select_from(Record).where(Record.status == RecordStatus.PENDING_REVIEW)
    )
    available, held, debt = (
        await session.execute(
            select(
                func.coalesce(func.sum(AccountSummary.available), 0),
                func.coalesce(func.sum(AccountSummary.held), 0),
                func.coalesce(func.sum(AccountSummary.debt), 0),
            )
        )
    ).one()
    series = []
    for i in range(SERIES_DAYS):
        d = (first + timedelta(days=i)).isoformat()
        n, g, p = by_day.get(d, (0, 0, 0))
        series.append({"day": d, "records": n, "reduction_g": g, "points": p})
    return {
        "today": today.isoformat(),
        "day": {"records": day[0], "reduction_g": day[1], "points": day[2]},
        "month": {
            "records": sum(v[0] for v in month),
            "reduction_g": sum(v[1] for v in month),
            "points": sum(v[2] for v in month),
        },
        "received_today": int(received_today or 0),
        "review_queue": int(review_queue or 0),
        "points_outstanding": int(available) + int(held),
        "points_held": int(held),
        "debt": int(debt),
        "series": series,
    }
