"""What a unit of work of records is decided against: its items, and what is stored about
their citizens (records under the same ids, activity spans, daily cap usage), read in a few
statements after the citizens are locked and kept up to date as each record is decided."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.kit.bulk import insert_rows
from app.kit.statements import any_of, per_dialect
from app.models import DailyUsage, Record
from app.models.records import RecordStatus
from app.rules import Methodology
from app.schemas.records import RecordIn
from app.services.ledger.accounts import table
from app.services.records.prepared import AnyRecord, Owner
from app.services.records.writes import _USAGE, _local_day, _upsert_usage


@per_dialect
def _existing(dialect: str) -> Select[Any]:
    """Stored records under the batch's (citizen, client_event_id) pairs, as ORM rows."""
    return (
        select(Record)
        .where(
            any_of(dialect, Record.user_id, "users"), any_of(dialect, Record.client_event_id, "ids")
        )
        .execution_options(populate_existing=True)
    )


@per_dialect
def _spans(dialect: str) -> Select[Any]:
    """The batch's citizens' activity spans (not rejected) that may overlap its records."""
    return select(Record.user_id, Record.span_start, Record.span_end).where(
        any_of(dialect, Record.user_id, "users"),
        Record.status != RecordStatus.REJECTED,
        Record.span_start < bindparam("last", type_=Record.span_start.type),
        Record.span_end > bindparam("first", type_=Record.span_end.type),
    )


@per_dialect
def _usage_of(dialect: str) -> Select[Any]:
    """Points used per (citizen, methodology, local day) on the batch's days."""
    return select(_USAGE.user_id, _USAGE.code, _USAGE.day, _USAGE.points).where(
        any_of(dialect, _USAGE.user_id, "users"), any_of(dialect, _USAGE.day, "days")
    )


@dataclass
class Item:
    index: int
    user: Owner
    record_in: RecordIn
    m: Methodology
    data: Any
    digest: str


class Batch:
    """What the records of one unit of work must be checked against, read in a few queries
    after the citizens are locked, and kept up to date as each record is decided: stored
    records under the same ids, non-rejected activity spans, and daily cap usage (points per
    (citizen, methodology, local day); the days changed are written back in one statement)."""

    def __init__(self) -> None:
        self.by_id: dict[tuple[str, str], AnyRecord] = {}
        self.spans: dict[str, list[tuple[datetime, datetime]]] = {}
        self.usage: dict[tuple[str, str, str], int] = {}
        self.changed: set[tuple[str, str, str]] = set()

    @classmethod
    async def load(cls, session: AsyncSession, items: list[Item], settings: Settings) -> Batch:
        batch = cls()
        users = sorted({it.user.id for it in items})
        rows = await session.scalars(
            _existing(session),
            {"users": users, "ids": sorted({it.record_in.client_event_id for it in items})},
        )
        batch.by_id = {(r.user_id, r.client_event_id): r for r in rows}
        timed = [(it, it.m.duration(it.data)) for it in items]
        starts = [it.record_in.occurred_at - d for it, d in timed if d]
        if starts:
            found = await session.execute(
                _spans(session),
                {
                    "users": users,
                    "last": max(it.record_in.occurred_at for it, d in timed if d),
                    "first": min(starts),
                },
            )
            for user_id, span_start, span_end in found:
                batch.spans.setdefault(user_id, []).append((span_start, span_end))
        days = sorted({_local_day(it.record_in.occurred_at, settings) for it in items})
        usage = await session.execute(_usage_of(session), {"users": users, "days": days})
        batch.usage = {(u.user_id, u.code, u.day): int(u.points) for u in usage}
        return batch

    def overlaps(self, user_id: str, start: datetime, end: datetime) -> bool:
        return any(s < end and e > start for s, e in self.spans.get(user_id, ()))

    def used(self, user_id: str, code: str, day: str) -> int:
        return self.usage.get((user_id, code, day), 0)

    def use(self, user_id: str, code: str, day: str, points: int) -> None:
        key = (user_id, code, day)
        self.usage[key] = self.usage.get(key, 0) + points
        self.changed.add(key)

    async def save_usage(self, session: AsyncSession) -> None:
        """The changed days' totals, absolute (the citizens' locks make them exact)."""
        if not self.changed:
            return
        rows = [
            {"user_id": u, "code": c, "day": d, "points": self.usage[(u, c, d)]}
            for u, c, d in sorted(self.changed)
        ]
        await insert_rows(session, table(DailyUsage), rows, _upsert_usage)
