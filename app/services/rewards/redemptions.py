"""Redemptions: a code backed by a ledger hold, fulfilled at the till at most once.

Locks, always in this order (the ledger's order, then business rows), so that concurrent
redeem, verify, cancel and expiry neither oversell, double-spend nor deadlock:

1. the citizen's ledger accounts (``ledger.lock_user``): serialises one citizen's redemptions,
   which makes the idempotency-key lookup and the per-user-limit count safe;
2. merchant accounts (taken by ``ledger.settle``);
3. the redemption row, then the incentive row (``SELECT … FOR UPDATE``, or the conditional
   ``UPDATE`` that takes a unit of stock as the last write of a redemption).

A redemption row is only ever locked by a transaction that already holds its owner's lock, so
verify, cancel and expiry of one code are serialised and each re-reads the status under lock
before acting. Statuses: ``issued`` → ``fulfilled`` | ``cancelled`` | ``expired``, once.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from app.db import after_commit, new_id, utcnow
from app.kit.errors import IdempotencyConflict, NotFound, ValidationFailed
from app.kit.pagination import Keyset
from app.models import Incentive, Merchant, Redemption
from app.models.rewards import RedemptionStatus
from app.observability import REDEMPTIONS
from app.services import ledger
from app.services.rewards import codes
from app.services.rewards.errors import (
    AlreadyFulfilled,
    CodeCancelled,
    CodeExpired,
    IncentiveInactive,
    LimitReached,
    OutOfStock,
)
from app.services.rewards.incentives import INACTIVE, inactive_reason

STATUSES = (
    RedemptionStatus.ISSUED,
    RedemptionStatus.FULFILLED,
    RedemptionStatus.CANCELLED,
    RedemptionStatus.EXPIRED,
)
_TAKEN = (
    RedemptionStatus.ISSUED,
    RedemptionStatus.FULFILLED,
)  # what counts against stock and the per-user limit
_CODE_ATTEMPTS = 3


@dataclass(frozen=True)
class Issued:
    redemption: Redemption
    created: bool  # False: an idempotent replay of an earlier request


async def redeem(
    session: AsyncSession,
    secret: str,
    *,
    user_id: str,
    incentive_id: str,
    idempotency_key: str,
    now: datetime | None = None,
) -> Issued:
    """Take one unit of stock, hold the points, issue a code: all or nothing."""
    now = now or utcnow()
    await ledger.lock_user(session, user_id)
    earlier = await session.scalar(
        select(Redemption).where(
            Redemption.user_id == user_id, Redemption.idempotency_key == idempotency_key
        )
    )
    if earlier is not None:
        if earlier.incentive_id != incentive_id:
            raise IdempotencyConflict(
                "This Idempotency-Key was already used for another incentive."
            )
        return Issued(earlier, created=False)

    incentive = await session.get(Incentive, incentive_id)
    if incentive is None:
        raise NotFound(f"Incentive {incentive_id} does not exist.")
    if incentive.per_user_limit is not None:
        taken = await session.scalar(
            select(func.count())
            .select_from(Redemption)
            .where(
                Redemption.user_id == user_id,
                Redemption.incentive_id == incentive_id,
                Redemption.status.in_(_TAKEN),
            )
        )
        if int(taken or 0) >= incentive.per_user_limit:
            raise LimitReached(
                f"You have already redeemed this {incentive.per_user_limit} time(s).",
                per_user_limit=incentive.per_user_limit,
            )

    # Checked here on an unlocked read for a quick, clear answer; the stock is taken at the end.
    await _check_merchant(session, incentive.merchant_id)
    _check_open(incentive, now)

    redemption_id = new_id()
    hold = await ledger.hold(
        session,
        user_id=user_id,
        points=incentive.points_cost,
        ref=f"redemption:{redemption_id}:hold",
        cause_type="redemption",
        cause_id=redemption_id,
    )
    await _take_unit(session, incentive, now)
    fields = {
        "id": redemption_id,
        "user_id": user_id,
        "incentive_id": incentive.id,
        "merchant_id": incentive.merchant_id,
        "idempotency_key": idempotency_key,
        "status": RedemptionStatus.ISSUED,
        "points": incentive.points_cost,
        "hold_id": hold.id,
        "expires_at": now + timedelta(days=incentive.code_ttl_days),
        "created_at": now,
    }
    # 59 random bits make a clash all but impossible; should one happen, draw again rather
    # than fail the request.
    for attempt in range(_CODE_ATTEMPTS):
        code = codes.new_code()
        redemption = Redemption(
            **fields,
            code_hash=codes.hash_code(secret, code),
            code_encrypted=codes.encrypt_code(secret, code, redemption_id),
            code_hint=codes.hint(code),
        )
        try:
            async with session.begin_nested():
                session.add(redemption)
                await session.flush()
        except IntegrityError:
            if attempt == _CODE_ATTEMPTS - 1:
                raise
            continue
        _count(session, RedemptionStatus.ISSUED)
        return Issued(redemption, created=True)
    raise AssertionError("unreachable")


async def _check_merchant(session: AsyncSession, merchant_id: str) -> None:
    if not await session.scalar(select(Merchant.is_active).where(Merchant.id == merchant_id)):
        raise IncentiveInactive(
            "This incentive's merchant is not active.", reason="merchant_inactive"
        )


def _check_open(incentive: Incentive, now: datetime) -> None:
    reason = inactive_reason(incentive, now)
    if reason is not None:
        raise IncentiveInactive(f"This incentive is {INACTIVE[reason]}.", reason=reason)
    if incentive.stock is not None and incentive.stock <= 0:
        raise OutOfStock("This incentive is out of stock.")


async def _take_unit(session: AsyncSession, incentive: Incentive, now: datetime) -> None:
    """Take one unit of stock with one conditional UPDATE, the last write before the code: a
    hot incentive's row stays locked only for the rest of the unit of work. When the UPDATE
    matches nothing (sold out or paused meanwhile), the caller's transaction rolls back,
    hold included."""
    result = await session.execute(
        update(Incentive)
        .where(
            Incentive.id == incentive.id,
            Incentive.paused.is_(False),
            select(Merchant.is_active)
            .where(Merchant.id == Incentive.merchant_id)
            .scalar_subquery()
            .is_(True),
            or_(Incentive.stock.is_(None), Incentive.stock > 0),
            or_(Incentive.valid_from.is_(None), Incentive.valid_from <= now),
            or_(Incentive.valid_until.is_(None), Incentive.valid_until > now),
        )
        .values(stock=Incentive.stock - 1, issued=Incentive.issued + 1)
        .returning(Incentive.stock, Incentive.issued)
        .execution_options(synchronize_session=False)
    )
    row = result.first()
    if row is None:
        await session.refresh(incentive)
        await _check_merchant(session, incentive.merchant_id)
        _check_open(incentive, now)
        raise OutOfStock("This incentive is out of stock.")  # taken by others meanwhile
    set_committed_value(incentive, "stock", row.stock)
    set_committed_value(incentive, "issued", row.issued)


def _count(session: AsyncSession, event: str, n: int = 1) -> None:
    """Count a redemption event in the metrics once it is committed."""

    async def inc() -> None:
        REDEMPTIONS.labels(event).inc(n)

    if n:
        after_commit(session, inc)


def _shown_code(secret: str, redemption: Redemption) -> str | None:
    """The code as XXXX-XXXX-XXXX; None only if the server secret changed since issue."""
    code = codes.decrypt_code(secret, redemption.code_encrypted, redemption.id)
    return codes.display(code) if code is not None else None


async def _lock_incentive(session: AsyncSession, incentive_id: str) -> Incentive:
    incentive = await session.scalar(
        select(Incentive)
        .where(Incentive.id == incentive_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert incentive is not None  # incentives are never deleted
    return incentive


async def _lock_redemption(session: AsyncSession, redemption_id: str) -> Redemption | None:
    return await session.scalar(
        select(Redemption)
        .where(Redemption.id == redemption_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def _ensure_issued(redemption: Redemption, now: datetime, *, past_expiry_ok: bool) -> None:
    if redemption.status == RedemptionStatus.FULFILLED:
        raise AlreadyFulfilled("This code has already been used.")
    if redemption.status == RedemptionStatus.CANCELLED:
        raise CodeCancelled("This code was cancelled.")
    if redemption.status == RedemptionStatus.EXPIRED:
        raise CodeExpired("This code has expired.")
    if not past_expiry_ok and redemption.expires_at <= now:
        # Not swept yet. Answering with an error rolls the request back, so the points are
        # not released here; ``expire_codes`` releases them.
        raise CodeExpired("This code has expired.")


async def _give_back(
    session: AsyncSession, redemption: Redemption, status: str, now: datetime, by: str | None
) -> None:
    """Release the hold and mark the code; the caller returns the stock."""
    await ledger.release(session, redemption.hold_id)
    redemption.status = status
    redemption.resolved_at = now
    redemption.resolved_by = by


async def _return_stock(session: AsyncSession, incentive_id: str, units: int) -> None:
    incentive = await _lock_incentive(session, incentive_id)
    if incentive.stock is not None:
        incentive.stock += units
    incentive.issued -= units


async def _find_code(
    session: AsyncSession, secret: str, merchant_id: str, raw_code: str
) -> Row[tuple[str, str]]:
    """(id, user_id) of this merchant's redemption with that code, or a 404."""
    code = codes.normalise(raw_code)
    if code is None:
        raise ValidationFailed(
            "A code is 12 characters from 2-9 and A-Z without I, L, O and U.",
            errors=[{"field": "body.code", "message": "not a redemption code"}],
        )
    row = (
        await session.execute(
            select(Redemption.id, Redemption.user_id).where(
                Redemption.code_hash == codes.hash_code(secret, code),
                Redemption.merchant_id == merchant_id,
            )
        )
    ).first()
    if row is None:  # another merchant's code is as unknown here as a made-up one
        raise NotFound("No such code for this merchant.")
    return row


