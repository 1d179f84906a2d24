"""Behaviour records: verify, quantify and credit, exactly once per (user, client_event_id).

One record's path: schema (422, nothing stored) → idempotency (a replay returns the stored
result; other content under the same id is a 409) → the citizen's ledger lock (serialises
that citizen's records, which makes the overlap check and the daily cap race-free) → the
methodology version in force at ``occurred_at`` → time window, plausibility and overlap
(rejected, with reasons) → review (pending) → daily cap → ledger credit, in the same
transaction as the record. The unique constraint on (user_id, client_event_id) backs it all.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db import after_commit, insert_ignore, new_id, utcnow
from app.errors import (
    BadRequest,
    DomainError,
    IdempotencyConflict,
    InvalidState,
    UnknownType,
    ValidationFailed,
)
from app.kv import KV
from app.models import DailyUsage, MethodologyVersion, Partner, Record, User
from app.observability import POINTS_CREDITED, RECORDS, REDUCTION_G, REJECTION_REASONS
from app.rules import Context, Methodology, points_for, registry, resolve
from app.rules.base import dec
from app.schemas.records import EventIn
from app.services import leaderboards, ledger
from app.services.methodologies import parsed, version_in_force


@dataclass(frozen=True)
class Outcome:
    record: Record
    created: bool


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    if hasattr(value, "as_tuple"):  # Decimal
        return dec(value)
    return value


def content_hash(code: str, occurred_at: datetime, data: dict[str, Any]) -> str:
    """Same record content, same hash: 10 and 10.0 km, or one instant in two offsets, agree."""
    body = json.dumps(
        {
            "type": code,
            "occurred_at": occurred_at.astimezone(UTC).isoformat(),
            "data": _canonical(data),
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode()).hexdigest()


def parse(item: EventIn) -> tuple[Methodology, Any]:
    """The methodology and validated data, or a 422 that stores nothing."""
    m = registry.get(item.type)
    if m is None:
        known = ", ".join(x.code for x in registry.all_methodologies())
        raise UnknownType(
            f"Unknown type {item.type!r}; known: {known}.",
            errors=[{"field": "type", "message": "unknown methodology"}],
        )
    try:
        data = m.Input.model_validate(item.data)
    except ValidationError as exc:
        errors = [
            {
                "field": ".".join(["data", *map(str, e["loc"])]),
                "message": e["msg"],
                "type": e["type"],
            }
            for e in exc.errors()
        ]
        raise ValidationFailed(
            "The record's data does not match its type's schema.", errors=errors
        ) from None
    return m, data


async def _existing(session: AsyncSession, user_id: str, client_event_id: str) -> Record | None:
    return await session.scalar(
        select(Record)
        .where(Record.user_id == user_id, Record.client_event_id == client_event_id)
        .execution_options(populate_existing=True)
    )


def _replay(found: Record, digest: str) -> Outcome:
    if found.content_hash != digest:
        raise IdempotencyConflict(
            f"client_event_id {found.client_event_id!r} was already used for other content."
        )
    return Outcome(found, created=False)


async def _overlaps(session: AsyncSession, user_id: str, start: datetime, end: datetime) -> bool:
    found = await session.scalar(
        select(Record.id)
        .where(
            Record.user_id == user_id,
            Record.status != "rejected",
            Record.span_start < end,
            Record.span_end > start,
        )
        .limit(1)
    )
    return found is not None


async def _cap_left(
    session: AsyncSession, user_id: str, code: str, day: str, cap: int | None
) -> tuple[DailyUsage, int | None]:
    await session.execute(
        insert_ignore(
            session, DailyUsage, [{"user_id": user_id, "code": code, "day": day, "points": 0}]
        )
    )
    usage = await session.scalar(
        select(DailyUsage)
        .where(DailyUsage.user_id == user_id, DailyUsage.code == code, DailyUsage.day == day)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert usage is not None
    return usage, None if cap is None else max(0, cap - usage.points)


async def _credit(
    session: AsyncSession,
    settings: Settings,
    kv: KV | None,
    record: Record,
    wanted: int,
    cap: int | None,
    now: datetime,
) -> None:
    """Apply the daily cap and post the points; the caller has the citizen's lock."""
    usage, left = await _cap_left(session, record.user_id, record.type, record.local_day, cap)
    points = wanted if left is None else min(wanted, left)
    if points < wanted:
        record.reasons = [*record.reasons, "daily_cap_reached"]
    record.points = points
    record.status = "credited"
    record.breakdown = {
        **record.breakdown,
        "points_before_cap": wanted,
        "daily_cap_points": cap,
        "cap_left_before": left,
        "points": points,
    }
    usage.points += points
    if points > 0:
        txn = await ledger.credit(
            session,
            user_id=record.user_id,
            points=points,
            ref=f"record:{record.id}:credit",
            cause_type="record",
            cause_id=record.id,
            expires_at=now + timedelta(days=settings.points_ttl_days),
        )
        record.transaction_id = txn.id
    if kv is not None and record.reduction_g > 0:
        leaderboards.count_after_commit(session, kv, settings, record)


