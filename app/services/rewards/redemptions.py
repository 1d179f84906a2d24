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
Once the database has said "sold out", a marker in the store answers the refusals of everyone
with no redemption of the incentive without the database (``app.services.rewards.sold_out``).

The till is in ``redemption_tills``; codes given back (cancel, expiry) in
``redemption_returns``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Row, Table, and_, bindparam, func, literal_column, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable

from app.db import new_id, utcnow
from app.kit.errors import IdempotencyConflict, NotFound
from app.kit.statements import precompiled
from app.kv import KV
from app.models import Incentive, Merchant, Redemption
from app.models.rewards import RedemptionStatus
from app.services import ledger
from app.services.rewards import codes, sold_out
from app.services.rewards.errors import IncentiveInactive, LimitReached, OutOfStock
from app.services.rewards.gates import REDEMPTIONS
from app.services.rewards.incentives import INACTIVE, inactive_reason
from app.services.rewards.redemption_returns import cancel, count, expire_codes
from app.services.rewards.redemption_tills import lookup, verify
from app.services.rewards.redemption_views import NAMES

__all__ = ["Issued", "cancel", "expire_codes", "lookup", "redeem", "verify"]

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
        # Not ``in_``: its values would be rendered into the text at every execution.
        or_(*(_TAKEN_BY.c.status == status for status in _TAKEN)),
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


@precompiled
def _issue(dialect: str) -> Executable:
    """A clash of two codes' hashes (59 random bits) inserts nothing instead of failing the
    unit."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert(_REDEMPTIONS).on_conflict_do_nothing(index_elements=[_R.code_hash]).returning(_R.id)
    )


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
    kv: KV | None = None,
) -> Issued:
    """Take one unit of stock, hold the points, issue a code: all or nothing.

    In order: the worker's gate for this incentive; the sold-out marker in the store (a
    refusal of a citizen with no redemption of the incentive ends here); the code drawn,
    hashed and sealed (no database); one read without a lock, from which replays and
    refusals answer (a sold-out incentive costs that read and no write, and writes the
    marker); the citizen's lock and the same read again; the hold through the ledger (its ref
    is new, so it is not looked up); the redemption row; and last the conditional stock
    UPDATE, so the hot incentive's row is locked for one statement and the COMMIT."""
    now = now or utcnow()
    async with _gates.hold(incentive_id):
        # Read after the wait at the gate: the stock may have run out meanwhile.
        seen = await sold_out.look(kv, incentive_id, user_id)
        if seen.refuse:
            raise OutOfStock("This incentive is out of stock.")
        try:
            return await _redeem(session, secret, user_id, incentive_id, idempotency_key, now)
        except _SoldOut as gone:
            await sold_out.mark(session, kv, seen, incentive_id, now, gone.valid_until)
            raise OutOfStock("This incentive is out of stock.") from None


# A worker lets this many requests for one incentive reach the database at once (after the
# wait, the sold-out marker is read again). The winners serialise on the incentive's row
# anyway.
_gates = REDEMPTIONS


class _SoldOut(Exception):
    """The database said "out of stock" (the caller answers ``OutOfStock``)."""

    def __init__(self, valid_until: datetime | None) -> None:
        self.valid_until = valid_until


async def _redeem(
    session: AsyncSession,
    secret: str,
    user_id: str,
    incentive_id: str,
    idempotency_key: str,
    now: datetime,
) -> Issued:
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
        new_ref=True,
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
    # 59 random bits make a clash all but impossible; should one happen, draw again rather
    # than fail the request.
    for attempt in range(_CODE_ATTEMPTS):
        if (await _issue.execute(session, fields)).first() is not None:
            break
        if attempt == _CODE_ATTEMPTS - 1:
            raise RuntimeError("could not draw an unused redemption code")
        code = codes.new_code()
        fields["code_hash"] = codes.hash_code(secret, code)
        fields["code_encrypted"] = codes.encrypt_code(secret, code, redemption_id)
        fields["code_hint"] = codes.hint(code)
    await _take_unit(session, incentive_id, now, params)
    _remember_names(session, incentive_id, state.title, state.merchant_name)
    count(session, RedemptionStatus.ISSUED)
    return Issued(Redemption(**fields), created=True)


def _check_open(incentive: Any, now: datetime) -> None:
    """``incentive``: an Incentive or a row with its fields."""
    reason = inactive_reason(incentive, now)
    if reason is not None:
        raise IncentiveInactive(f"This incentive is {INACTIVE[reason]}.", reason=reason)
    if incentive.stock is not None and incentive.stock <= 0:
        raise _SoldOut(incentive.valid_until)


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
        raise _SoldOut(state.valid_until)  # taken by others meanwhile
