"""The citizen's carbon account: balances, lifetime totals, what expires next, ledger lines."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.db import read_only
from app.kit.pagination import Keyset
from app.models import LedgerEntry, LedgerTransaction
from app.services import ledger


async def summary(engine: AsyncEngine, user_id: str, expiring_items: int = 5) -> dict[str, Any]:
    """From the summary the ledger maintains: one statement on a read-only connection, whose
    cost does not grow with the citizen's history, and no unit of work to commit."""
    async with read_only(engine) as conn:
        found = await ledger.summary(conn, user_id, expiring_items)
    return {
        "balance": found.spendable,
        "held": found.held,
        "debt": found.debt,
        "lifetime_points": found.lifetime_points,
        "lifetime_reduction_g": found.lifetime_grams,
        "expiring": [{"points": points, "expires_at": at} for points, at in found.expiring],
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
