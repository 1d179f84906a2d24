"""Tuning methodologies: publish dated parameter versions, and simulate one first.

A version is immutable once created and takes effect from ``effective_from`` (now or later,
never retroactively), so stored results never change. Simulation re-runs the same pure
``evaluate`` with proposed parameters over stored records and writes nothing.
"""

from __future__ import annotations

import heapq
import json
from collections import defaultdict
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import after_commit, utcnow
from app.kit.errors import ValidationFailed
from app.models import MethodologyVersion, Record
from app.models.records import Reason, RecordSource, RecordStatus
from app.rules import (
    BaseParams,
    Context,
    Methodology,
    Result,
    canonical_json,
    params_hash,
    points_for,
)
from app.rules import resolve as resolve_region
from app.security import Actor
from app.services.admin import audit
from app.services.methodologies.facts import Facts, no_facts, preloaded
from app.services.methodologies.versions import CLOCK_TOLERANCE, forget_versions, get_methodology

# Reasons that come from the record's context, not from the parameters: they stay.
CONTEXT_REASONS = {
    Reason.IN_FUTURE,
    Reason.TOO_LATE,
    Reason.OVERLAPPING_ACTIVITY,
    Reason.REJECTED_BY_REVIEW,
}
TOP_CHANGES = 20


def validate_params(m: Methodology, raw: dict[str, Any]) -> BaseParams:
    try:
        return m.Params.model_validate(raw)
    except ValidationError as exc:
        raise ValidationFailed.of(
            "The parameters do not match the methodology's parameter schema.",
            exc.errors(),
            under="params",
        ) from None


def version_view(v: MethodologyVersion) -> dict[str, Any]:
    return {
        "code": v.code,
        "version": v.version,
        "params": json.loads(v.params),
        "params_hash": v.params_hash,
        "effective_from": v.effective_from,
        "note": v.note,
        "created_by": v.created_by,
        "created_at": v.created_at,
    }


async def create_version(
    session: AsyncSession,
    *,
    code: str,
    raw_params: dict[str, Any],
    effective_from: datetime,
    note: str | None,
    actor: Actor,
) -> MethodologyVersion:
    m = get_methodology(code)
    params = validate_params(m, raw_params)
    if effective_from < utcnow() - CLOCK_TOLERANCE:
        raise ValidationFailed(
            "effective_from is in the past; versions never apply retroactively.",
            errors=[{"field": "effective_from", "message": "in the past"}],
        )
    for _ in range(5):  # two admins publishing at once: the loser takes the next number
        latest = await session.scalar(
            select(func.max(MethodologyVersion.version)).where(MethodologyVersion.code == code)
        )
        version = MethodologyVersion(
            code=code,
            version=int(latest or 0) + 1,
            params=canonical_json(params),
            params_hash=params_hash(params),
            effective_from=effective_from,
            note=note,
            created_by=actor.id,
            created_at=utcnow(),
        )
        try:
            async with session.begin_nested():
                session.add(version)
                await session.flush()
        except IntegrityError:
            continue
        await audit.record(
            session,
            actor=actor,
            action="methodology_version.created",
            target_type="methodology",
            target_id=code,
            after=json.loads(json.dumps(version_view(version), default=str)),
        )

        async def forget() -> None:
            forget_versions(session, code)

        after_commit(session, forget)
        return version
    raise ValidationFailed("Could not allocate a version number; try again.")


def evaluate_stored(
    m: Methodology, params: BaseParams, row: Any, facts_of: Facts = no_facts
) -> Result:
    """Re-run a stored record (a row with ``data``, ``region``, ``source`` and
    ``occurred_at``) through the methodology with ``params``: the one evaluation path of
    simulation and recompute audits. ``facts_of`` gives what the record path looked up for
    it (a labelled product's values), loaded before the records stream."""
    data = m.Input.model_validate(row.data)
    return m.evaluate(
        data,
        params,
        Context(
            region=row.region,
            trusted=row.source in (RecordSource.PARTNER, RecordSource.MERCHANT),
            facts=facts_of(data, row.occurred_at),
        ),
    )


class _Totals:
    __slots__ = ("reduction_g", "points", "by_status", "cap_hits")

    def __init__(self) -> None:
        self.reduction_g = 0
        self.points = 0
        self.cap_hits = 0
        self.by_status: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])

    def add(self, status: str, grams: int, points: int, cap_hit: bool) -> None:
        counted = status == RecordStatus.CREDITED
        self.reduction_g += grams if counted else 0
        self.points += points
        self.cap_hits += int(cap_hit)
        row = self.by_status[status]
        row[0] += 1
        row[1] += grams
        row[2] += points

    def summary(self) -> dict[str, int]:
        return {
            "reduction_g": self.reduction_g,
            "points": self.points,
            "credited": self.by_status[RecordStatus.CREDITED][0],
            "rejected": self.by_status[RecordStatus.REJECTED][0],
            "pending_review": self.by_status[RecordStatus.PENDING_REVIEW][0],
            "cap_hits": self.cap_hits,
        }

    def statuses(self) -> dict[str, dict[str, int]]:
        return {
            s: {"records": r[0], "reduction_g": r[1], "points": r[2]}
            for s, r in self.by_status.items()
            if r[0]
        }


