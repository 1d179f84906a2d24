"""Verified reductions for operators: totals by methodology, region or local day.

Only records that still stand count: ``credited`` and not reversed. The reduction is the full
verified reduction of each record (a record that hit a daily cap still reduced that much);
points are what the ledger credited for it.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.errors import ValidationFailed
from app.models import Record
from app.models.records import RecordStatus

# ``day`` is the record's local day in the platform's time zone, stored at ingest.
GROUP_COLUMNS = {"methodology": Record.type, "region": Record.region, "day": Record.local_day}
CSV_HEADER = ("key", "records", "reduction_g", "points")


def check_range(start: datetime, end: datetime) -> None:
    if start >= end:
        raise ValidationFailed(
            "'from' must be before 'to'.",
            errors=[{"field": "from", "message": "must be before 'to'", "type": "range"}],
        )


async def reductions(
    session: AsyncSession, *, start: datetime, end: datetime, group_by: str
) -> dict[str, Any]:
    check_range(start, end)
    column = GROUP_COLUMNS.get(group_by)
    if column is None:
        raise ValidationFailed(
            f"group_by must be one of {', '.join(GROUP_COLUMNS)}.",
            errors=[{"field": "group_by", "message": "unknown grouping", "type": "enum"}],
        )
    result = await session.execute(
        select(
            column,
            func.count(),
            func.coalesce(func.sum(Record.reduction_g), 0),
            func.coalesce(func.sum(Record.points), 0),
        )
        .where(
            Record.status == RecordStatus.CREDITED,
            Record.reversed_at.is_(None),
            Record.occurred_at >= start,
            Record.occurred_at < end,
        )
        .group_by(column)
    )
    rows = [
        {"key": key, "records": int(n), "reduction_g": int(g), "points": int(p)}
        for key, n, g, p in result
    ]
    rows.sort(key=lambda r: (r["key"] is None, r["key"] or ""))
    totals = {name: sum(r[name] for r in rows) for name in ("records", "reduction_g", "points")}
    return {"from": start, "to": end, "group_by": group_by, "rows": rows, "totals": totals}


def to_csv(report: dict[str, Any]) -> str:
    """The same rows as the JSON report, then a ``totals`` row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for row in report["rows"]:
        writer.writerow([row["key"] or "", row["records"], row["reduction_g"], row["points"]])
    totals = report["totals"]
    writer.writerow(["totals", totals["records"], totals["reduction_g"], totals["points"]])
    return out.getvalue()
