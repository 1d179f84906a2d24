"""The points ledger: the only code that writes ledger rows, lots and holds.

Double entry: every transaction has two or more entries summing to zero; an account's stored
balance changes only together with an entry, in the same database transaction, so the stored
balance always equals the sum of its entries (``check`` proves it).

Exactly once: every transaction carries a unique ``ref``; posting the same ref again returns
the first transaction and posts nothing.

Locking: before touching balances, the accounts are locked (one ``SELECT … FOR UPDATE … ORDER
BY``) in one global order — citizens' accounts first, then platform and merchant accounts,
each group sorted by id — so concurrent postings neither lose updates nor deadlock. A unit of
work touches one citizen's rows plus platform accounts that are sharded by citizen, so
hot-path transactions of different citizens seldom queue behind one platform row; a batch
that credits several citizens locks all of them up front, and all their shards together.
Locked accounts are remembered for the rest of the database transaction (forgotten when a
savepoint rolls back, since that releases its locks). On SQLite every transaction is already serial
(``BEGIN IMMEDIATE``).

Expiry lots: each credit creates a lot that expires ``points_ttl_days`` later. Debits draw the
soonest-expiring unexpired lots first and record what they drew (``lot_draws``), so a released
hold can give the points back to the very lots they came from.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, event, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from app.db import insert_ignore, new_id, utcnow
from app.errors import InsufficientPoints, InvalidState, NotFound
from app.models import Account, Hold, LedgerEntry, LedgerTransaction, LotDraw, PointLot

PLATFORM_SHARDS = 256


def available_account(user_id: str) -> str:
    return f"user:{user_id}:available"


def held_account(user_id: str) -> str:
    return f"user:{user_id}:held"


def debt_account(user_id: str) -> str:
    return f"user:{user_id}:debt"


def merchant_account(merchant_id: str) -> str:
    return f"merchant:{merchant_id}"


def platform_account(kind: str, user_id: str) -> str:
    """Issuance, expired and reversals are sharded by citizen to keep them off the hot path."""
    shard = zlib.crc32(user_id.encode()) % PLATFORM_SHARDS
    return f"platform:{kind}:{shard:03d}"


def _kind_and_owner(account_id: str) -> tuple[str, str | None]:
    parts = account_id.split(":")
    if parts[0] == "user":
        return parts[2], parts[1]
    if parts[0] == "merchant":
        return "merchant", parts[1]
    return parts[1], None


_LOCKED = "ledger.locked"


def _locked(session: AsyncSession) -> dict[str, Account]:
    """Accounts this database transaction has locked, with their current balances."""
    held: dict[str, Account] = session.info.setdefault(_LOCKED, {})
    return held


@event.listens_for(Session, "after_soft_rollback")
def _forget_locks_after_rollback(session: Session, _previous: Any) -> None:
    # Rolling back to a savepoint releases the row locks taken inside it: lock again.
    session.info.pop(_LOCKED, None)


@event.listens_for(Session, "after_commit")
def _forget_locks_after_commit(session: Session) -> None:
    session.info.pop(_LOCKED, None)


def _lock_order() -> Any:
    return (case((Account.id.like("user:%"), 0), else_=1), Account.id)


async def _select_for_update(session: AsyncSession, ids: list[str]) -> list[Account]:
    # One statement; PostgreSQL locks the rows in the ORDER BY order.
    rows = await session.scalars(
        select(Account)
        .where(Account.id.in_(ids))
        .order_by(*_lock_order())
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return list(rows.all())


async def _lock(session: AsyncSession, account_ids: Iterable[str]) -> dict[str, Account]:
    """Lock the accounts (creating missing ones) in the global order, once per transaction."""
    held = _locked(session)
    wanted = sorted(set(account_ids))
    missing = [account_id for account_id in wanted if account_id not in held]
    if missing:
        rows = await _select_for_update(session, missing)
        if len(rows) < len(missing):
            now = utcnow()
            absent = set(missing) - {row.id for row in rows}
            new_rows = []
            for account_id in sorted(absent):
                kind, owner = _kind_and_owner(account_id)
                new_rows.append(
                    {
                        "id": account_id,
                        "kind": kind,
                        "owner_id": owner,
                        "balance": 0,
                        "created_at": now,
                    }
                )
            await session.execute(insert_ignore(session, Account, new_rows))
            rows = await _select_for_update(session, missing)
        held.update((row.id, row) for row in rows)
    return {account_id: held[account_id] for account_id in wanted}


def user_accounts(user_id: str) -> list[str]:
    return [available_account(user_id), held_account(user_id), debt_account(user_id)]


async def lock_user(session: AsyncSession, user_id: str) -> None:
    """Lock one citizen's accounts: serialises that citizen's ledger-affecting work."""
    await _lock(session, user_accounts(user_id))


async def lock_users(session: AsyncSession, user_ids: Iterable[str]) -> None:
    """Lock several citizens' accounts in one statement (a batch of records)."""
    await _lock(session, [account for user_id in user_ids for account in user_accounts(user_id)])


