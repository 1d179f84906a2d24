"""Leaderboards by reduction: sorted sets per period bucket and region, in Redis when
configured (in-process otherwise). They are a cache of the database: counted after commit,
and rebuilt from credited records at any time."""

from __future__ import annotations

import logging
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db import after_commit
from app.kit.errors import ServiceUnavailable
from app.kv import KV, Increment
from app.models import Record, User
from app.models.records import RecordStatus
from app.observability import REDIS_FALLBACKS
from app.security import Actor
from app.services.admin import audit
from app.services.records.prepared import AnyRecord

PERIODS = ("day", "week", "month", "all")
PREFIX = "lb:"
_TTL_DAYS = {"day": 3, "week": 15, "month": 63}
_PENDING = "leaderboards.pending"
logger = logging.getLogger("tanhui.leaderboards")


def bucket(period: str, day: date) -> str:
    if period == "day":
        return day.isoformat()
    if period == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "month":
        return f"{day.year}-{day.month:02d}"
    return "all"


def key(period: str, day: date, region: str | None) -> str:
    return f"{PREFIX}{period}:{bucket(period, day)}:{region or 'all'}"


@lru_cache(maxsize=4096)
def _keys(day: date, region: str | None) -> tuple[tuple[str, int | None], ...]:
    """The boards a record of that day and region counts on, with their lifetimes (the same
    few days and regions recur in every unit of work: remembered)."""
    return tuple(
        (key(period, day, reg), _TTL_DAYS[period] * 86400 if period in _TTL_DAYS else None)
        for period in PERIODS
        for reg in {None, region}
    )


def _increments(day: date, region: str | None, user_id: str, grams: int) -> list[Increment]:
    return [Increment(k, user_id, grams, ttl) for k, ttl in _keys(day, region)]


def count_after_commit(
    session: AsyncSession, kv: KV, settings: Settings, record: AnyRecord
) -> None:
    """Count a credited record once the unit of work commits. The records of one unit of work
    are summed per board and citizen first (a batch of one citizen's records is a handful of
    increments, not eight per record), then go to Redis in one round trip."""
    pending: dict[tuple[str, str], list[Any]] | None = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = {}

        async def add() -> None:
            summed = session.info.pop(_PENDING, {})
            increments = [
                Increment(k, member, amount, ttl) for (k, member), (amount, ttl) in summed.items()
            ]
            try:
                await kv.zincrby_many(increments)
            except RedisError:
                REDIS_FALLBACKS.labels("leaderboards").inc()
                logger.warning(
                    "redis unreachable: leaderboards missed %d increments; rebuild them",
                    len(increments),
                )

        after_commit(session, add)
    for inc in _increments(
        date.fromisoformat(record.local_day), record.region, record.user_id, record.reduction_g
    ):
        if (found := pending.get((inc.key, inc.member))) is not None:
            found[0] += inc.amount
        else:
            pending[(inc.key, inc.member)] = [inc.amount, inc.ttl_seconds]


async def rebuild(session: AsyncSession, kv: KV, settings: Settings, *, actor: Actor) -> int:
    """Recompute every board from the credited, non-reversed records, and audit it. Returns
    rows read."""
    await kv.delete_prefix(PREFIX)
    rows = await session.execute(
        select(Record.user_id, Record.region, Record.local_day, func.sum(Record.reduction_g))
        .where(
            Record.status == RecordStatus.CREDITED,
            Record.reversed_at.is_(None),
            Record.reduction_g > 0,
        )
        .group_by(Record.user_id, Record.region, Record.local_day)
    )
    n = 0
    increments: list[Increment] = []
    for user_id, region, local_day, grams in rows:
        increments += _increments(date.fromisoformat(local_day), region, user_id, int(grams))
        n += 1
        if len(increments) >= 5000:
            await kv.zincrby_many(increments)
            increments = []
    await kv.zincrby_many(increments)
    await audit.record(
        session,
        actor=actor,
        action="leaderboards.rebuilt",
        target_type="leaderboards",
        target_id=None,
        after={"rows": n},
    )
    return n


async def board(
    session: AsyncSession,
    kv: KV,
    settings: Settings,
    period: str,
    region: str | None,
    me: str,
    limit: int,
    now: datetime,
) -> dict[str, Any]:
    k = key(period, now.astimezone(settings.tz).date(), region)
    try:
        top = await kv.ztop(k, limit)
        mine = await kv.zrank_score(k, me)
    except RedisError as exc:
        raise ServiceUnavailable("Leaderboards are unavailable while Redis is down.") from exc
    rows = await session.execute(
        select(User.id, User.display_name).where(User.id.in_([u for u, _ in top]))
    )
    names = {user_id: name for user_id, name in rows}
    return {
        "period": period,
        "bucket": bucket(period, now.astimezone(settings.tz).date()),
        "region": region,
        "items": _ranked(top, names, me),
        "me": {"rank": mine[0] + 1, "reduction_g": int(mine[1])} if mine else None,
    }


def _ranked(
    top: list[tuple[str, float]], names: dict[str, str | None], me: str
) -> list[dict[str, Any]]:
    """Standard competition ranking (1, 2, 2, 4); user ids stay inside: a user id is what a
    partner addresses records to, so showing it invites mischief."""
    out: list[dict[str, Any]] = []
    rank, previous = 0, None
    for position, (user_id, score) in enumerate(top, start=1):
        if score != previous:
            rank, previous = position, score
        out.append(
            {
                "rank": rank,
                "display_name": names.get(user_id),
                "reduction_g": int(score),
                "is_me": user_id == me,
            }
        )
    return out
