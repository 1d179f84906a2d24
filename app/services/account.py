"""The citizen's carbon account: balances, lifetime totals, what expires next, ledger lines."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import utcnow
from app.kit.pagination import Keyset
from app.models import LedgerEntry, LedgerTransaction, PointLot, Record
from app.services import ledger


async def summary(session: AsyncSession, user_id: str, expiring_items: int = 5) -> dict[str, Any]:
    now = utcnow()
    bal = await ledger.balances(session, user_id)
    lifetime_points = await session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount), 0))
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(
            LedgerEntry.account_id == ledger.available_account(user_id),
            LedgerTransaction.kind == "credit",
        )
    )
    lifetime_g = await session.scalar(
        select(func.coalesce(func.sum(Record.reduction_g), 0)).where(
            Record.user_id == user_id, Record.status == "credited", Record.reversed_at.is_(None)
        )
    )
    expiring = await session.execute(
        select(PointLot.expires_at, func.sum(PointLot.remaining))
        .where(PointLot.user_id == user_id, PointLot.remaining > 0, PointLot.expires_at > now)
        .group_by(PointLot.expires_at)
        .order_by(PointLot.expires_at)
        .limit(expiring_items)
    )
    return {
        "balance": await ledger.spendable(session, user_id, now),
        "held": bal.held,
        "debt": bal.debt,
        "lifetime_points": int(lifetime_points or 0),
        "lifetime_reduction_g": int(lifetime_g or 0),
        "expiring": [{"points": int(points), "expires_at": at} for at, points in expiring],
    }


LINES = Keyset((LedgerEntry.seq,))


async def lines(
    session: AsyncSession, user_id: str, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """The citizen's available-points lines, newest first, with the balance after each."""
    query = (
        select(LedgerEntry, LedgerTransaction)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(LedgerEntry.account_id == ledger.available_account(user_id))
    )
    rows, next_cursor = LINES.page(
        (await session.execute(LINES.apply(query, cursor, limit))).all(), limit, lambda r: r[0]
    )
    items = [
        {
            "id": txn.id,
            "kind": txn.kind,
            "points": entry.amount,
            "balance_after": entry.balance_after,
            "created_at": entry.created_at,
            "ref": txn.ref,
            "cause_type": txn.cause_type,
            "cause_id": txn.cause_id,
        }
        for entry, txn in rows
    ]
    return items, next_cursor