async def _existing(session: AsyncSession, ref: str) -> LedgerTransaction | None:
    return await session.scalar(select(LedgerTransaction).where(LedgerTransaction.ref == ref))


async def _post(
    session: AsyncSession,
    accounts: dict[str, Account],
    *,
    ref: str,
    kind: str,
    cause_type: str,
    cause_id: str | None,
    user_id: str | None,
    legs: list[tuple[str, int]],
    memo: dict[str, Any] | None = None,
) -> LedgerTransaction:
    """Write one balanced transaction on already locked accounts."""
    legs = [(acc, amount) for acc, amount in legs if amount != 0]
    if len(legs) < 2 or sum(amount for _, amount in legs) != 0:
        raise ValueError(f"unbalanced or empty posting {ref}: {legs}")
    now = utcnow()
    txn = LedgerTransaction(
        ref=ref,
        kind=kind,
        cause_type=cause_type,
        cause_id=cause_id,
        user_id=user_id,
        memo=memo,
        created_at=now,
    )
    session.add(txn)
    await session.flush()
    for account_id, amount in legs:
        account = accounts[account_id]
        account.balance += amount
        session.add(
            LedgerEntry(
                transaction_id=txn.id,
                account_id=account_id,
                amount=amount,
                balance_after=account.balance,
                created_at=now,
            )
        )
    await session.flush()
    return txn


async def _draw_lots(
    session: AsyncSession,
    txn_id: str,
    user_id: str,
    points: int,
    now: datetime,
    first_lot: str | None = None,
    include_expired: bool = False,
) -> int:
    """Take up to ``points`` from the user's lots, soonest-expiring first. Returns the amount
    drawn. The caller holds the user's available-account lock, which guards the lots."""
    query = select(PointLot).where(PointLot.user_id == user_id, PointLot.remaining > 0)
    if not include_expired:
        query = query.where(PointLot.expires_at > now)
    lots = list(
        (
            await session.scalars(
                query.order_by(PointLot.expires_at, PointLot.id).execution_options(
                    populate_existing=True
                )
            )
        ).all()
    )
    if first_lot:
        lots.sort(key=lambda lot: lot.id != first_lot)
    left = points
    for lot in lots:
        if left == 0:
            break
        take = min(lot.remaining, left)
        lot.remaining -= take
        left -= take
        session.add(LotDraw(transaction_id=txn_id, lot_id=lot.id, user_id=user_id, amount=take))
    await session.flush()
    return points - left


async def spendable(session: AsyncSession, user_id: str, now: datetime | None = None) -> int:
    """Points the citizen can spend now: unexpired lot remainders (lots sum to the available
    balance; points past expiry stay in it only until ``tanhui expire-points`` runs)."""
    now = now or utcnow()
    total = await session.scalar(
        select(func.coalesce(func.sum(PointLot.remaining), 0)).where(
            PointLot.user_id == user_id, PointLot.remaining > 0, PointLot.expires_at > now
        )
    )
    return int(total or 0)


