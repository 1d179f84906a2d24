"""Two-phase spending: hold (available → held), then settle (held → merchant) or release
(held → available, back to the lots the points came from), exactly once: a conditional
``UPDATE … WHERE status = 'held'`` is the guard."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import new_id, utcnow
from app.kit.errors import InvalidState, NotFound
from app.models import Hold
from app.models.ledger import HoldStatus, TransactionKind
from app.services.ledger.accounts import (
    available_account,
    held_account,
    lock,
    merchant_account,
    table,
    user_accounts,
)
from app.services.ledger.errors import LedgerInvariantError
from app.services.ledger.lots import draws_to_give_back, plan_draws, spendable_lots
from app.services.ledger.postings import Draft, Posted, post

HOLDS = table(Hold).c


@dataclass(frozen=True)
class HeldPoints:
    """A hold as it was placed (or found, for a replayed ref)."""

    id: str
    ref: str
    user_id: str
    amount: int
    hold_transaction_id: str


async def hold(
    session: AsyncSession,
    *,
    user_id: str,
    points: int,
    ref: str,
    cause_type: str,
    cause_id: str | None,
    new_ref: bool = False,
) -> HeldPoints:
    """Move points from available to held (phase one of a spend), drawing the soonest-expiring
    unexpired lots. Raises InsufficientPoints when the unexpired lots hold too few.

    A hold with the ref of an earlier one is that hold (a replay), unless the caller says the
    ref is ``new_ref`` (made of an id it just drew): then it is not looked up, and the unique
    refs of holds and transactions still refuse a second one."""
    if points <= 0:
        raise LedgerInvariantError(f"a hold needs points > 0, got {points} for {ref}")
    await lock(session, user_accounts(user_id))
    if not new_ref:
        found = (
            await session.execute(
                select(
                    HOLDS.id, HOLDS.ref, HOLDS.user_id, HOLDS.amount, HOLDS.hold_transaction_id
                ).where(HOLDS.ref == ref)
            )
        ).first()
        if found is not None:
            return HeldPoints(*found)
    now = utcnow()
    lots = await spendable_lots(session, user_id, points, now)
    [txn] = await post(
        session,
        [
            Draft(
                ref=ref,
                kind=TransactionKind.HOLD,
                cause_type=cause_type,
                cause_id=cause_id,
                user_id=user_id,
                legs=[(available_account(user_id), -points), (held_account(user_id), points)],
                draws=plan_draws(lots, points),
            )
        ],
    )
    row = HeldPoints(new_id(), ref, user_id, points, txn.id)
    await session.execute(
        insert(table(Hold)).values(
            id=row.id,
            ref=ref,
            user_id=user_id,
            amount=points,
            status=HoldStatus.HELD,
            hold_transaction_id=txn.id,
            created_at=now,
        )
    )
    return row


async def _resolve(
    session: AsyncSession, hold_id: str, status: str, extra: list[str], user_id: str | None
) -> Row[Any]:
    """Lock the hold's citizen (and ``extra`` accounts), then flip the hold out of ``held``
    exactly once. Returns the hold's row as it was. A caller that knows the citizen saves
    the lookup; the hold must then be theirs."""
    if user_id is None:
        user_id = await session.scalar(select(HOLDS.user_id).where(HOLDS.id == hold_id))
        if user_id is None:
            raise NotFound("hold not found")
    await lock(session, [*user_accounts(user_id), *extra])
    row = (
        await session.execute(
            update(table(Hold))
            .where(HOLDS.id == hold_id, HOLDS.user_id == user_id, HOLDS.status == HoldStatus.HELD)
            .values(status=status, resolved_at=utcnow())
            .returning(HOLDS.ref, HOLDS.user_id, HOLDS.amount, HOLDS.hold_transaction_id)
        )
    ).first()
    if row is None:
        now_status = await session.scalar(
            select(HOLDS.status).where(HOLDS.id == hold_id, HOLDS.user_id == user_id)
        )
        if now_status is None:
            raise NotFound("hold not found")
        raise InvalidState(f"The hold is already {now_status}.")
    return row


async def _finish(session: AsyncSession, hold_id: str, draft: Draft) -> Posted:
    [txn] = await post(session, [draft])
    await session.execute(
        update(table(Hold)).where(HOLDS.id == hold_id).values(final_transaction_id=txn.id)
    )
    return txn


async def settle(
    session: AsyncSession, hold_id: str, *, merchant_id: str, user_id: str | None = None
) -> Posted:
    """Phase two: the held points go to the merchant."""
    merchant = merchant_account(merchant_id)
    row = await _resolve(session, hold_id, HoldStatus.SETTLED, [merchant], user_id)
    return await _finish(
        session,
        hold_id,
        Draft(
            ref=f"{row.ref}:settle",
            kind=TransactionKind.SETTLE,
            cause_type="redemption",
            cause_id=hold_id,
            user_id=row.user_id,
            legs=[(held_account(row.user_id), -row.amount), (merchant, row.amount)],
        ),
    )


async def release(session: AsyncSession, hold_id: str, *, user_id: str | None = None) -> Posted:
    """Phase two, the other way: the held points go back to the lots they came from."""
    row = await _resolve(session, hold_id, HoldStatus.RELEASED, [], user_id)
    return await _finish(
        session,
        hold_id,
        Draft(
            ref=f"{row.ref}:release",
            kind=TransactionKind.RELEASE,
            cause_type="redemption",
            cause_id=hold_id,
            user_id=row.user_id,
            legs=[
                (held_account(row.user_id), -row.amount),
                (available_account(row.user_id), row.amount),
            ],
            draws=await draws_to_give_back(session, row.hold_transaction_id),
        ),
    )