async def simulate(
    session: AsyncSession, code: str, raw_params: dict[str, Any], start: datetime, end: datetime
) -> dict[str, Any]:
    """Current (stored) versus proposed totals over the records of ``code`` that occurred in
    [start, end). Reversed records are left out of both. Daily caps are replayed per citizen
    and local day in ``occurred_at`` order with the proposed cap. Streams the records, so
    memory stays flat however long the range."""
    if start >= end:
        raise ValidationFailed(
            "from must be before to.", errors=[{"field": "to", "message": "not after from"}]
        )
    m = get_methodology(code)
    proposed_params = validate_params(m, raw_params)
    by_region_params: dict[str | None, BaseParams] = {}
    current, proposed = _Totals(), _Totals()
    regions: dict[str | None, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    days: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    used: dict[tuple[str, str], int] = defaultdict(int)
    top: list[tuple[int, int, str, dict[str, Any]]] = []
    count = 0
    query = (
        select(
            Record.id,
            Record.user_id,
            Record.occurred_at,
            Record.local_day,
            Record.region,
            Record.source,
            Record.data,
            Record.status,
            Record.reasons,
            Record.reduction_g,
            Record.points,
        )
        .where(
            Record.type == code,
            Record.occurred_at >= start,
            Record.occurred_at < end,
            Record.reversed_at.is_(None),
        )
        .order_by(Record.occurred_at, Record.id)
        .execution_options(yield_per=2000)
    )
    facts_of = await preloaded(session, code)
    result = await session.stream(query)
    async for row in result:
        count += 1
        stored_reasons = set(row.reasons or [])
        current.add(
            row.status, row.reduction_g, row.points, Reason.DAILY_CAP_REACHED in stored_reasons
        )
        region_params = by_region_params.get(row.region)
        if region_params is None:
            region_params = resolve_region(proposed_params, row.region)
            by_region_params[row.region] = region_params
        outcome = evaluate_stored(m, proposed_params, row, facts_of)
        grams, points, cap_hit = outcome.reduction_g, 0, False
        if stored_reasons & CONTEXT_REASONS or outcome.reasons:
            status = RecordStatus.REJECTED
        elif outcome.needs_review and row.status != RecordStatus.CREDITED:
            status = RecordStatus.PENDING_REVIEW
        else:
            status = RecordStatus.CREDITED
            wanted = points_for(grams, region_params)
            cap = region_params.daily_cap_points
            key = (row.user_id, row.local_day)
            points = wanted if cap is None else max(0, min(wanted, cap - used[key]))
            cap_hit = points < wanted
            used[key] += points
        proposed.add(status, grams, points, cap_hit)
        for bucket in (regions[row.region], days[row.local_day]):
            bucket[0] += row.reduction_g if row.status == RecordStatus.CREDITED else 0
            bucket[1] += row.points
            bucket[2] += grams if status == RecordStatus.CREDITED else 0
            bucket[3] += points
        delta = abs(points - row.points)
        change = (
            delta,
            abs(grams - row.reduction_g),
            row.id,
            {
                "record_id": row.id,
                "user_id": row.user_id,
                "occurred_at": row.occurred_at,
                "current_reduction_g": row.reduction_g,
                "proposed_reduction_g": grams,
                "current_points": row.points,
                "proposed_points": points,
            },
        )
        if change[0] or change[1]:
            if len(top) < TOP_CHANGES:
                heapq.heappush(top, change)
            elif change[:2] > top[0][:2]:
                heapq.heapreplace(top, change)
    cur, prop = current.summary(), proposed.summary()
    return {
        "code": code,
        "from": start,
        "to": end,
        "records": count,
        "current": cur,
        "proposed": prop,
        "delta": {
            "reduction_g": prop["reduction_g"] - cur["reduction_g"],
            "points": prop["points"] - cur["points"],
        },
        "by_status": {"current": current.statuses(), "proposed": proposed.statuses()},
        "by_region": [
            {
                "region": region,
                "current": {"reduction_g": v[0], "points": v[1]},
                "proposed": {"reduction_g": v[2], "points": v[3]},
            }
            for region, v in sorted(regions.items(), key=lambda kv: kv[0] or "")
        ],
        "by_day": [
            {
                "day": day,
                "current": {"reduction_g": v[0], "points": v[1]},
                "proposed": {"reduction_g": v[2], "points": v[3]},
            }
            for day, v in sorted(days.items())
        ],
        "top_changes": [c[3] for c in sorted(top, key=lambda c: (-c[0], -c[1], c[2]))],
    }
