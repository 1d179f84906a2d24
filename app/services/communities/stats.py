"""Organisation statistics, maintained as records are credited and reversed.

A credited record counts for every organisation whose membership period (``joined_at`` to
``left_at``) contains the record's ``occurred_at``: joining later does not import the past,
leaving does not erase it. ``count_credited`` runs in the unit of work that credits the
records (ingest, a group of single records, an approval), under the citizens' locks; it notes
which organisations each record counted for (``organisation_credits``) and adds the record to
``organisation_daily`` (organisation × local day × methodology × shard). ``count_reversed``
takes a reversed record out of exactly those organisations. Readers sum the maintained rows;
nothing scans members' records.

Aggregate rows are written last in a unit of work, in one statement, in key order, so two
units adding to the same rows lock them in the same order and cannot deadlock.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any, cast

from sqlalchemy import Select, Table, and_, bindparam, func, insert, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.statements import any_of, per_dialect
from app.models import Membership, Organisation, OrganisationCredit, OrganisationDaily, Record
from app.models.records import RecordStatus
from app.services.records.prepared import AnyRecord

SHARDS = 16
PERIODS = ("day", "week", "month", "all")


def shard(user_id: str) -> int:
    return zlib.crc32(user_id.encode()) % SHARDS


@per_dialect
def _memberships(dialect: str) -> Select[Any]:
    """The memberships of ``users`` that overlap ``earliest`` … ``latest``."""
    return select(
        Membership.user_id, Membership.organisation_id, Membership.joined_at, Membership.left_at
    ).where(
        any_of(dialect, Membership.user_id, "users"),
        Membership.joined_at <= bindparam("latest", type_=Membership.joined_at.type),
        or_(
            Membership.left_at.is_(None),
            Membership.left_at > bindparam("earliest", type_=Membership.left_at.type),
        ),
    )


async def count_credited(session: AsyncSession, records: Sequence[AnyRecord]) -> None:
    """Add newly credited records (already inserted) to their members' organisations."""
    records = [r for r in records if r.status == RecordStatus.CREDITED]
    if not records:
        return
    users = sorted({r.user_id for r in records})
    earliest = min(r.occurred_at for r in records)
    latest = max(r.occurred_at for r in records)
    periods = await session.execute(
        _memberships(session), {"users": users, "latest": latest, "earliest": earliest}
    )
    by_user: dict[str, list[tuple[str, datetime, datetime | None]]] = defaultdict(list)
    for user_id, org_id, joined_at, left_at in periods:
        by_user[user_id].append((org_id, joined_at, left_at))
    if not by_user:
        return
    credits: list[dict[str, Any]] = []
    deltas: dict[tuple[str, str, str, int], list[int]] = defaultdict(lambda: [0, 0, 0])
    for record in records:
        orgs = {
            org_id
            for org_id, joined_at, left_at in by_user.get(record.user_id, ())
            if joined_at <= record.occurred_at and (left_at is None or record.occurred_at < left_at)
        }
        for org_id in sorted(orgs):
            credits.append({"record_id": record.id, "organisation_id": org_id})
            d = deltas[(org_id, record.local_day, record.type, shard(record.user_id))]
            d[0] += 1
            d[1] += record.reduction_g
            d[2] += record.points
    if credits:
        await session.execute(insert(OrganisationCredit), credits)
        await _add(session, deltas)


async def count_reversed(session: AsyncSession, record: Record) -> None:
    """Take a reversed record out of the organisations it counted for."""
    orgs = list(
        await session.scalars(
            select(OrganisationCredit.organisation_id).where(
                OrganisationCredit.record_id == record.id
            )
        )
    )
    deltas: dict[tuple[str, str, str, int], list[int]] = {
        (org_id, record.local_day, record.type, shard(record.user_id)): [
            -1,
            -record.reduction_g,
            -record.points,
        ]
        for org_id in orgs
    }
    await _add(session, deltas)