async def lookup(
    session: AsyncSession, secret: str, *, merchant_id: str, raw_code: str
) -> tuple[Redemption, Incentive]:
    """The till's check before settling: reads only, locks nothing, changes nothing."""
    row = await _find_code(session, secret, merchant_id, raw_code)
    redemption = await session.get(Redemption, row.id)
    assert redemption is not None
    incentive = await session.get(Incentive, redemption.incentive_id)
    assert incentive is not None  # incentives are never deleted
    return redemption, incentive


async def verify(
    session: AsyncSession,
    secret: str,
    *,
    merchant_id: str,
    staff_id: str,
    raw_code: str,
    now: datetime | None = None,
) -> Redemption:
    """Fulfil a code at the till: the hold settles to the merchant, exactly once."""
    now = now or utcnow()
    row = await _find_code(session, secret, merchant_id, raw_code)
    await ledger.lock_user(session, row.user_id)
    redemption = await _lock_redemption(session, row.id)
    assert redemption is not None
    _ensure_issued(redemption, now, past_expiry_ok=False)
    await ledger.settle(session, redemption.hold_id, merchant_id=merchant_id)
    redemption.status = RedemptionStatus.FULFILLED
    redemption.resolved_at = now
    redemption.resolved_by = staff_id
    await session.flush()
    _count(session, RedemptionStatus.FULFILLED)
    return redemption


