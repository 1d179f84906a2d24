"""Reads of the ledger for the citizen's account: maintained state, never a scan of history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    bindparam,
    cast,
    func,
    literal,
    null,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.db import UTCDateTime, utcnow
from app.kit.statements import fetch
from app.models import Account, AccountSummary, PointLot
from app.services.ledger.accounts import table, user_accounts

LOTS = table(PointLot).c
SUMMARY = table(AccountSummary).c


@dataclass(frozen=True)
class Balances:
    available: int
    held: int
    debt: int


async def balances(session: AsyncSession, user_id: str) -> Balances:
    ids = user_accounts(user_id)
    accounts = table(Account).c
    rows = {
        account_id: int(balance)
        for account_id, balance in await session.execute(
            select(accounts.id, accounts.balance).where(accounts.id.in_(ids))
        )
    }
    return Balances(rows.get(ids[0], 0), rows.get(ids[1], 0), -rows.get(ids[2], 0))


async def spendable(session: AsyncSession, user_id: str, now: datetime | None = None) -> int:
    """Points the citizen can spend now: unexpired lot remainders (lots sum to the available
    balance; points past expiry stay in it only until ``tanhui expire-points`` runs)."""
    total = await session.scalar(
        select(func.coalesce(func.sum(LOTS.remaining), 0)).where(
            LOTS.user_id == user_id, LOTS.remaining > 0, LOTS.expires_at > (now or utcnow())
        )
    )
    return int(total or 0)


@dataclass(frozen=True)
class Summary:
    spendable: int
    held: int
    debt: int
    lifetime_points: int
    lifetime_grams: int
    expiring: list[tuple[int, datetime]]


def _summary_query() -> Any:
    """One statement, so that on an autocommit connection the balance and the expiring lots
    come from one snapshot: the summary row (with what lies in lots past expiry but not swept
    yet, which is not spendable) and the next expiry dates, each an index range on
    ``(user_id, expires_at) WHERE remaining > 0``."""
    user: Any = bindparam("user_id")
    now: Any = bindparam("now", type_=UTCDateTime())
    lapsed = (
        select(func.coalesce(func.sum(LOTS.remaining), 0))
        .where(LOTS.user_id == user, LOTS.remaining > 0, LOTS.expires_at <= now)
        .scalar_subquery()
    )
    head = select(
        literal(0).label("part"),
        (SUMMARY.available - lapsed).label("points"),
        SUMMARY.held,
        SUMMARY.debt,
        SUMMARY.lifetime_points,
        SUMMARY.lifetime_grams,
        cast(null(), UTCDateTime()).label("expires_at"),
    ).where(SUMMARY.user_id == user)
    soon = (
        select(LOTS.expires_at, func.sum(LOTS.remaining).label("points"))
        .where(LOTS.user_id == user, LOTS.remaining > 0, LOTS.expires_at > now)
        .group_by(LOTS.expires_at)
        .order_by(LOTS.expires_at)
        .limit(bindparam("items"))
        .subquery()
    )
    zero = cast(literal(0), BigInteger)
    tail = select(literal(1), soon.c.points, zero, zero, zero, zero, soon.c.expires_at)
    return union_all(head, tail)


_SUMMARY = _summary_query()


async def summary(conn: AsyncConnection, user_id: str, expiring_items: int = 5) -> Summary:
    params = {"user_id": user_id, "now": utcnow(), "items": expiring_items}
    # Each row: part, points, held, debt, lifetime points, lifetime grams, expires_at.
    rows = await fetch(conn, _SUMMARY, params)
    head = next((r for r in rows if r[0] == 0), None)
    expiring = sorted((r[6], int(r[1])) for r in rows if r[0] == 1)
    return Summary(
        spendable=int(head[1]) if head else 0,
        held=int(head[2]) if head else 0,
        debt=int(head[3]) if head else 0,
        lifetime_points=int(head[4]) if head else 0,
        lifetime_grams=int(head[5]) if head else 0,
        expiring=[(points, at) for at, points in expiring],
    )
