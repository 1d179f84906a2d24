"""Recompute every balance from the entries and prove the ledger's invariants."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import (
    Account,
    AccountSummary,
    Donation,
    Hold,
    LedgerEntry,
    LedgerTransaction,
    LotDraw,
    PointLot,
    Record,
)
from app.models.ledger import AccountKind, HoldStatus, MismatchKind, TransactionKind
from app.models.records import RecordStatus
from app.observability import LEDGER_CHECK_OK


async def _sums(session: AsyncSession, query: Select[Any]) -> dict[str, int]:
    return {key: int(total or 0) for key, total in await session.execute(query)}


async def check(session: AsyncSession, max_reported: int = 100) -> dict[str, Any]:
    """Every account's stored balance equals the sum of its entries and its last
    ``balance_after``; every transaction sums to zero with at least two entries; balances keep
    their sign; each citizen's lots sum to the available balance; held balances equal the
    open holds; each lot's remaining equals its amount minus what was drawn from it; each
    citizen's maintained summary equals their balances, credits and credited records."""
    if session.get_bind().dialect.name == "postgresql" and not session.in_transaction():
        # One snapshot for every query below: under READ COMMITTED each statement would see
        # the postings committed since the previous one, and report differences that never
        # existed (lots read before a credit, balances after it).
        await session.connection(
            execution_options={"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        )
    mismatches: list[dict[str, Any]] = []

    sums = (
        select(
            LedgerEntry.account_id,
            func.sum(LedgerEntry.amount).label("total"),
            func.max(LedgerEntry.seq).label("last_seq"),
        )
        .group_by(LedgerEntry.account_id)
        .subquery()
    )
    rows = await session.execute(
        select(Account.id, Account.kind, Account.balance, sums.c.total, LedgerEntry.balance_after)
        .outerjoin(sums, sums.c.account_id == Account.id)
        .outerjoin(LedgerEntry, LedgerEntry.seq == sums.c.last_seq)
    )
    accounts = 0
    available: dict[str, int] = {}
    held: dict[str, int] = {}
    debt: dict[str, int] = {}
    for account_id, kind, balance, total, last_after in rows:
        accounts += 1
        total = int(total or 0)
        if balance != total:
            mismatches.append(
                {
                    "kind": MismatchKind.BALANCE_DIFFERS_FROM_ENTRIES,
                    "account": account_id,
                    "stored": balance,
                    "sum_of_entries": total,
                }
            )
        if last_after is not None and last_after != balance:
            mismatches.append(
                {
                    "kind": MismatchKind.LAST_BALANCE_AFTER_DIFFERS,
                    "account": account_id,
                    "stored": balance,
                    "balance_after": int(last_after),
                }
            )
        negative_ok = kind in (AccountKind.ISSUANCE, AccountKind.DEBT)
        if (balance < 0 and not negative_ok) or (kind == AccountKind.DEBT and balance > 0):
            mismatches.append(
                {"kind": MismatchKind.BALANCE_SIGN, "account": account_id, "stored": balance}
            )
        owner = account_id.split(":")[1] if account_id.startswith("user:") else None
        if owner and kind == AccountKind.AVAILABLE:
            available[owner] = balance
        if owner and kind == AccountKind.HELD:
            held[owner] = balance
        if owner and kind == AccountKind.DEBT:
            debt[owner] = -balance

    unbalanced = await session.execute(
        select(LedgerEntry.transaction_id, func.sum(LedgerEntry.amount), func.count())
        .group_by(LedgerEntry.transaction_id)
        .having((func.sum(LedgerEntry.amount) != 0) | (func.count() < 2))
    )
    for txn_id, total, count in unbalanced:
        mismatches.append(
            {
                "kind": MismatchKind.TRANSACTION_UNBALANCED,
                "transaction": txn_id,
                "sum": int(total),
                "entries": int(count),
            }
        )
    transactions = int(
        await session.scalar(select(func.count(func.distinct(LedgerEntry.transaction_id)))) or 0
    )

    lots = await _sums(
        session, select(PointLot.user_id, func.sum(PointLot.remaining)).group_by(PointLot.user_id)
    )
    for user_id in set(lots) | set(available):
        if lots.get(user_id, 0) != available.get(user_id, 0):
            mismatches.append(
                {
                    "kind": MismatchKind.LOTS_DIFFER_FROM_AVAILABLE,
                    "user": user_id,
                    "lots": lots.get(user_id, 0),
                    "available": available.get(user_id, 0),
                }
            )

    open_holds = await _sums(
        session,
        select(Hold.user_id, func.sum(Hold.amount))
        .where(Hold.status == HoldStatus.HELD)
        .group_by(Hold.user_id),
    )
    for user_id in set(open_holds) | set(held):
        if open_holds.get(user_id, 0) != held.get(user_id, 0):
            mismatches.append(
                {
                    "kind": MismatchKind.HOLDS_DIFFER_FROM_HELD,
                    "user": user_id,
                    "open_holds": open_holds.get(user_id, 0),
                    "held": held.get(user_id, 0),
                }
            )

    drawn = (
        select(LotDraw.lot_id, func.sum(LotDraw.amount).label("drawn"))
        .group_by(LotDraw.lot_id)
        .subquery()
    )
    bad_lots = await session.execute(
        select(PointLot.id, PointLot.amount, PointLot.remaining, drawn.c.drawn)
        .outerjoin(drawn, drawn.c.lot_id == PointLot.id)
        .where(PointLot.amount - func.coalesce(drawn.c.drawn, 0) != PointLot.remaining)
    )
    for lot_id, amount, remaining, taken in bad_lots:
        mismatches.append(
            {
                "kind": MismatchKind.LOT_DRAWS_DIFFER,
                "lot": lot_id,
                "amount": amount,
                "remaining": remaining,
                "drawn": int(taken or 0),
            }
        )

    mismatches.extend(await _summaries(session, available, held, debt))
    mismatches.extend(await _projects(session))

    ok = not mismatches
    LEDGER_CHECK_OK.set(1 if ok else 0)
    return {
        "ok": ok,
        "accounts_checked": accounts,
        "transactions_checked": transactions,
        "mismatches": mismatches[:max_reported],
        "mismatch_count": len(mismatches),
    }


async def _summaries(
    session: AsyncSession, available: dict[str, int], held: dict[str, int], debt: dict[str, int]
) -> list[dict[str, Any]]:
    """The maintained summaries against what they summarise: balances (themselves checked
    against the entries above), credit entries and credited, unreversed records."""
    credited = await _sums(
        session,
        select(Account.owner_id, func.sum(LedgerEntry.amount))
        .join(LedgerEntry, LedgerEntry.account_id == Account.id)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(
            Account.kind == AccountKind.AVAILABLE, LedgerTransaction.kind == TransactionKind.CREDIT
        )
        .group_by(Account.owner_id),
    )
    grams = await _sums(
        session,
        select(Record.user_id, func.sum(Record.reduction_g))
        .where(Record.status == RecordStatus.CREDITED, Record.reversed_at.is_(None))
        .group_by(Record.user_id),
    )
    stored = {
        row.user_id: row
        for row in await session.execute(
            select(
                AccountSummary.user_id,
                AccountSummary.available,
                AccountSummary.held,
                AccountSummary.debt,
                AccountSummary.lifetime_points,
                AccountSummary.lifetime_grams,
            )
        )
    }
    expected_of = {
        "available": available,
        "held": held,
        "debt": debt,
        "lifetime_points": credited,
        "lifetime_grams": grams,
    }
    users = set(stored).union(*expected_of.values())
    mismatches: list[dict[str, Any]] = []
    for user_id in sorted(users):
        row = stored.get(user_id)
        for field, expected in expected_of.items():
            have = int(getattr(row, field)) if row is not None else 0
            if have != expected.get(user_id, 0):
                mismatches.append(
                    {
                        "kind": MismatchKind.SUMMARY_DIFFERS,
                        "user": user_id,
                        "field": field,
                        "stored": have,
                        "expected": expected.get(user_id, 0),
                    }
                )
    return mismatches


async def _projects(session: AsyncSession) -> list[dict[str, Any]]:
    """Each public-good project's account (the sum of its shards) holds exactly the points of
    its donations."""
    donated = await _sums(
        session,
        select(Donation.project_id, func.sum(Donation.points)).group_by(Donation.project_id),
    )
    balances = await _sums(
        session,
        select(Account.owner_id, func.sum(Account.balance))
        .where(Account.kind == AccountKind.PROJECT)
        .group_by(Account.owner_id),
    )
    return [
        {
            "kind": MismatchKind.PROJECT_DIFFERS_FROM_DONATIONS,
            "project": project_id,
            "balance": balances.get(project_id, 0),
            "donations": donated.get(project_id, 0),
        }
        for project_id in sorted(set(donated) | set(balances))
        if balances.get(project_id, 0) != donated.get(project_id, 0)
    ]
