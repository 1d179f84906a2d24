"""Codes given back: a citizen's cancel and the expiry sweep return the points and the unit.

The locks follow the order of ``app.services.rewards.redemptions``: the owners' ledger
accounts, then the redemption rows, then the incentive rows last (in id order). Once a unit is
back, the incentive's sold-out marker is dropped after the commit.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import after_commit, utcnow
from app.kit.errors import NotFound
from app.kv import KV
from app.models import Incentive, Redemption
from app.models.rewards import RedemptionStatus
from app.observability import REDEMPTIONS
from app.services import ledger
from app.services.rewards import sold_out
from app.services.rewards.errors import AlreadyFulfilled, CodeCancelled, CodeExpired

_INCENTIVES = cast(Table, Incentive.__table__)
_I = _INCENTIVES.c


def count(session: AsyncSession, event: str, n: int = 1) -> None:
    """Count a redemption event in the metrics once it is committed."""

    async def inc() -> None:
        REDEMPTIONS.labels(event).inc(n)

    if n:
        after_commit(session, inc)


async def _lock_redemption(session: AsyncSession, redemption_id: str) -> Redemption | None:
    return await session.scalar(
        select(Redemption)
        .where(Redemption.id == redemption_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def ensure_issued(redemption: Redemption, now: datetime, *, past_expiry_ok: bool) -> None:
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
    await ledger.release(session, redemption.hold_id, user_id=redemption.user_id)
    redemption.status = status
    redemption.resolved_at = now
    redemption.resolved_by = by


_RETURN_STOCK = (
    update(_INCENTIVES)
    .where(_I.id == bindparam("b_incentive"))
    .values(stock=_I.stock + bindparam("b_units"), issued=_I.issued - bindparam("b_units"))
)


async def _return_stock(session: AsyncSession, incentive_id: str, units: int) -> None:
    """One UPDATE, the incentive's row last (unlimited stock stays NULL)."""
    await session.execute(_RETURN_STOCK, {"b_incentive": incentive_id, "b_units": units})


async def cancel(
    session: AsyncSession,
    *,
    user_id: str,
    redemption_id: str,
    now: datetime | None = None,
    kv: KV | None = None,
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
    ensure_issued(redemption, now, past_expiry_ok=True)
    await _give_back(session, redemption, RedemptionStatus.CANCELLED, now, by=user_id)
    await _return_stock(session, redemption.incentive_id, 1)
    await session.flush()
    count(session, RedemptionStatus.CANCELLED)
    sold_out.clear_after_commit(session, kv, [redemption.incentive_id])
    return redemption


async def expire_codes(
    session: AsyncSession, now: datetime, limit: int, kv: KV | None = None
) -> int:
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
    count(session, RedemptionStatus.EXPIRED, sum(returned.values()))
    sold_out.clear_after_commit(session, kv, returned)
    return sum(returned.values())