async def _add(session: AsyncSession, deltas: dict[tuple[str, str, str, int], list[int]]) -> None:
    if not deltas:
        return
    dialect = session.get_bind().dialect.name
    table = cast(Table, OrganisationDaily.__table__)
    stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    c = table.c
    stmt = stmt.on_conflict_do_update(
        index_elements=[c.organisation_id, c.day, c.code, c.shard],
        set_={
            "records": c.records + stmt.excluded.records,
            "reduction_g": c.reduction_g + stmt.excluded.reduction_g,
            "points": c.points + stmt.excluded.points,
        },
    )
    rows = [
        {
            "organisation_id": org_id,
            "day": day,
            "code": code,
            "shard": s,
            "records": n,
            "reduction_g": grams,
            "points": points,
        }
        for (org_id, day, code, s), (n, grams, points) in sorted(deltas.items())
    ]
    await session.execute(stmt.values(rows))


def _bucket(day: str, group_by: str) -> str:
    return day[:7] if group_by == "month" else day


async def organisation_stats(
    session: AsyncSession,
    org: Organisation,
    start: date,
    end: date,
    group_by: str,
    tz: tzinfo,
) -> dict[str, Any]:
    """Members, reductions and points per period (local day or month, in ``tz``, the
    platform's zone) and methodology over [start, end], from the maintained rows. ``members``
    counts the citizens who were members at some time in the period."""
    first, last = start.isoformat(), end.isoformat()
    bucket = (
        func.substr(OrganisationDaily.day, 1, 7) if group_by == "month" else OrganisationDaily.day
    )
    rows = await session.execute(
        select(
            bucket.label("period"),
            OrganisationDaily.code,
            func.sum(OrganisationDaily.records),
            func.sum(OrganisationDaily.reduction_g),
            func.sum(OrganisationDaily.points),
        )
        .where(
            OrganisationDaily.organisation_id == org.id,
            OrganisationDaily.day >= first,
            OrganisationDaily.day <= last,
        )
        .group_by("period", OrganisationDaily.code)
    )
    periods: dict[str, dict[str, Any]] = {}
    for period, code, n, grams, points in rows:
        p = periods.setdefault(
            period,
            {"period": period, "records": 0, "reduction_g": 0, "points": 0, "by_methodology": []},
        )
        n, grams, points = int(n), int(grams), int(points)
        if n == 0 and grams == 0 and points == 0:
            continue  # every record of it was reversed
        p["records"] += n
        p["reduction_g"] += grams
        p["points"] += points
        p["by_methodology"].append(
            {"code": code, "records": n, "reduction_g": grams, "points": points}
        )
    members = await _members_per_period(session, org.id, start, end, group_by, tz)
    items = []
    for key in _period_keys(start, end, group_by):
        p = periods.get(
            key, {"period": key, "records": 0, "reduction_g": 0, "points": 0, "by_methodology": []}
        )
        p["by_methodology"].sort(key=lambda m: m["code"])
        p["members"] = members.get(key, 0)
        items.append(p)
    return {
        "organisation": {"id": org.id, "name": org.name, "kind": org.kind, "region": org.region},
        "from": start,
        "to": end,
        "group_by": group_by,
        "member_count": org.member_count,
        "periods": items,
        "totals": {
            "records": sum(p["records"] for p in items),
            "reduction_g": sum(p["reduction_g"] for p in items),
            "points": sum(p["points"] for p in items),
        },
    }


def _period_keys(start: date, end: date, group_by: str) -> list[str]:
    keys: list[str] = []
    day = start
    while day <= end:
        key = _bucket(day.isoformat(), group_by)
        if not keys or keys[-1] != key:
            keys.append(key)
        day += timedelta(days=1)
    return keys


