"""Expiry lots: each credit is a lot that expires ``points_ttl_days`` later.

Debits draw the soonest-expiring lots first and record what they drew (``lot_draws``), so a
released hold gives the points back to the very lots they came from. A citizen's lots are
guarded by their available-account lock. ``expire_lot`` posts a lot's unspent remainder, past
its expiry, to the expired account: one lot per short transaction, safe beside live traffic.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import UTCDateTime
from app.kit import bulk
from app.kit.statements import any_of, per_dialect
from app.models import LedgerTransaction, LotDraw, PointLot
from app.models.ledger import TransactionKind
from app.services.ledger.accounts import (
    available_account,
    lock,
    platform_account,
    table,
    user_accounts,
)
from app.services.ledger.errors import InsufficientPoints
from app.services.ledger.postings import Draft, Draw, post

LOTS = table(PointLot).c


@dataclass(frozen=True)
class OpenLot:
    id: str
    amount: int
    remaining: int


_OPEN = (
    select(LOTS.id, LOTS.amount, LOTS.remaining)
    .where(LOTS.user_id == bindparam("user_id"), LOTS.remaining > 0)
    .order_by(LOTS.expires_at, LOTS.id)
)


async def open_lots(session: AsyncSession, user_id: str) -> list[OpenLot]:
    """The citizen's lots with points left, past expiry or not, soonest-expiring first
    (partial index): what a debt repayment or a reversal takes back from. A spend reads
    ``spendable_of``."""
    await bulk.flush(session)  # lots written in this unit of work and still waiting count
    rows = await session.execute(_OPEN, {"user_id": user_id})
    return [OpenLot(r.id, int(r.amount), int(r.remaining)) for r in rows]


# PostgreSQL: per citizen, a walk along their open lots in spending order (an index probe on
# ``(user_id, expires_at, id) WHERE remaining > 0`` per step) that stops once the lots walked
# cover the points: the cost is the lots a spend draws from, however many a long history left
# open. A citizen who holds too few is walked to the end, so ``enough`` sees the total.
_WALK = text(
    """
    WITH RECURSIVE walk AS (
      SELECT u.user_id, l.id, l.amount, l.remaining, l.expires_at, l.remaining AS total
        FROM unnest(CAST(:user_ids AS VARCHAR[])) AS u(user_id)
        CROSS JOIN LATERAL (
          SELECT id, amount, remaining, expires_at FROM point_lots
           WHERE point_lots.user_id = u.user_id AND remaining > 0 AND expires_at > :now
           ORDER BY expires_at, id LIMIT 1) AS l
      UNION ALL
      SELECT w.user_id, n.id, n.amount, n.remaining, n.expires_at, w.total + n.remaining
        FROM walk AS w
        CROSS JOIN LATERAL (
          SELECT id, amount, remaining, expires_at FROM point_lots
           WHERE point_lots.user_id = w.user_id AND remaining > 0 AND expires_at > :now
             AND (expires_at, id) > (w.expires_at, w.id)
           ORDER BY expires_at, id LIMIT 1) AS n
       WHERE w.total < :points
    )
    SELECT user_id, id, amount, remaining FROM walk ORDER BY user_id, expires_at, id
    """
).bindparams(bindparam("now", type_=UTCDateTime()))


@per_dialect
def _spendable_of(dialect: str) -> Any:
    if dialect == "postgresql":
        return _WALK
    # Elsewhere (SQLite has no LATERAL): each lot with what the lots before it hold, the lots
    # with less than ``points`` before them kept.
    ordered = (LOTS.expires_at, LOTS.id)
    before = (
        func.sum(LOTS.remaining).over(partition_by=LOTS.user_id, order_by=ordered, rows=(None, 0))
        - LOTS.remaining
    )
    lots = (
        select(LOTS.user_id, LOTS.id, LOTS.amount, LOTS.remaining, *ordered, before.label("before"))
        .where(
            any_of(dialect, LOTS.user_id, "user_ids"),
            LOTS.remaining > 0,
            LOTS.expires_at > bindparam("now"),
        )
        .subquery()
    )
    return (
        select(lots.c.user_id, lots.c.id, lots.c.amount, lots.c.remaining)
        .where(lots.c.before < bindparam("points"))
        .order_by(lots.c.user_id, lots.c.expires_at, lots.c.id)
    )


async def spendable_of(
    session: AsyncSession, user_ids: Iterable[str], points: int, now: datetime
) -> dict[str, list[OpenLot]]:
    """Several citizens' unexpired lots that a spend of ``points`` each draws from,
    soonest-expiring first, in one statement (call under their locks): all their lots when
    they hold fewer. A citizen with none is absent."""
    await bulk.flush(session)
    rows = await session.execute(
        _spendable_of(session), {"user_ids": list(user_ids), "points": points, "now": now}
    )
    found: dict[str, list[OpenLot]] = {}
    for r in rows:
        found.setdefault(r.user_id, []).append(OpenLot(r.id, int(r.amount), int(r.remaining)))
    return found


def enough(lots: list[OpenLot], points: int) -> list[OpenLot]:
    """``lots``, when they hold ``points``; else raises InsufficientPoints with what they hold."""
    have = sum(lot.remaining for lot in lots)
    if have < points:
        raise InsufficientPoints(
            f"This needs {points} points; {have} are spendable.", needed=points, spendable=have
        )
    return lots


async def spendable_lots(
    session: AsyncSession, user_id: str, points: int, now: datetime
) -> list[OpenLot]:
    """The unexpired lots a spend of ``points`` draws from (call under the citizen's lock).
    Raises InsufficientPoints, with what is spendable, when they hold too few."""
    lots = await spendable_of(session, [user_id], points, now)
    return enough(lots.get(user_id, []), points)


def plan_draws(lots: list[OpenLot], points: int, first_lot: str | None = None) -> list[Draw]:
    """Take up to ``points`` from the lots in order (``first_lot`` before the others)."""
    if first_lot is not None:
        lots = sorted(lots, key=lambda lot: lot.id != first_lot)
    draws = []
    left = points
    for lot in lots:
        if left == 0:
            break
        take = min(lot.remaining, left)
        draws.append(Draw(lot.id, take, lot.remaining, lot.amount))
        left -= take
    return draws


async def draws_to_give_back(session: AsyncSession, transaction_id: str) -> list[Draw]:
    """What a transaction drew, as draws that return it to the same lots."""
    draws = table(LotDraw).c
    rows = await session.execute(
        select(draws.lot_id, draws.amount, LOTS.remaining, LOTS.amount.label("lot_amount"))
        .join(table(PointLot), LOTS.id == draws.lot_id)
        .where(draws.transaction_id == transaction_id)
        .order_by(draws.seq)
    )
    return [Draw(r.lot_id, -int(r.amount), int(r.remaining), int(r.lot_amount)) for r in rows]


async def expire_lot(session: AsyncSession, lot_id: str, now: datetime) -> int:
    """Post one lot's unspent remainder, past its expiry, to the expired account. Returns the
    points expired (0 when a concurrent spend or an earlier run left nothing)."""
    user_id = await session.scalar(select(LOTS.user_id).where(LOTS.id == lot_id))
    if user_id is None:
        return 0
    expired = platform_account("expired", user_id)
    await lock(session, [*user_accounts(user_id), expired])
    lot = (
        await session.execute(
            select(LOTS.amount, LOTS.remaining, LOTS.expires_at).where(LOTS.id == lot_id)
        )
    ).one()
    if lot.remaining <= 0 or lot.expires_at > now:
        return 0
    amount = int(lot.remaining)
    # A lot can expire more than once: a hold released after expiry refills it.
    txns = table(LedgerTransaction).c
    earlier = await session.scalar(
        select(func.count()).where(txns.cause_type == "expiry", txns.cause_id == lot_id)
    )
    await post(
        session,
        [
            Draft(
                ref=f"expiry:{lot_id}:{int(earlier or 0) + 1}",
                kind=TransactionKind.EXPIRY,
                cause_type="expiry",
                cause_id=lot_id,
                user_id=user_id,
                legs=[(available_account(user_id), -amount), (expired, amount)],
                draws=[Draw(lot_id, amount, amount, int(lot.amount))],
            )
        ],
    )
    return amount


async def due_lots(
    session: AsyncSession, now: datetime, limit: int, after: tuple[datetime, str] | None = None
) -> list[tuple[str, datetime]]:
    query = select(LOTS.id, LOTS.expires_at).where(LOTS.remaining > 0, LOTS.expires_at <= now)
    if after is not None:
        query = query.where(
            (LOTS.expires_at > after[0]) | ((LOTS.expires_at == after[0]) & (LOTS.id > after[1]))
        )
    rows = await session.execute(query.order_by(LOTS.expires_at, LOTS.id).limit(limit))
    return [(r[0], r[1]) for r in rows]


async def count_due_lots(session: AsyncSession, now: datetime) -> int:
    return int(
        await session.scalar(select(func.count()).where(LOTS.remaining > 0, LOTS.expires_at <= now))
        or 0
    )