async def cancel(
    session: AsyncSession, *, user_id: str, redemption_id: str, now: datetime | None = None
) -> Redemption:
    """The citizen gives an unused code back: points and stock return. A code past its
    lifetime but not yet swept may still be cancelled; the outcome is the same."""
    now = now or utcnow()
    await ledger.lock_user(session, user_id)
    owner = await session.scalar(select(Redemption.user_id).where(Redemption.id == redemption_id))
    if owner != user_id:
        raise NotFound(f"Redemption {redemption_id} does not exist.")
    redemption = await _lock_redemption(session, redemption_id)
    assert redemption is not None
    _ensure_issued(redemption, now, past_expiry_ok=True)
    await _give_back(session, redemption, RedemptionStatus.CANCELLED, now, by=user_id)
    await _return_stock(session, redemption.incentive_id, 1)
    await session.flush()
    _count(session, RedemptionStatus.CANCELLED)
    return redemption


async def expire_codes(session: AsyncSession, now: datetime, limit: int) -> int:
    """Expire up to ``limit`` issued codes past ``expires_at``: release their holds and return
    their stock. Returns how many were expired. Safe beside verify and cancel, and to rerun:
    every candidate is re-read under its lock and skipped if already resolved (so a batch
    can return fewer than ``limit`` while more are due; the next run takes them).

    One batch touches several citizens; it takes all their locks first, in id order, before
    any redemption or incentive row, and the incentive rows last, in id order."""
    candidates = (
        await session.execute(
            select(Redemption.id, Redemption.user_id)
            .where(Redemption.status == RedemptionStatus.ISSUED, Redemption.expires_at <= now)
            .order_by(Redemption.expires_at, Redemption.id)
            .limit(limit)
        )
    ).all()
    for user_id in sorted({user_id for _, user_id in candidates}):
        await ledger.lock_user(session, user_id)
    returned: Counter[str] = Counter()
    for redemption_id, _ in candidates:
        redemption = await _lock_redemption(session, redemption_id)
        if (
            redemption is None
            or redemption.status != RedemptionStatus.ISSUED
            or redemption.expires_at > now
        ):
            continue
        await _give_back(session, redemption, RedemptionStatus.EXPIRED, now, by=None)
        returned[redemption.incentive_id] += 1
    for incentive_id in sorted(returned):
        await _return_stock(session, incentive_id, returned[incentive_id])
    await session.flush()
    _count(session, RedemptionStatus.EXPIRED, sum(returned.values()))
    return sum(returned.values())