async def _members_per_period(
    session: AsyncSession, org_id: str, start: date, end: date, group_by: str, tz: tzinfo
) -> dict[str, int]:
    """Distinct citizens with a membership period overlapping each period, membership times
    taken as local days in ``tz`` like the periods themselves (by UTC date, a citizen who
    joined after midnight UTC but before local midnight west of Greenwich went uncounted that
    day). One pass over the organisation's membership periods in the range, whatever its
    members recorded."""
    keys = _period_keys(start, end, group_by)
    index = {key: i for i, key in enumerate(keys)}
    after = datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz)
    before = datetime.combine(start, time.min, tzinfo=tz)
    rows = await session.execute(
        select(Membership.user_id, Membership.joined_at, Membership.left_at).where(
            Membership.organisation_id == org_id,
            Membership.joined_at < after,
            or_(Membership.left_at.is_(None), Membership.left_at >= before),
        )
    )
    spans: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for user_id, joined_at, left_at in rows:
        first = max(joined_at.astimezone(tz).date(), start)
        last = min(left_at.astimezone(tz).date(), end) if left_at is not None else end
        if first <= last:
            spans[user_id].append(
                (
                    index[_bucket(first.isoformat(), group_by)],
                    index[_bucket(last.isoformat(), group_by)],
                )
            )
    diff = [0] * (len(keys) + 1)
    for ranges in spans.values():  # a citizen's overlapping periods count once
        ranges.sort()
        lo, hi = ranges[0]
        for a, b in ranges[1:]:
            if a <= hi + 1:
                hi = max(hi, b)
                continue
            diff[lo] += 1
            diff[hi + 1] -= 1
            lo, hi = a, b
        diff[lo] += 1
        diff[hi + 1] -= 1
    out, running = {}, 0
    for i, key in enumerate(keys):
        running += diff[i]
        out[key] = running
    return out


def period_range(period: str, today: date) -> tuple[str | None, str]:
    """The local days a leaderboard period covers, up to today."""
    if period == "day":
        return today.isoformat(), today.isoformat()
    if period == "week":
        return (today - timedelta(days=today.weekday())).isoformat(), today.isoformat()
    if period == "month":
        return today.replace(day=1).isoformat(), today.isoformat()
    return None, today.isoformat()


async def leaderboard(
    session: AsyncSession,
    *,
    period: str,
    today: date,
    kind: str | None,
    region: str | None,
    limit: int,
) -> dict[str, Any]:
    """Organisations ranked by their members' verified reductions in the period."""
    first, last = period_range(period, today)
    grams = func.sum(OrganisationDaily.reduction_g)
    conditions = [OrganisationDaily.day <= last]
    if first is not None:
        conditions.append(OrganisationDaily.day >= first)
    if kind:
        conditions.append(Organisation.kind == kind)
    if region:
        conditions.append(Organisation.region == region)
    rows = await session.execute(
        select(
            Organisation.id,
            Organisation.name,
            Organisation.kind,
            Organisation.region,
            Organisation.member_count,
            grams.label("grams"),
            func.sum(OrganisationDaily.points),
        )
        .join(Organisation, Organisation.id == OrganisationDaily.organisation_id)
        .where(and_(*conditions))
        .group_by(
            Organisation.id,
            Organisation.name,
            Organisation.kind,
            Organisation.region,
            Organisation.member_count,
        )
        .having(grams > 0)
        .order_by(grams.desc(), Organisation.id)
        .limit(limit)
    )
    items = []
    rank, previous = 0, None
    for position, (org_id, name, org_kind, org_region, members, total, points) in enumerate(
        rows, start=1
    ):
        if total != previous:
            rank, previous = position, total
        items.append(
            {
                "rank": rank,
                "organisation": {
                    "id": org_id,
                    "name": name,
                    "kind": org_kind,
                    "region": org_region,
                },
                "member_count": members,
                "reduction_g": int(total),
                "points": int(points),
            }
        )
    return {
        "period": period,
        "from": first,
        "to": last,
        "kind": kind,
        "region": region,
        "items": items,
    }
