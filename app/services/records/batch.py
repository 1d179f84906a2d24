"""What a unit of work of records is decided against: its items, and what is stored about
their citizens (records under the same ids, activity spans, daily cap usage), read in one
statement after the citizens are locked and kept up to date as each record is decided."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CompoundSelect,
    Integer,
    Select,
    String,
    bindparam,
    literal_column,
    null,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db import UTCDateTime
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
def _stored(dialect: str) -> CompoundSelect:
    """What is stored about the batch's citizens, in one statement (one round trip instead
    of three): rows of kind ``s``, an activity span (not rejected) that may
    overlap the batch's records, between ``first`` and ``last`` (none when they are null);
    ``u``, the points used per (citizen, methodology code ``a``, local day ``b``) on the
    batch's days; ``e``, the id ``b`` of a stored record under one of the batch's
    (citizen, client_event_id ``a``) pairs. The spans come first: a compound statement's
    columns take their types from its first SELECT."""
    users = any_of(dialect, Record.user_id, "users")
    text, instant = type_coerce(null(), String), type_coerce(null(), UTCDateTime())
    number = type_coerce(null(), Integer)
    spans: Select[Any] = select(
        literal_column("'s'").label("kind"),
        Record.user_id,
        text.label("a"),
        text.label("b"),
        Record.span_start.label("start"),
        Record.span_end.label("end"),
        number.label("n"),
    ).where(
        users,
        Record.status != RecordStatus.REJECTED,
        Record.span_start < bindparam("last", type_=Record.span_start.type),
        Record.span_end > bindparam("first", type_=Record.span_end.type),
    )
    usage = select(
        literal_column("'u'"),
        _USAGE.user_id,
        _USAGE.code,
        _USAGE.day,
        instant,
        instant,
        _USAGE.points,
    ).where(any_of(dialect, _USAGE.user_id, "users"), any_of(dialect, _USAGE.day, "days"))
    existing: Select[Any] = select(
        literal_column("'e'"),
        Record.user_id,
        Record.client_event_id,
        Record.id,
        instant,
        instant,
        number,
    ).where(users, any_of(dialect, Record.client_event_id, "ids"))
    return union_all(spans, usage, existing)


@per_dialect
def _records(dialect: str) -> Select[Any]:
    """Stored records by id, as ORM rows (the replays and conflicts of a batch: rare)."""
    return (
        select(Record)
        .where(any_of(dialect, Record.id, "ids"))
        .execution_options(populate_existing=True)
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
    """What the records of one unit of work must be checked against, read in one statement
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
        timed = [(it, it.m.duration(it.data)) for it in items]
        spans = [(it.record_in.occurred_at - d, it.record_in.occurred_at) for it, d in timed if d]
        found = await session.execute(
            _stored(session),
            {
                "users": sorted({it.user.id for it in items}),
                "ids": sorted({it.record_in.client_event_id for it in items}),
                "days": sorted({_local_day(it.record_in.occurred_at, settings) for it in items}),
                "first": min((start for start, _ in spans), default=None),
                "last": max((end for _, end in spans), default=None),
            },
        )
        stored: list[str] = []
        for kind, user_id, a, b, start, end, points in found:
            if kind == "s":
                batch.spans.setdefault(user_id, []).append((start, end))
            elif kind == "u":
                batch.usage[(user_id, a, b)] = int(points)
            else:
                stored.append(b)
        if stored:
            rows = await session.scalars(_records(session), {"ids": stored})
            batch.by_id = {(r.user_id, r.client_event_id): r for r in rows}
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