async def credit(
    session: AsyncSession,
    *,
    user_id: str,
    points: int,
    ref: str,
    cause_type: str,
    cause_id: str | None,
    expires_at: datetime,
    memo: dict[str, Any] | None = None,
) -> LedgerTransaction:
    """Issue ``points`` to the citizen as a new lot; a citizen in debt repays it first."""
    if points <= 0:
        raise ValueError("a credit needs points > 0")
    avail, held, debt = available_account(user_id), held_account(user_id), debt_account(user_id)
    issuance = platform_account("issuance", user_id)
    accounts = await _lock(session, [avail, held, debt, issuance])
    if (found := await _existing(session, ref)) is not None:
        return found
    txn = await _post(
        session,
        accounts,
        ref=ref,
        kind="credit",
        cause_type=cause_type,
        cause_id=cause_id,
        user_id=user_id,
        legs=[(issuance, -points), (avail, points)],
        memo=memo,
    )
    session.add(
        PointLot(
            user_id=user_id,
            transaction_id=txn.id,
            amount=points,
            remaining=points,
            expires_at=expires_at,
            created_at=txn.created_at,
        )
    )
    await session.flush()
    owed = -accounts[debt].balance
    if owed > 0:
        repay = min(owed, points)
        repay_txn = await _post(
            session,
            accounts,
            ref=f"{ref}:repay-debt",
            kind="debt_repayment",
            cause_type=cause_type,
            cause_id=cause_id,
            user_id=user_id,
            legs=[(avail, -repay), (debt, repay)],
        )
        await _draw_lots(session, repay_txn.id, user_id, repay, utcnow(), include_expired=True)
    return txn


@dataclass(frozen=True)
class Credit:
    user_id: str
    points: int
    ref: str
    cause_type: str
    cause_id: str | None
    expires_at: datetime


async def credit_many(session: AsyncSession, credits: list[Credit]) -> list[str]:
    """Post many credits with a handful of bulk statements, as ``credit`` would one by one;
    returns the transaction ids in order.

    For new refs only (records carry fresh ids): a ref that exists already is refused by the
    unique constraint and fails the unit of work. A citizen in debt goes through ``credit``,
    which repays the debt from the new lot. The issuance shards are locked here, late in the
    unit of work, so that they are held only for its last statements."""
    if not credits:
        return []
    accounts = await _lock(
        session,
        [
            account
            for c in credits
            for account in (*user_accounts(c.user_id), platform_account("issuance", c.user_id))
        ],
    )
    now = utcnow()
    out: dict[int, str] = {}
    txns: list[dict[str, Any]] = []
    entries: list[dict[str, Any]] = []
    lots: list[dict[str, Any]] = []
    for i, c in enumerate(credits):
        if c.points <= 0:
            raise ValueError("a credit needs points > 0")
        if accounts[debt_account(c.user_id)].balance < 0:
            continue
        txn_id = out[i] = new_id()
        txns.append(
            {
                "id": txn_id,
                "ref": c.ref,
                "kind": "credit",
                "cause_type": c.cause_type,
                "cause_id": c.cause_id,
                "user_id": c.user_id,
                "memo": None,
                "created_at": now,
            }
        )
        for account_id, amount in (
            (platform_account("issuance", c.user_id), -c.points),
            (available_account(c.user_id), c.points),
        ):
            account = accounts[account_id]
            account.balance += amount
            entries.append(
                {
                    "transaction_id": txn_id,
                    "account_id": account_id,
                    "amount": amount,
                    "balance_after": account.balance,
                    "created_at": now,
                }
            )
        lots.append(
            {
                "id": new_id(),
                "user_id": c.user_id,
                "transaction_id": txn_id,
                "amount": c.points,
                "remaining": c.points,
                "expires_at": c.expires_at,
                "created_at": now,
            }
        )
    if txns:
        await session.execute(insert(LedgerTransaction), txns)
        await session.execute(insert(LedgerEntry), entries)
        await session.execute(insert(PointLot), lots)
        await session.flush()  # the balances
    for i, c in enumerate(credits):
        if i not in out:
            txn = await credit(
                session,
                user_id=c.user_id,
                points=c.points,
                ref=c.ref,
                cause_type=c.cause_type,
                cause_id=c.cause_id,
                expires_at=c.expires_at,
            )
            out[i] = txn.id
    return [out[i] for i in range(len(credits))]


