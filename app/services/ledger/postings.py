"""The one posting path: every ledger row (transactions, entries, lots, lot draws, balances,
summaries) is written here, and nowhere else.

Credits, holds, settlements, releases, reversals, debt repayments and expiry each describe
what they want as ``Draft`` transactions; ``post`` checks every draft against the ledger's
rules before writing anything, then writes them all with a fixed handful of bulk statements.
A broken rule is a bug in the caller, never a user error: it raises ``LedgerInvariantError``
(a real exception, which ``python -O`` keeps, unlike ``assert``) and the unit of work rolls
back.

The rules:

- a transaction has two or more non-zero entries summing to zero, on accounts this database
  transaction has locked;
- no account leaves its sign: issuance is the only account below zero, a debt account is
  never above zero, every other account never below zero;
- lots follow the citizen's available account exactly: a posting changes a citizen's
  available balance by the points of the lot it creates minus what it draws from lots, and
  never takes a lot below zero or above its amount. Since lots then always sum to the
  available balance and none is negative, the spendable balance (the unexpired lots) never
  goes below zero;
- each transaction is sealed with its hash (``proofs``), from its own content only;
- each citizen's summary row is rewritten from the locked balances in the same statement
  batch, so it always equals what the entries say.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.db import new_id, utcnow
from app.kit.bulk import insert_rows, together, update_rows
from app.models import AccountSummary, LedgerEntry, LedgerTransaction, LotDraw, PointLot
from app.models.ledger import AccountKind
from app.services.ledger import proofs
from app.services.ledger.accounts import ACCOUNTS, Locked, locked, table
from app.services.ledger.errors import LedgerInvariantError

NEGATIVE_ALLOWED = frozenset({AccountKind.ISSUANCE, AccountKind.DEBT})


@dataclass(frozen=True)
class Draw:
    """Points taken from a lot (positive) or given back to it (negative)."""

    lot_id: str
    amount: int
    remaining: int  # the lot's remaining points before this draw
    lot_amount: int


@dataclass
class Draft:
    """One transaction to post. ``legs`` are (account id, signed amount)."""

    ref: str
    kind: str
    cause_type: str
    cause_id: str | None
    user_id: str | None
    legs: list[tuple[str, int]]
    memo: dict[str, Any] | None = None
    lot_expires_at: datetime | None = None  # a credit: the new lot holds the available leg
    draws: list[Draw] = field(default_factory=list)
    lifetime_grams: int = 0  # reduction credited (or, negative, reversed) with this posting
    decision_hash: str | None = None  # the record decision a credit comes from (see proofs)


@dataclass(frozen=True)
class Posted:
    """A ledger transaction as it was written (or found, for a replayed ref)."""

    id: str
    ref: str
    kind: str
    cause_type: str
    cause_id: str | None
    user_id: str | None
    memo: dict[str, Any] | None
    created_at: datetime


@dataclass
class _Summary:
    lifetime_points: int = 0
    lifetime_grams: int = 0


def _fail(ref: str, why: str) -> LedgerInvariantError:
    return LedgerInvariantError(f"posting {ref} refused: {why}")


def _apply(draft: Draft, accounts: dict[str, Locked], lots: dict[str, int]) -> list[Any]:
    """Check one draft and apply it to the in-memory balances; returns its entries as
    (account id, amount, balance after)."""
    legs = [(account_id, amount) for account_id, amount in draft.legs if amount != 0]
    if len(legs) < 2:
        raise _fail(draft.ref, f"a transaction needs two or more entries, got {legs}")
    if sum(amount for _, amount in legs) != 0:
        raise _fail(draft.ref, f"entries do not sum to zero: {legs}")
    if len({account_id for account_id, _ in legs}) != len(legs):
        raise _fail(draft.ref, f"an account appears twice: {legs}")
    entries = []
    available_change: dict[str, int] = defaultdict(int)
    for account_id, amount in legs:
        account = accounts.get(account_id)
        if account is None:
            raise _fail(draft.ref, f"account {account_id} is not locked")
        after = account.balance + amount
        if account.kind == AccountKind.DEBT and after > 0:
            raise _fail(draft.ref, f"debt account {account_id} would be {after}")
        if account.kind not in NEGATIVE_ALLOWED and after < 0:
            raise _fail(draft.ref, f"account {account_id} would be {after}")
        if account.owner is not None and account.kind in (
            AccountKind.AVAILABLE,
            AccountKind.HELD,
            AccountKind.DEBT,
        ):
            if account.owner != draft.user_id:
                raise _fail(draft.ref, f"{account_id} is not the account of {draft.user_id}")
            if account.kind == AccountKind.AVAILABLE:
                available_change[account.owner] += amount
        account.balance = after
        entries.append((account_id, amount, after))
    lot_points = 0
    if draft.lot_expires_at is not None:
        lot_points = next((a for acc, a in legs if acc.endswith(":available")), 0)
        if lot_points <= 0:
            raise _fail(draft.ref, "a new lot needs points credited to the available account")
    drawn = 0
    for draw in draft.draws:
        before = lots.get(draw.lot_id, draw.remaining)
        after = before - draw.amount
        if draw.amount == 0 or not 0 <= after <= draw.lot_amount:
            raise _fail(draft.ref, f"lot {draw.lot_id} would hold {after} of {draw.lot_amount}")
        lots[draw.lot_id] = after
        drawn += draw.amount
    if draft.user_id is not None and available_change.get(draft.user_id, 0) != lot_points - drawn:
        raise _fail(
            draft.ref,
            f"lots change by {lot_points - drawn} but the available balance by "
            f"{available_change.get(draft.user_id, 0)}",
        )
    return entries


async def post(
    session: AsyncSession, drafts: list[Draft], reductions: dict[str, int] | None = None
) -> list[Posted]:
    """Check and write the drafts, in order, on accounts this transaction has locked.

    ``reductions`` are grams credited to citizens without points (a record over its daily
    cap): no entry, but their summaries count them, under the same locks."""
    if not drafts and not reductions:
        return []
    accounts = locked(session)
    before = {account_id: account.balance for account_id, account in accounts.items()}
    now = utcnow()
    lots_after: dict[str, int] = {}
    posted: list[Posted] = []
    txn_rows: list[dict[str, Any]] = []
    entry_rows: list[dict[str, Any]] = []
    lot_rows: list[dict[str, Any]] = []
    draw_rows: list[dict[str, Any]] = []
    summaries: dict[str, _Summary] = {
        user_id: _Summary(lifetime_grams=grams) for user_id, grams in (reductions or {}).items()
    }
    try:
        for draft in drafts:
            entries = _apply(draft, accounts, lots_after)
            txn = Posted(
                new_id(),
                draft.ref,
                draft.kind,
                draft.cause_type,
                draft.cause_id,
                draft.user_id,
                draft.memo,
                now,
            )
            posted.append(txn)
            txn_rows.append(
                {
                    "id": txn.id,
                    "ref": txn.ref,
                    "kind": txn.kind,
                    "cause_type": txn.cause_type,
                    "cause_id": txn.cause_id,
                    "user_id": txn.user_id,
                    "memo": txn.memo,
                    "created_at": now,
                    "decision_hash": draft.decision_hash,
                    "hash": proofs.transaction_hash(
                        id=txn.id,
                        ref=txn.ref,
                        kind=txn.kind,
                        cause_type=txn.cause_type,
                        cause_id=txn.cause_id,
                        user_id=txn.user_id,
                        memo=txn.memo,
                        created_at=now,
                        decision_hash=draft.decision_hash,
                        entries=entries,
                    ),
                }
            )
            entry_rows.extend(
                {
                    "transaction_id": txn.id,
                    "account_id": account_id,
                    "amount": amount,
                    "balance_after": after,
                    "created_at": now,
                }
                for account_id, amount, after in entries
            )
            if draft.user_id is not None:
                summary = summaries.setdefault(draft.user_id, _Summary())
                summary.lifetime_grams += draft.lifetime_grams
            if draft.lot_expires_at is not None:
                if draft.user_id is None:
                    raise _fail(draft.ref, "a lot needs a citizen")
                points = next(a for acc, a, _ in entries if acc.endswith(":available"))
                summaries[draft.user_id].lifetime_points += points
                lot_rows.append(
                    {
                        "id": new_id(),
                        "user_id": draft.user_id,
                        "transaction_id": txn.id,
                        "amount": points,
                        "remaining": points,
                        "expires_at": draft.lot_expires_at,
                        "created_at": now,
                    }
                )
            draw_rows.extend(
                {
                    "transaction_id": txn.id,
                    "lot_id": draw.lot_id,
                    "user_id": draft.user_id,
                    "amount": draw.amount,
                }
                for draw in draft.draws
            )
    except LedgerInvariantError:
        for account_id, balance in before.items():
            accounts[account_id].balance = balance
        raise
    changed = [
        {"id": account_id, "balance": account.balance}
        for account_id, account in sorted(accounts.items())
        if before.get(account_id) != account.balance
    ]
    async with together(session):  # one statement on PostgreSQL
        if txn_rows:
            await _write(session, txn_rows, entry_rows, lot_rows, lots_after, draw_rows)
        await update_rows(session, ACCOUNTS, "id", changed)
        await _save_summaries(session, accounts, summaries)
    return posted


_LOTS = table(PointLot)
TXNS = table(LedgerTransaction).c
# A transaction's columns as ``Posted`` holds them; with the decision hash, what its own hash
# covers (besides its entries).
POSTED_COLUMNS = (
    TXNS.id,
    TXNS.ref,
    TXNS.kind,
    TXNS.cause_type,
    TXNS.cause_id,
    TXNS.user_id,
    TXNS.memo,
    TXNS.created_at,
)
HASHED_COLUMNS = (*POSTED_COLUMNS, TXNS.decision_hash)


async def _write(
    session: AsyncSession,
    txn_rows: list[dict[str, Any]],
    entry_rows: list[dict[str, Any]],
    lot_rows: list[dict[str, Any]],
    lots_after: dict[str, int],
    draw_rows: list[dict[str, Any]],
) -> None:
    await insert_rows(session, table(LedgerTransaction), txn_rows)
    await insert_rows(session, table(LedgerEntry), entry_rows)
    await insert_rows(session, _LOTS, lot_rows)
    await update_rows(
        session,
        _LOTS,
        "id",
        [{"id": lot_id, "remaining": left} for lot_id, left in sorted(lots_after.items())],
    )
    await insert_rows(session, table(LotDraw), draw_rows)


async def _save_summaries(
    session: AsyncSession, accounts: dict[str, Locked], summaries: dict[str, _Summary]
) -> None:
    """Rewrite each citizen's summary from their locked balances (absolute values: the locks
    make them exact) and add the lifetime totals (relative: they are not kept elsewhere)."""
    if not summaries:
        return
    rows = []
    for user_id, summary in sorted(summaries.items()):
        balance = {
            kind: accounts[f"user:{user_id}:{kind}"].balance
            for kind in ("available", "held", "debt")
            if f"user:{user_id}:{kind}" in accounts
        }
        if len(balance) < 3:
            raise LedgerInvariantError(f"citizen {user_id} posted without their three locks")
        rows.append(
            {
                "user_id": user_id,
                "available": balance["available"],
                "held": balance["held"],
                "debt": -balance["debt"],
                "lifetime_points": summary.lifetime_points,
                "lifetime_grams": summary.lifetime_grams,
            }
        )
    await insert_rows(session, table(AccountSummary), rows, _upsert_summaries)


def _upsert_summaries(stmt: Any) -> Any:
    c = table(AccountSummary).c
    return stmt.on_conflict_do_update(
        index_elements=[c.user_id],
        set_={
            "available": stmt.excluded.available,
            "held": stmt.excluded.held,
            "debt": stmt.excluded.debt,
            "lifetime_points": c.lifetime_points + stmt.excluded.lifetime_points,
            "lifetime_grams": c.lifetime_grams + stmt.excluded.lifetime_grams,
        },
    )
