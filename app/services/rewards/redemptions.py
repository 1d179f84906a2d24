"""Redemptions: a code backed by a ledger hold, fulfilled at the till at most once.

Locks, always in this order (the ledger's order, then business rows), so that concurrent
redeem, verify, cancel and expiry neither oversell, double-spend nor deadlock:

1. the citizen's ledger accounts (``ledger.lock_user``): serialises one citizen's redemptions,
   which makes the idempotency-key lookup and the per-user-limit count safe;
2. merchant accounts (at the till, in the same statement as the citizen's);
3. the redemption row, then the incentive row (a conditional ``UPDATE``: the one that takes a
   unit of stock is the last write of a redemption, the one that returns units the last of a
   cancel or an expiry sweep).

A redemption row is only ever locked by a transaction that already holds its owner's lock, so
verify, cancel and expiry of one code are serialised and each re-reads the status under lock
(or flips it with a conditional ``UPDATE``) before acting. Only the till locks merchant
accounts, each after its code's owner, so taking the merchant's before the code's row is safe.
Statuses: ``issued`` → ``fulfilled`` | ``cancelled`` | ``expired``, once.

What needs no lock happens before the first one: drawing, hashing and sealing a code, and the
read that answers replays and refusals (a sold-out incentive answers from it, writing nothing).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    Row,
    Table,
    and_,
    bindparam,
    func,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import after_commit, new_id, utcnow
from app.kit.errors import IdempotencyConflict, NotFound, ValidationFailed
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
from app.services.rewards.redemption_views import NAMES, TILL_TITLES

_TAKEN = (
    RedemptionStatus.ISSUED,
    RedemptionStatus.FULFILLED,
)  # what counts against stock and the per-user limit
_CODE_ATTEMPTS = 3


@dataclass(frozen=True)
class Issued:
    redemption: Redemption
    created: bool  # False: an idempotent replay of an earlier request


_REDEMPTIONS = cast(Table, Redemption.__table__)
_INCENTIVES = cast(Table, Incentive.__table__)
_MERCHANTS = cast(Table, Merchant.__table__)
_R, _I, _M = _REDEMPTIONS.c, _INCENTIVES.c, _MERCHANTS.c
_TAKEN_BY = _REDEMPTIONS.alias("taken")
_EARLIER = "earlier_"

# What a redemption decides on, in one statement that needs no lock: the incentive's fields,
# its merchant, the caller's earlier redemption with this Idempotency-Key (a replay) and how
# many of this incentive the caller holds (the per-user limit). Read once before the citizen's
# lock (replays and refusals, sold out above all, answer from it and write nothing) and once
# more under it, where the key and the limit are exact. The stock is the final UPDATE's to
# decide. One textually fixed statement: prepared once per connection.
_STATE = select(
    _I.id,
    _I.merchant_id,
    _I.title,
    _I.points_cost,
    _I.stock,
    _I.per_user_limit,
    _I.valid_from,
    _I.valid_until,
    _I.code_ttl_days,
    _I.paused,
    _M.is_active.label("merchant_active"),
    _M.name.label("merchant_name"),
    select(func.count())
    .select_from(_TAKEN_BY)
    .where(
        _TAKEN_BY.c.user_id == bindparam("b_user"),
        _TAKEN_BY.c.incentive_id == bindparam("b_incentive"),
        _TAKEN_BY.c.status.in_(_TAKEN),
    )
    .scalar_subquery()
    .label("taken"),
    *(column.label(_EARLIER + column.name) for column in _R),
).select_from(
    select(literal_column("1").label("one"))
    .subquery("one")
    .outerjoin(
        _REDEMPTIONS,
        and_(_R.user_id == bindparam("b_user"), _R.idempotency_key == bindparam("b_key")),
    )
    .outerjoin(_INCENTIVES, _I.id == bindparam("b_incentive"))
    .outerjoin(_MERCHANTS, _M.id == _I.merchant_id)
)

# The last write of a redemption, the only authority on stock: the hot row stays locked from
# this statement to COMMIT.
_TAKE_UNIT = (
    update(_INCENTIVES)
    .where(
        _I.id == bindparam("b_incentive"),
        _I.paused.is_(False),
        select(_M.is_active).where(_M.id == _I.merchant_id).scalar_subquery().is_(True),
        or_(_I.stock.is_(None), _I.stock > 0),
        or_(_I.valid_from.is_(None), _I.valid_from <= bindparam("b_now")),
        or_(_I.valid_until.is_(None), _I.valid_until > bindparam("b_now")),
    )
    .values(stock=_I.stock - 1, issued=_I.issued + 1)
    .returning(_I.stock, _I.issued)
)

# A clash of two codes' hashes (59 random bits) inserts nothing instead of failing the unit.
_ISSUE = {
    name: dialect.insert(_REDEMPTIONS)
    .on_conflict_do_nothing(index_elements=[_R.code_hash])
    .returning(_R.id)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


def _remember_names(session: AsyncSession, incentive_id: str, title: str, merchant: str) -> None:
    """The incentive's title and merchant's name, read with the redemption, for its view."""
    session.info.setdefault(NAMES, {})[incentive_id] = (title, merchant)


def _decide(
    session: AsyncSession, state: Row[Any], incentive_id: str, now: datetime
) -> Issued | None:
    """Refuse (raises), replay an earlier redemption with the same key, or None: go on."""
    earlier = getattr(state, _EARLIER + "id")
    if earlier is not None:
        if getattr(state, _EARLIER + "incentive_id") != incentive_id:
            raise IdempotencyConflict(
                "This Idempotency-Key was already used for another incentive."
            )
        mapping = state._mapping
        replay = Redemption(**{c.name: mapping[_EARLIER + c.name] for c in _R})
        if state.id is not None:
            _remember_names(session, incentive_id, state.title, state.merchant_name)
        return Issued(replay, created=False)
    if state.id is None:
        raise NotFound(f"Incentive {incentive_id} does not exist.")
    if state.per_user_limit is not None and int(state.taken or 0) >= state.per_user_limit:
        raise LimitReached(
            f"You have reached this incentive's limit per person: {state.per_user_limit}.",
            per_user_limit=state.per_user_limit,
        )
    if not state.merchant_active:
        raise IncentiveInactive(
            "This incentive's merchant is not active.", reason="merchant_inactive"
        )
    _check_open(state, now)
    return None


async def redeem(
    session: AsyncSession,
    secret: str,
    *,
    user_id: str,
    incentive_id: str,
    idempotency_key: str,
    now: datetime | None = None,
) -> Issued:
    """Take one unit of stock, hold the points, issue a code: all or nothing.

    In order: the code drawn, hashed and sealed (no database); one read without a lock, from
    which replays and refusals answer (a sold-out incentive costs that read and no write);
    the citizen's lock and the same read again; the hold through the ledger; the redemption
    row; and last the conditional stock UPDATE, so the hot incentive's row is locked for one
    statement and the COMMIT."""
    now = now or utcnow()
    redemption_id = new_id()
    code = codes.new_code()
    sealed = (codes.hash_code(secret, code), codes.encrypt_code(secret, code, redemption_id))
    params = {"b_user": user_id, "b_key": idempotency_key, "b_incentive": incentive_id}

    state = (await session.execute(_STATE, params)).one()
    if (replay := _decide(session, state, incentive_id, now)) is not None:
        return replay
    await ledger.lock_user(session, user_id)
    state = (await session.execute(_STATE, params)).one()
    if (replay := _decide(session, state, incentive_id, now)) is not None:
        return replay  # the same key, committed between the two reads

    hold = await ledger.hold(
        session,
        user_id=user_id,
        points=state.points_cost,
        ref=f"redemption:{redemption_id}:hold",
        cause_type="redemption",
        cause_id=redemption_id,
    )
    fields: dict[str, Any] = {
        "id": redemption_id,
        "user_id": user_id,
        "incentive_id": incentive_id,
        "merchant_id": state.merchant_id,
        "idempotency_key": idempotency_key,
        "code_hash": sealed[0],
        "code_encrypted": sealed[1],
        "code_hint": codes.hint(code),
        "status": RedemptionStatus.ISSUED,
        "points": state.points_cost,
        "hold_id": hold.id,
        "expires_at": now + timedelta(days=state.code_ttl_days),
        "resolved_at": None,
        "resolved_by": None,
        "created_at": now,
    }
    issue = _ISSUE[session.get_bind().dialect.name]
    # 59 random bits make a clash all but impossible; should one happen, draw again rather
    # than fail the request.
    for attempt in range(_CODE_ATTEMPTS):
        if (await session.execute(issue, fields)).first() is not None:
            break
        if attempt == _CODE_ATTEMPTS - 1:
            raise RuntimeError("could not draw an unused redemption code")
        code = codes.new_code()
        fields["code_hash"] = codes.hash_code(secret, code)
        fields["code_encrypted"] = codes.encrypt_code(secret, code, redemption_id)
        fields["code_hint"] = codes.hint(code)
    await _take_unit(session, incentive_id, now, params)
    _remember_names(session, incentive_id, state.title, state.merchant_name)
    _count(session, RedemptionStatus.ISSUED)
    return Issued(Redemption(**fields), created=True)


def _check_open(incentive: Any, now: datetime) -> None:
    """``incentive``: an Incentive or a row with its fields."""
    reason = inactive_reason(incentive, now)
    if reason is not None:
        raise IncentiveInactive(f"This incentive is {INACTIVE[reason]}.", reason=reason)
    if incentive.stock is not None and incentive.stock <= 0:
        raise OutOfStock("This incentive is out of stock.")


async def _take_unit(
    session: AsyncSession, incentive_id: str, now: datetime, params: dict[str, str]
) -> None:
    """Take one unit of stock with one conditional UPDATE, the last write before COMMIT: a
    hot incentive's row stays locked for no other statement. When the UPDATE matches nothing
    (sold out, paused or closed meanwhile), the caller's transaction rolls back, hold
    included; the reason comes from the same read as before."""
    taken = await session.execute(_TAKE_UNIT, {"b_incentive": incentive_id, "b_now": now})
    if taken.first() is None:
        state = (await session.execute(_STATE, params)).one()
        _decide(session, state, incentive_id, now)
        raise OutOfStock("This incentive is out of stock.")  # taken by others meanwhile


def _count(session: AsyncSession, event: str, n: int = 1) -> None:
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
        _ensure_issued(redemption, now, past_expiry_ok=False)
        raise AssertionError(f"redemption {row.id} is issued but could not be fulfilled")
    await ledger.settle(
        session, fulfilled.hold_id, merchant_id=merchant_id, user_id=fulfilled.user_id
    )
    _count(session, RedemptionStatus.FULFILLED)
    return Redemption(**fulfilled._mapping)


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
