"""What a decided record writes: its row, its ledger credit, its day's usage, its cap."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import inspect as sa_inspect

from app.config import Settings
from app.models import DailyUsage, Record
from app.models.records import Reason, RecordStatus
from app.services import ledger
from app.services.ledger import proofs
from app.services.ledger.accounts import table
from app.services.records.prepared import AnyRecord, NewRecord


def _capped(record: AnyRecord, wanted: int, cap: int | None, used: int) -> int:
    """Apply the daily cap to a record about to be credited; returns the points it gets."""
    left = None if cap is None else max(0, cap - used)
    points = wanted if left is None else min(wanted, left)
    if points < wanted:
        record.reasons = [*record.reasons, Reason.DAILY_CAP_REACHED]
    record.points = points
    record.status = RecordStatus.CREDITED
    record.breakdown = {
        **record.breakdown,
        "points_before_cap": wanted,
        "daily_cap_points": cap,
        "cap_left_before": left,
        "points": points,
    }
    return points


_USAGE = table(DailyUsage).c


def _upsert_usage(stmt: Any) -> Any:
    """ON CONFLICT for a day's usage: the new total replaces the old one."""
    return stmt.on_conflict_do_update(
        index_elements=[_USAGE.user_id, _USAGE.code, _USAGE.day],
        set_={"points": stmt.excluded.points},
    )


_COLUMNS = [attr.key for attr in sa_inspect(Record).column_attrs]


def _row(record: NewRecord) -> dict[str, Any]:
    """A new record's values for a bulk INSERT: every column of the table."""
    return {key: getattr(record, key) for key in _COLUMNS}


def _credit_for(record: AnyRecord, points: int, settings: Settings, now: datetime) -> ledger.Credit:
    """The ledger credit of a record: its idempotent ref, a lot living ``points_ttl_days``, and
    its reduction, which counts in the citizen's lifetime grams even when a cap left 0 points."""
    return ledger.Credit(
        user_id=record.user_id,
        points=points,
        ref=f"record:{record.id}:credit",
        cause_type="record",
        cause_id=record.id,
        expires_at=now + timedelta(days=settings.points_ttl_days),
        reduction_g=record.reduction_g,
        decision_hash=proofs.decision_hash(proofs.record_decision(record, points)),
    )


def _local_day(at: datetime, settings: Settings) -> str:
    return at.astimezone(settings.tz).date().isoformat()
