"""Two-phase spending: hold (available → held), then settle (held → merchant) or release
(held → available, back to the lots the points came from), exactly once: a conditional
``UPDATE … WHERE status = 'held'`` is the guard."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import new_id, utcnow
from app.kit.bulk import insert_rows, together
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
from app.services.ledger.lots import OpenLot, draws_to_give_back, plan_draws, spendable_lots
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


@dataclass(frozen=True)
class Want:
    """A hold to place: ``points`` of ``user_id``'s, under a ref of its own."""

    user_id: str
    points: int
    ref: str
    cause_type: str
    cause_id: str | None


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
    want = Want(user_id, points, ref, cause_type, cause_id)
    _check(want)
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
    lots = await spendable_lots(session, user_id, points, utcnow())
    [row] = await hold_many(session, [(want, lots)])
    return row


def _check(want: Want) -> None:
    if want.points <= 0:
        raise LedgerInvariantError(f"a hold needs points > 0, got {want.points} for {want.ref}")


async def hold_many(
    session: AsyncSession, wants: Sequence[tuple[Want, list[OpenLot]]]
) -> list[HeldPoints]:
    """Place several holds, each with new refs, in one posting: the citizens' accounts are
    locked by this transaction and each hold's lots were read under that lock (by
    ``spendable_lots`` or ``spendable_of``) and hold enough. Several holds of one citizen draw
    on the same lots one after the other, which the posting checks."""
    for want, _ in wants:
        _check(want)
    await lock(session, [a for want, _ in wants for a in user_accounts(want.user_id)])
    left: dict[str, int] = {}  # what earlier holds of this call left in each lot
    drafts = []
    for want, lots in wants:
        fresh = [replace(lot, remaining=left.get(lot.id, lot.remaining)) for lot in lots]
        draws = plan_draws(fresh, want.points)
        for draw in draws:
            left[draw.lot_id] = draw.remaining - draw.amount
        drafts.append(
            Draft(
                ref=want.ref,
                kind=TransactionKind.HOLD,
                cause_type=want.cause_type,
                cause_id=want.cause_id,
                user_id=want.user_id,
                legs=[
                    (available_account(want.user_id), -want.points),
                    (held_account(want.user_id), want.points),
                ],
                draws=draws,
            )
        )
    now = utcnow()
    async with together(session):
        posted = await post(session, drafts)
        rows = [
            HeldPoints(new_id(), want.ref, want.user_id, want.points, txn.id)
            for (want, _), txn in zip(wants, posted, strict=True)
        ]
        await insert_rows(
            session,
            table(Hold),
            [
                {
                    "id": row.id,
                    "ref": row.ref,
                    "user_id": row.user_id,
                    "amount": row.amount,
                    "status": HoldStatus.HELD,
                    "hold_transaction_id": row.hold_transaction_id,
                    "created_at": now,
                }
                for row in rows
            ],
        )
    return rows


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