async def ingest(
    session: AsyncSession,
    settings: Settings,
    kv: KV | None,
    user: User,
    item: EventIn,
    *,
    partner: Partner | None = None,
    now: datetime | None = None,
) -> Outcome:
    """Verify, quantify and (maybe) credit one record. Raises a DomainError for a record that
    must not be stored (schema, unknown type, idempotency conflict)."""
    now = now or utcnow()
    m, data = parse(item)
    occurred_at = item.occurred_at
    digest = content_hash(m.code, occurred_at, data.model_dump())
    if (found := await _existing(session, user.id, item.client_event_id)) is not None:
        return _replay(found, digest)
    await ledger.lock_user(session, user.id)
    if (found := await _existing(session, user.id, item.client_event_id)) is not None:
        return _replay(found, digest)  # a concurrent request stored it while we waited

    in_force = await version_in_force(session, m, occurred_at)
    trusted = partner is not None and m.code in (partner.allowed_types or [])
    ctx = Context(region=user.region, trusted=trusted)
    result = m.evaluate(data, in_force.params, ctx)
    duration = m.duration(data)
    span = (occurred_at - duration, occurred_at) if duration else (None, None)

    reasons = list(result.reasons)
    if occurred_at > now + timedelta(seconds=settings.future_tolerance_seconds):
        reasons.insert(0, "in_future")
    elif occurred_at < now - timedelta(days=settings.late_window_days):
        reasons.insert(0, "too_late")
    if not reasons and span[0] is not None and await _overlaps(session, user.id, *span):
        reasons.append("overlapping_activity")

    record = Record(
        id=new_id(),
        user_id=user.id,
        client_event_id=item.client_event_id,
        content_hash=digest,
        type=m.code,
        occurred_at=occurred_at,
        received_at=now,
        data=_canonical(data.model_dump(exclude_none=True)),
        source="partner" if partner else "app",
        partner_id=partner.id if partner else None,
        region=user.region,
        local_day=occurred_at.astimezone(settings.tz).date().isoformat(),
        span_start=span[0],
        span_end=span[1],
        status="rejected",
        reasons=reasons,
        reduction_g=result.reduction_g,
        points=0,
        version_id=in_force.version.id,
        version=in_force.version.version,
        params_hash=in_force.version.params_hash,
        breakdown={
            **result.breakdown,
            "methodology": m.code,
            "version": in_force.version.version,
            "params_hash": in_force.version.params_hash,
            "trusted_source": trusted,
        },
    )
    try:
        async with session.begin_nested():
            session.add(record)
            await session.flush()
    except IntegrityError:  # the unique constraint, should the lock ever be bypassed
        found = await _existing(session, user.id, item.client_event_id)
        if found is None:
            raise
        return _replay(found, digest)

    if not reasons:
        if result.needs_review:
            record.status = "pending_review"
            record.reasons = ["needs_review"]
        else:
            params = resolve(in_force.params, user.region)
            await _credit(
                session,
                settings,
                kv,
                record,
                points_for(result.reduction_g, params),
                params.daily_cap_points,
                now,
            )
    await session.flush()
    _count(session, record)
    return Outcome(record, created=True)


async def apply_credit(
    session: AsyncSession, settings: Settings, record: Record, now: datetime, kv: KV | None = None
) -> None:
    """Credit a record held for review, as of the decision: the version stored on the record
    gives the points, the daily cap of the record's own local day applies with what that day
    has used by now, and the ledger posting carries the record's idempotent ref."""
    if record.status != "pending_review":
        raise InvalidState(f"The record is {record.status}, not pending_review.")
    await ledger.lock_user(session, record.user_id)
    m = registry.get(record.type)
    version = await session.get(MethodologyVersion, record.version_id)
    assert m is not None and version is not None
    params = resolve(parsed(m, version), record.region)
    record.reasons = [r for r in record.reasons if r != "needs_review"]
    await _credit(
        session,
        settings,
        kv,
        record,
        points_for(record.reduction_g, params),
        params.daily_cap_points,
        now,
    )
    await session.flush()
    _count(session, record)


def _count(session: AsyncSession, record: Record) -> None:
    code, status, reasons = record.type, record.status, list(record.reasons)
    points, grams = record.points, record.reduction_g

    async def inc() -> None:
        RECORDS.labels(code, status).inc()
        for reason in reasons:
            REJECTION_REASONS.labels(reason).inc()
        if status == "credited":
            POINTS_CREDITED.labels(code).inc(points)
            REDUCTION_G.labels(code).inc(grams)

    after_commit(session, inc)


async def ingest_many(
    session: AsyncSession,
    settings: Settings,
    kv: KV | None,
    items: Sequence[tuple[User | None, EventIn | DomainError]],
    *,
    partner: Partner | None = None,
) -> list[Outcome | DomainError]:
    """Several records in one transaction, each in its own savepoint so that one failing item
    stores nothing and fails alone. Every citizen involved is locked first, in id order, so
    a batch spanning citizens keeps the global lock order."""
    now = utcnow()
    for user_id in sorted({u.id for u, _ in items if u is not None}):
        await ledger.lock_user(session, user_id)
    out: list[Outcome | DomainError] = []
    for user, item in items:
        if isinstance(item, DomainError):
            out.append(item)
            continue
        assert user is not None
        try:
            async with session.begin_nested():
                out.append(
                    await ingest(session, settings, kv, user, item, partner=partner, now=now)
                )
        except DomainError as exc:
            out.append(exc)
    return out


def cursor_values(values: list[Any]) -> tuple[datetime, str]:
    try:
        return datetime.fromisoformat(str(values[0])), str(values[1])
    except ValueError:
        raise BadRequest("The cursor is not valid.") from None


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