async def hold(
    session: AsyncSession,
    *,
    user_id: str,
    points: int,
    ref: str,
    cause_type: str,
    cause_id: str | None,
) -> Hold:
    """Move points from available to held (phase one of a spend)."""
    if points <= 0:
        raise ValueError("a hold needs points > 0")
    avail, held = available_account(user_id), held_account(user_id)
    accounts = await _lock(session, [avail, held, debt_account(user_id)])
    existing = await session.scalar(select(Hold).where(Hold.ref == ref))
    if existing is not None:
        return existing
    now = utcnow()
    have = await spendable(session, user_id, now)
    if have < points:
        raise InsufficientPoints(
            f"This needs {points} points; {have} are spendable.", needed=points, spendable=have
        )
    txn = await _post(
        session,
        accounts,
        ref=ref,
        kind="hold",
        cause_type=cause_type,
        cause_id=cause_id,
        user_id=user_id,
        legs=[(avail, -points), (held, points)],
    )
    drawn = await _draw_lots(session, txn.id, user_id, points, now)
    assert drawn == points
    row = Hold(
        ref=ref,
        user_id=user_id,
        amount=points,
        status="held",
        hold_transaction_id=txn.id,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def _resolve_hold(session: AsyncSession, hold_id: str, new_status: str) -> tuple[Hold, int]:
    """Flip a hold out of ``held`` exactly once (the conditional UPDATE is the guard)."""
    row = await session.get(Hold, hold_id)
    if row is None:
        raise NotFound("hold not found")
    result = await session.execute(
        update(Hold)
        .where(Hold.id == hold_id, Hold.status == "held")
        .values(status=new_status, resolved_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        await session.refresh(row)
        raise InvalidState(f"The hold is already {row.status}.")
    await session.refresh(row)
    return row, row.amount


async def settle(session: AsyncSession, hold_id: str, *, merchant_id: str) -> LedgerTransaction:
    """Phase two: the held points go to the merchant."""
    row = await session.get(Hold, hold_id)
    if row is None:
        raise NotFound("hold not found")
    held, merchant = held_account(row.user_id), merchant_account(merchant_id)
    accounts = await _lock(
        session, [available_account(row.user_id), held, debt_account(row.user_id), merchant]
    )
    row, amount = await _resolve_hold(session, hold_id, "settled")
    txn = await _post(
        session,
        accounts,
        ref=f"{row.ref}:settle",
        kind="settle",
        cause_type="redemption",
        cause_id=row.id,
        user_id=row.user_id,
        legs=[(held, -amount), (merchant, amount)],
    )
    row.final_transaction_id = txn.id
    await session.flush()
    return txn


async def release(session: AsyncSession, hold_id: str) -> LedgerTransaction:
    """Phase two, the other way: the held points go back to the lots they came from."""
    row = await session.get(Hold, hold_id)
    if row is None:
        raise NotFound("hold not found")
    avail, held = available_account(row.user_id), held_account(row.user_id)
    accounts = await _lock(session, [avail, held, debt_account(row.user_id)])
    row, amount = await _resolve_hold(session, hold_id, "released")
    txn = await _post(
        session,
        accounts,
        ref=f"{row.ref}:release",
        kind="release",
        cause_type="redemption",
        cause_id=row.id,
        user_id=row.user_id,
        legs=[(held, -amount), (avail, amount)],
    )
    draws = (
        await session.scalars(
            select(LotDraw).where(LotDraw.transaction_id == row.hold_transaction_id)
        )
    ).all()
    for draw in draws:
        lot = await session.get(PointLot, draw.lot_id, populate_existing=True)
        assert lot is not None
        lot.remaining += draw.amount
        session.add(
            LotDraw(transaction_id=txn.id, lot_id=lot.id, user_id=row.user_id, amount=-draw.amount)
        )
    row.final_transaction_id = txn.id
    await session.flush()
    return txn


async def reverse(
    session: AsyncSession,
    *,
    transaction_id: str,
    ref: str,
    reason: str,
    actor_id: str | None,
) -> LedgerTransaction:
    """Claw back a credit. What is still available is taken back (from the credited lot first);
    points already spent or held are booked to the citizen's debt account, which later credits
    repay first. The available balance never goes below zero and no entry is ever changed."""
    original = await session.get(LedgerTransaction, transaction_id)
    if original is None or original.kind != "credit" or original.user_id is None:
        raise InvalidState("Only a credit transaction can be reversed.")
    user_id = original.user_id
    avail, debt = available_account(user_id), debt_account(user_id)
    reversals = platform_account("reversals", user_id)
    accounts = await _lock(session, [avail, held_account(user_id), debt, reversals])
    if (found := await _existing(session, ref)) is not None:
        return found
    points = int(
        await session.scalar(
            select(LedgerEntry.amount).where(
                LedgerEntry.transaction_id == transaction_id, LedgerEntry.account_id == avail
            )
        )
        or 0
    )
    lot = await session.scalar(select(PointLot).where(PointLot.transaction_id == transaction_id))
    take = min(points, accounts[avail].balance)
    shortfall = points - take
    txn = await _post(
        session,
        accounts,
        ref=ref,
        kind="reversal",
        cause_type="reversal",
        cause_id=original.cause_id,
        user_id=user_id,
        legs=[(avail, -take), (debt, -shortfall), (reversals, points)],
        memo={
            "reason": reason,
            "actor_id": actor_id,
            "reversed_transaction_id": transaction_id,
            "taken_back": take,
            "booked_as_debt": shortfall,
        },
    )
    if take:
        drawn = await _draw_lots(
            session,
            txn.id,
            user_id,
            take,
            utcnow(),
            first_lot=lot.id if lot else None,
            include_expired=True,
        )
        assert drawn == take
    return txn


async def expire_lot(session: AsyncSession, lot_id: str, now: datetime) -> int:
    """Post one lot's unspent remainder, past its expiry, to the expired account. Returns the
    points expired (0 when a concurrent spend or an earlier run left nothing)."""
    lot = await session.get(PointLot, lot_id)
    if lot is None:
        return 0
    avail, expired = available_account(lot.user_id), platform_account("expired", lot.user_id)
    accounts = await _lock(
        session, [avail, held_account(lot.user_id), debt_account(lot.user_id), expired]
    )
    await session.refresh(lot)
    if lot.remaining <= 0 or lot.expires_at > now:
        return 0
    amount = lot.remaining
    # A lot can expire more than once: a hold released after expiry refills it.
    earlier = await session.scalar(
        select(func.count())
        .select_from(LedgerTransaction)
        .where(LedgerTransaction.cause_type == "expiry", LedgerTransaction.cause_id == lot.id)
    )
    txn = await _post(
        session,
        accounts,
        ref=f"expiry:{lot.id}:{int(earlier or 0) + 1}",
        kind="expiry",
        cause_type="expiry",
        cause_id=lot.id,
        user_id=lot.user_id,
        legs=[(avail, -amount), (expired, amount)],
    )
    lot.remaining = 0
    session.add(LotDraw(transaction_id=txn.id, lot_id=lot.id, user_id=lot.user_id, amount=amount))
    await session.flush()
    return amount


async def due_lots(
    session: AsyncSession, now: datetime, limit: int, after: tuple[datetime, str] | None = None
) -> list[tuple[str, datetime]]:
    query = select(PointLot.id, PointLot.expires_at).where(
        PointLot.remaining > 0, PointLot.expires_at <= now
    )
    if after is not None:
        query = query.where(
            (PointLot.expires_at > after[0])
            | ((PointLot.expires_at == after[0]) & (PointLot.id > after[1]))
        )
    rows = await session.execute(query.order_by(PointLot.expires_at, PointLot.id).limit(limit))
    return [(r[0], r[1]) for r in rows]


async def count_due_lots(session: AsyncSession, now: datetime) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(PointLot)
            .where(PointLot.remaining > 0, PointLot.expires_at <= now)
        )
        or 0
    )


@dataclass(frozen=True)
class Balances:
    available: int
    held: int
    debt: int


async def balances(session: AsyncSession, user_id: str) -> Balances:
    ids = [available_account(user_id), held_account(user_id), debt_account(user_id)]
    rows = {
        account_id: int(balance)
        for account_id, balance in await session.execute(
            select(Account.id, Account.balance).where(Account.id.in_(ids))
        )
    }
    return Balances(int(rows.get(ids[0], 0)), int(rows.get(ids[1], 0)), -int(rows.get(ids[2], 0)))
