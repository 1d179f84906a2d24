"""The till: a merchant's staff look a code up and fulfil it, the hold settling to the
merchant exactly once (locks as in ``app.services.rewards.redemptions``)."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Row, Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import utcnow
from app.kit.errors import NotFound, ValidationFailed
from app.models import Incentive, Redemption
from app.models.rewards import RedemptionStatus
from app.services import ledger
from app.services.rewards import codes
from app.services.rewards.redemption_returns import count, ensure_issued
from app.services.rewards.redemption_views import TILL_TITLES

_REDEMPTIONS = cast(Table, Redemption.__table__)
_INCENTIVES = cast(Table, Incentive.__table__)
_R, _I = _REDEMPTIONS.c, _INCENTIVES.c


async def _find_code(
    session: AsyncSession, secret: str, merchant_id: str, raw_code: str
) -> Row[tuple[str, str]]:
    """(id, user_id) of this merchant's redemption with that code, or a 404. The incentive's
    title comes with it, for the till's view."""
    code = codes.normalise(raw_code)
    if code is None:
        raise ValidationFailed(
            "A code is 12 characters from 2-9 and A-Z without I, L, O and U.",
            errors=[{"field": "body.code", "message": "not a redemption code"}],
        )
    row = (
        await session.execute(
            _FIND_CODE, {"b_hash": codes.hash_code(secret, code), "b_merchant": merchant_id}
        )
    ).first()
    if row is None:  # another merchant's code is as unknown here as a made-up one
        raise NotFound("No such code for this merchant.")
    session.info.setdefault(TILL_TITLES, {})[row.incentive_id] = row.title
    return row  # type: ignore[return-value]


_FIND_CODE = (
    select(_R.id, _R.user_id, _R.incentive_id, _I.title)
    .join_from(_REDEMPTIONS, _INCENTIVES, _I.id == _R.incentive_id)
    .where(_R.code_hash == bindparam("b_hash"), _R.merchant_id == bindparam("b_merchant"))
)


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


# Fulfilment is this one conditional UPDATE under the owner's lock: a code that is not issued
# (or is past its lifetime) matches nothing, and the reason is read afterwards.
_FULFIL = (
    update(_REDEMPTIONS)
    .where(
        _R.id == bindparam("b_id"),
        _R.status == RedemptionStatus.ISSUED,
        _R.expires_at > bindparam("b_now"),
    )
    .values(
        status=RedemptionStatus.FULFILLED,
        resolved_at=bindparam("b_now"),
        resolved_by=bindparam("b_by"),
    )
    .returning(*_R)
)


async def verify(
    session: AsyncSession,
    secret: str,
    *,
    merchant_id: str,
    staff_id: str,
    raw_code: str,
    now: datetime | None = None,
) -> Redemption:
    """Fulfil a code at the till: the hold settles to the merchant, exactly once.

    The code is hashed and looked up without a lock; then the owner's accounts and the
    merchant's account are locked in one statement, the code flips from ``issued`` with one
    conditional UPDATE, and the hold settles."""
    now = now or utcnow()
    row = await _find_code(session, secret, merchant_id, raw_code)
    await ledger.lock_user(session, row.user_id, ledger.merchant_account(merchant_id))
    fulfilled = (
        await session.execute(_FULFIL, {"b_id": row.id, "b_now": now, "b_by": staff_id})
    ).first()
    if fulfilled is None:
        redemption = await session.get(Redemption, row.id, populate_existing=True)
        assert redemption is not None
        ensure_issued(redemption, now, past_expiry_ok=False)
        raise AssertionError(f"redemption {row.id} is issued but could not be fulfilled")
    await ledger.settle(
        session, fulfilled.hold_id, merchant_id=merchant_id, user_id=fulfilled.user_id
    )
    count(session, RedemptionStatus.FULFILLED)
    return Redemption(**fulfilled._mapping)