def _citizen_view(secret: str, redemption: Redemption, title: str, merchant: str) -> dict[str, Any]:
    usable = redemption.status == RedemptionStatus.ISSUED and redemption.expires_at > utcnow()
    return {
        "id": redemption.id,
        "code": _shown_code(secret, redemption) if usable else None,
        "code_hint": redemption.code_hint,
        "status": redemption.status,
        "points": redemption.points,
        "incentive_id": redemption.incentive_id,
        "incentive_title": title,
        "merchant_id": redemption.merchant_id,
        "merchant_name": merchant,
        "expires_at": redemption.expires_at,
        "created_at": redemption.created_at,
        "resolved_at": redemption.resolved_at,
    }


async def citizen_view(
    session: AsyncSession, secret: str, redemption: Redemption, *, show_code: bool = False
) -> dict[str, Any]:
    """One redemption as its owner sees it. POST /v1/redemptions shows the code whatever the
    status (a replay answers exactly as the first time did)."""
    title, merchant = (
        await session.execute(
            select(Incentive.title, Merchant.name)
            .join(Merchant, Merchant.id == Incentive.merchant_id)
            .where(Incentive.id == redemption.incentive_id)
        )
    ).one()
    view = _citizen_view(secret, redemption, title, merchant)
    if show_code:
        view["code"] = _shown_code(secret, redemption)
    return view


NEWEST = Keyset((Redemption.created_at, Redemption.id))


async def list_for_citizen(
    session: AsyncSession, secret: str, user_id: str, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    query = (
        select(Redemption, Incentive.title, Merchant.name)
        .join(Incentive, Incentive.id == Redemption.incentive_id)
        .join(Merchant, Merchant.id == Redemption.merchant_id)
        .where(Redemption.user_id == user_id)
    )
    rows, next_cursor = NEWEST.page(
        (await session.execute(NEWEST.apply(query, cursor, limit))).all(), limit, lambda r: r[0]
    )
    return [_citizen_view(secret, r, title, name) for r, title, name in rows], next_cursor


def _merchant_view(redemption: Redemption, title: str) -> dict[str, Any]:
    return {
        "id": redemption.id,
        "code_hint": redemption.code_hint,
        "status": redemption.status,
        "points": redemption.points,
        "incentive_id": redemption.incentive_id,
        "incentive_title": title,
        "expires_at": redemption.expires_at,
        "created_at": redemption.created_at,
        "resolved_at": redemption.resolved_at,
        "resolved_by": redemption.resolved_by,
    }


async def merchant_view(session: AsyncSession, redemption: Redemption) -> dict[str, Any]:
    """One redemption as its merchant sees it (never the code)."""
    title = await session.scalar(
        select(Incentive.title).where(Incentive.id == redemption.incentive_id)
    )
    return _merchant_view(redemption, title or "")


async def list_for_merchant(
    session: AsyncSession, merchant_id: str, status: str | None, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    query = (
        select(Redemption, Incentive.title)
        .join(Incentive, Incentive.id == Redemption.incentive_id)
        .where(Redemption.merchant_id == merchant_id)
    )
    if status is not None:
        query = query.where(Redemption.status == status)
    rows, next_cursor = NEWEST.page(
        (await session.execute(NEWEST.apply(query, cursor, limit))).all(), limit, lambda r: r[0]
    )
    return [_merchant_view(r, title) for r, title in rows], next_cursor


async def merchant_totals(session: AsyncSession, merchant_id: str) -> dict[str, int]:
    """Counts by status and the points settled to the merchant (for settlement)."""
    totals = {status: 0 for status in STATUSES} | {"points_settled": 0}
    rows = await session.execute(
        select(Redemption.status, func.count(), func.coalesce(func.sum(Redemption.points), 0))
        .where(Redemption.merchant_id == merchant_id)
        .group_by(Redemption.status)
    )
    for status, count, points in rows:
        totals[status] = int(count)
        if status == RedemptionStatus.FULFILLED:
            totals["points_settled"] = int(points)
    return totals
