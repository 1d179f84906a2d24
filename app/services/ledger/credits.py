"""Credits (single and bulk), debt repayment and clawback (reversal)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.errors import InvalidState
from app.models import LedgerEntry, LedgerTransaction, PointLot
from app.models.ledger import TransactionKind
from app.services.ledger.accounts import (
    available_account,
    debt_account,
    lock,
    platform_account,
    table,
    user_accounts,
)
from app.services.ledger.errors import LedgerInvariantError
from app.services.ledger.lots import open_lots, plan_draws
from app.services.ledger.postings import POSTED_COLUMNS, Draft, Posted, post

TXNS = table(LedgerTransaction).c


async def find(session: AsyncSession, ref: str) -> Posted | None:
    """The transaction already posted under ``ref``, if any (refs make postings idempotent)."""
    row = (await session.execute(select(*POSTED_COLUMNS).where(TXNS.ref == ref))).first()
    return None if row is None else Posted(*row)


@dataclass(frozen=True)
class Credit:
    """Points (and the reduction behind them) to credit to a citizen as a new lot. A record
    over its daily cap is credited with ``points == 0``: no entry, but its grams count."""

    user_id: str
    points: int
    ref: str
    cause_type: str
    cause_id: str | None
    expires_at: datetime
    reduction_g: int = 0
    decision_hash: str | None = None  # the record decision behind it (see ``proofs``)


def _credit_draft(c: Credit, issuance: str | None = None) -> Draft:
    return Draft(
        ref=c.ref,
        kind=TransactionKind.CREDIT,
        cause_type=c.cause_type,
        cause_id=c.cause_id,
        user_id=c.user_id,
        legs=[
            (issuance or platform_account("issuance", c.user_id), -c.points),
            (available_account(c.user_id), c.points),
        ],
        lot_expires_at=c.expires_at,
        lifetime_grams=c.reduction_g,
        decision_hash=c.decision_hash,
    )


async def credit(
    session: AsyncSession,
    *,
    user_id: str,
    points: int,
    ref: str,
    cause_type: str,
    cause_id: str | None,
    expires_at: datetime,
    reduction_g: int = 0,
) -> Posted:
    """Issue ``points`` to the citizen as a new lot; a citizen in debt repays it first.
    Posting an existing ref again returns the first transaction and posts nothing."""
    if points <= 0:
        raise LedgerInvariantError(f"a credit needs points > 0, got {points} for {ref}")
    accounts = await lock(session, [*user_accounts(user_id), platform_account("issuance", user_id)])
    if (found := await find(session, ref)) is not None:
        return found
    c = Credit(user_id, points, ref, cause_type, cause_id, expires_at, reduction_g)
    [txn] = await post(session, [_credit_draft(c)])
    await _repay_debt(session, c, -accounts[debt_account(user_id)].balance)
    return txn


async def _repay_debt(session: AsyncSession, c: Credit, owed: int) -> None:
    """A citizen in debt repays it from the points just credited (and any others left)."""
    repay = min(owed, c.points)
    if repay <= 0:
        return
    lots = await open_lots(session, c.user_id)
    await post(
        session,
        [
            Draft(
                ref=f"{c.ref}:repay-debt",
                kind=TransactionKind.DEBT_REPAYMENT,
                cause_type=c.cause_type,
                cause_id=c.cause_id,
                user_id=c.user_id,
                legs=[(available_account(c.user_id), -repay), (debt_account(c.user_id), repay)],
                draws=plan_draws(lots, repay),
            )
        ],
    )


async def credit_many(
    session: AsyncSession, credits: list[Credit], issuance: str | None = None
) -> list[str | None]:
    """Post many credits as ``credit`` would one by one, with one bulk posting; returns the
    transaction ids in order (None for a credit of zero points, which only counts grams).

    For new refs only (records carry fresh ids): a ref that exists already is refused by the
    unique constraint and fails the unit of work. A citizen in debt is credited one by one,
    repaying the debt from the new lot. The issuance side of every credit is one shard
    (``issuance``, by default the first citizen's): units of work that credit many citizens at
    once (groups of records in flight together) then each hold one shard, rarely the same,
    instead of each holding a quarter of them. Unless the caller locked it already with its
    citizens, it is locked here, late in the unit of work, so that it is held only for its last
    statements."""
    if not credits:
        return []
    issuance = issuance or platform_account("issuance", credits[0].user_id)
    accounts = await lock(
        session, [issuance, *(a for c in credits for a in user_accounts(c.user_id))]
    )
    reductions: dict[str, int] = defaultdict(int)
    bulk: list[int] = []
    one_by_one: list[int] = []
    for i, c in enumerate(credits):
        if c.points < 0:
            raise LedgerInvariantError(f"a credit needs points >= 0, got {c.points} for {c.ref}")
        if c.points == 0:
            reductions[c.user_id] += c.reduction_g
        elif accounts[debt_account(c.user_id)].balance < 0:
            one_by_one.append(i)
        else:
            bulk.append(i)
    out: dict[int, str] = {}
    posted = await post(
        session, [_credit_draft(credits[i], issuance) for i in bulk], dict(reductions)
    )
    out.update((i, txn.id) for i, txn in zip(bulk, posted, strict=True))
    for i in one_by_one:
        c = credits[i]
        [txn] = await post(session, [_credit_draft(c, issuance)])
        await _repay_debt(session, c, -accounts[debt_account(c.user_id)].balance)
        out[i] = txn.id
    return [out.get(i) for i in range(len(credits))]


async def reverse(
    session: AsyncSession,
    *,
    transaction_id: str,
    ref: str,
    reason: str,
    actor_id: str | None,
    reduction_g: int = 0,
) -> Posted:
    """Claw back a credit. What is still available is taken back (from the credited lot first);
    points already spent or held are booked to the citizen's debt account, which later credits
    repay first. The available balance never goes below zero and no entry is ever changed.
    ``reduction_g`` leaves the citizen's lifetime grams with the points."""
    original = (
        await session.execute(
            select(TXNS.kind, TXNS.user_id, TXNS.cause_id).where(TXNS.id == transaction_id)
        )
    ).first()
    if original is None or original.kind != TransactionKind.CREDIT or original.user_id is None:
        raise InvalidState("Only a credit transaction can be reversed.")
    user_id: str = original.user_id
    avail, debt = available_account(user_id), debt_account(user_id)
    reversals = platform_account("reversals", user_id)
    accounts = await lock(session, [*user_accounts(user_id), reversals])
    if (found := await find(session, ref)) is not None:
        return found
    entries = table(LedgerEntry).c
    points = int(
        await session.scalar(
            select(entries.amount).where(
                entries.transaction_id == transaction_id, entries.account_id == avail
            )
        )
        or 0
    )
    lots = table(PointLot).c
    lot_id = await session.scalar(select(lots.id).where(lots.transaction_id == transaction_id))
    take = min(points, accounts[avail].balance)
    shortfall = points - take
    memo: dict[str, Any] = {
        "reason": reason,
        "actor_id": actor_id,
        "reversed_transaction_id": transaction_id,
        "taken_back": take,
        "booked_as_debt": shortfall,
    }
    draws = []
    if take:
        draws = plan_draws(await open_lots(session, user_id), take, lot_id)
    [txn] = await post(
        session,
        [
            Draft(
                ref=ref,
                kind=TransactionKind.REVERSAL,
                cause_type="reversal",
                cause_id=original.cause_id,
                user_id=user_id,
                legs=[(avail, -take), (debt, -shortfall), (reversals, points)],
                memo=memo,
                draws=draws,
                lifetime_grams=-reduction_g,
            )
        ],
    )
    return txn
