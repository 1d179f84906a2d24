"""Redemptions: a code backed by a ledger hold, fulfilled at the till at most once.

Locks, always in this order (the ledger's order, then business rows), so that concurrent
redeem, verify, cancel and expiry neither oversell, double-spend nor deadlock:

1. the citizens' ledger accounts (``ledger.lock_users``, one ordered statement): serialises
   each citizen's redemptions, which makes the idempotency-key lookup and the per-user-limit
   count safe;
2. merchant accounts (at the till, in the same statement as the citizen's);
3. the redemption row, then the incentive row (locked by the redemptions that take stock,
   or by a conditional ``UPDATE`` that returns units: the last write of a cancel or an
   expiry sweep).

A redemption row is only ever locked by a transaction that already holds its owner's lock, so
verify, cancel and expiry of one code are serialised and each re-reads the status under lock
(or flips it with a conditional ``UPDATE``) before acting. Only the till locks merchant
accounts, each after its code's owner, so taking the merchant's before the code's row is safe.
Statuses: ``issued`` → ``fulfilled`` | ``cancelled`` | ``expired``, once.

Redemptions are decided in groups (``issue``): the requests of one worker for one incentive
that wait together (``redemption_groups``) share one unit of work, whatever their number: two
reads without a lock, from which replays and refusals answer (a sold-out incentive costs those
reads and no write); the citizens' locks; the same reads under them; the incentive row,
locked, which says the price and how many units are left; the citizens' lots; the holds, the
codes and the stock, each one statement for the group. Each request still gets its own
answer, in arrival order: a replay, a refusal (the key used for another incentive, the
per-user limit, too few points, inactive, out of stock) or a new code, drawn, hashed and
sealed for the winners only. Once the database has said "sold out", a marker in the store
answers the refusals of everyone with no redemption of the incentive without the database
(``app.services.rewards.sold_out``).

The till is in ``redemption_tills``; codes given back (cancel, expiry) in
``redemption_returns``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Row, Select, Table, bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import new_id
from app.kit.bulk import insert_rows, together
from app.kit.errors import DomainError, IdempotencyConflict, NotFound
from app.kit.statements import any_of, per_dialect
from app.kv import KV
from app.models import Incentive, Merchant, Redemption
from app.models.rewards import RedemptionStatus
from app.services import ledger
from app.services.ledger.holds import Want, hold_many
from app.services.ledger.lots import enough, spendable_of
from app.services.rewards import codes, sold_out
from app.services.rewards.errors import IncentiveInactive, LimitReached, OutOfStock
from app.services.rewards.incentives import INACTIVE, inactive_reason
from app.services.rewards.redemption_returns import cancel, count, expire_codes
from app.services.rewards.redemption_tills import lookup, verify

__all__ = ["Ask", "Issued", "cancel", "expire_codes", "issue", "lookup", "verify"]

_TAKEN = (
    RedemptionStatus.ISSUED,
    RedemptionStatus.FULFILLED,
)  # what counts against stock and the per-user limit


@dataclass(frozen=True)
class Issued:
    redemption: Redemption
    created: bool  # False: an idempotent replay of an earlier request
    incentive_title: str
    merchant_name: str


@dataclass(frozen=True)
class Ask:
    """One request to redeem: the citizen and their Idempotency-Key."""

    user_id: str
    idempotency_key: str


Answer = Issued | DomainError

_REDEMPTIONS = cast(Table, Redemption.__table__)
_INCENTIVES = cast(Table, Incentive.__table__)
_MERCHANTS = cast(Table, Merchant.__table__)
_R, _I, _M = _REDEMPTIONS.c, _INCENTIVES.c, _MERCHANTS.c

# The incentive and its merchant: read once without a lock (refusals answer from it), and
# once locked by a group that takes stock, where its stock is exact.
_INCENTIVE = (
    select(
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
    )
    .select_from(_INCENTIVES.join(_MERCHANTS, _M.id == _I.merchant_id))
    .where(_I.id == bindparam("b_incentive"))
)
_INCENTIVE_LOCKED = _INCENTIVE.with_for_update(of=_INCENTIVES)


@per_dialect
def _their_redemptions(dialect: str) -> Select[Any]:
    """The asking citizens' redemptions of this incentive (replays, the per-user limit) and
    those under their keys (a key used for another incentive)."""
    return select(*_R).where(
        any_of(dialect, _R.user_id, "b_users"),
        or_(
            _R.incentive_id == bindparam("b_incentive"),
            any_of(dialect, _R.idempotency_key, "b_keys"),
        ),
    )


# The units taken, last: the row is locked since ``_INCENTIVE_LOCKED``, so the stock is the one
# read there; the condition guards that all the same (NULL stock: unlimited, stays NULL).
_TAKE_UNITS = (
    update(_INCENTIVES)
    .where(
        _I.id == bindparam("b_incentive"),
        or_(_I.stock.is_(None), _I.stock >= bindparam("b_units")),
    )
    .values(stock=_I.stock - bindparam("b_units"), issued=_I.issued + bindparam("b_units"))
    .returning(_I.id)
)


async def issue(
    session: AsyncSession,
    secret: str,
    kv: KV | None,
    incentive_id: str,
    asks: Sequence[Ask],
    now: datetime,
    *,
    seen: sold_out.Look | None = None,
) -> list[Answer]:
    """Decide a group of requests for one incentive in one unit of work, each citizen at most
    once; returns each request's answer, in order. Units of stock go to the first asks that
    can have them. ``seen``: what the store said before the first read, for the sold-out
    marker written after the commit when this unit finds the stock gone."""
    if len({ask.user_id for ask in asks}) != len(asks):
        raise ValueError("a group names each citizen once")
    answers: list[Answer | None] = [None] * len(asks)
    params = {
        "b_incentive": incentive_id,
        "b_users": [ask.user_id for ask in asks],
        "b_keys": [ask.idempotency_key for ask in asks],
    }
    incentive = (await session.execute(_INCENTIVE, params)).first()
    open_ = await _judge(session, incentive, incentive_id, asks, answers, params, now)
    if open_ and incentive is not None:
        await ledger.lock_users(session, [asks[i].user_id for i in open_])
        open_ = await _judge(session, incentive, incentive_id, asks, answers, params, now, open_)
    if open_ and incentive is not None:
        # Locked until COMMIT: the stock, the price and the state read here are what this unit
        # decides with.
        incentive = (await session.execute(_INCENTIVE_LOCKED, params)).one()
        if (refusal := _closed(incentive, now)) is not None:  # closed since the first read
            for i in open_:
                answers[i] = refusal
        else:
            await _allot(session, secret, incentive, asks, open_, answers, now)
    if seen is not None and any(isinstance(a, OutOfStock) for a in answers):
        valid_until = incentive.valid_until if incentive is not None else None
        await sold_out.mark(session, kv, seen, incentive_id, now, valid_until)
    decided: list[Answer] = []
    for answer in answers:
        if answer is None:
            raise RuntimeError("a redemption of the group was left undecided")
        decided.append(answer)
    return decided


def _closed(incentive: Any, now: datetime) -> DomainError | None:
    """Why nobody may redeem the incentive (a row with its fields) now, stock aside, or None."""
    if not incentive.merchant_active:
        return IncentiveInactive(
            "This incentive's merchant is not active.", reason="merchant_inactive"
        )
    reason = inactive_reason(incentive, now)
    if reason is not None:
        return IncentiveInactive(f"This incentive is {INACTIVE[reason]}.", reason=reason)
    return None


async def _judge(
    session: AsyncSession,
    incentive: Row[Any] | None,
    incentive_id: str,
    asks: Sequence[Ask],
    answers: list[Answer | None],
    params: dict[str, Any],
    now: datetime,
    which: list[int] | None = None,
) -> list[int]:
    """Answer the asks (of ``which``) that are replays or refused before any unit is taken;
    returns those still open, in order. Called before the citizens' locks (nothing written)
    and again under them, where keys and counts are exact."""
    mine: dict[str, list[Row[Any]]] = {}
    for row in await session.execute(_their_redemptions(session), params):
        mine.setdefault(row.user_id, []).append(row)
    closed = _closed(incentive, now) if incentive is not None else None
    still = []
    for i in range(len(asks)) if which is None else which:
        ask = asks[i]
        rows = mine.get(ask.user_id, [])
        earlier = next((r for r in rows if r.idempotency_key == ask.idempotency_key), None)
        if earlier is not None and earlier.incentive_id != incentive_id:
            answers[i] = IdempotencyConflict(
                "This Idempotency-Key was already used for another incentive."
            )
            continue
        if incentive is None:
            answers[i] = NotFound(f"Incentive {incentive_id} does not exist.")
            continue
        if earlier is not None:
            replay = Redemption(**earlier._mapping)
            answers[i] = Issued(replay, False, incentive.title, incentive.merchant_name)
            continue
        taken = sum(1 for r in rows if r.incentive_id == incentive_id and r.status in _TAKEN)
        if incentive.per_user_limit is not None and taken >= incentive.per_user_limit:
            answers[i] = LimitReached(
                f"You have reached this incentive's limit per person: {incentive.per_user_limit}.",
                per_user_limit=incentive.per_user_limit,
            )
        elif closed is not None:
            answers[i] = closed
        elif incentive.stock is not None and incentive.stock <= 0:
            answers[i] = OutOfStock("This incentive is out of stock.")
        else:
            still.append(i)
    return still


async def _allot(
    session: AsyncSession,
    secret: str,
    incentive: Row[Any],
    asks: Sequence[Ask],
    open_: list[int],
    answers: list[Answer | None],
    now: datetime,
) -> None:
    """The open asks of a redeemable incentive (its row locked): those who cannot pay are
    refused, the units left go to the first who can, in order, and the rest are out of stock."""
    cost = incentive.points_cost
    lots = await spendable_of(session, [asks[i].user_id for i in open_], cost, now)
    affordable = []
    for i in open_:
        try:
            affordable.append((i, enough(lots.get(asks[i].user_id, []), cost)))
        except ledger.InsufficientPoints as short:
            answers[i] = short
    units = len(affordable) if incentive.stock is None else incentive.stock
    for i, _ in affordable[units:]:
        answers[i] = OutOfStock("This incentive is out of stock.")
    if affordable[:units]:
        await _issue(session, secret, incentive, asks, affordable[:units], answers, now)


async def _issue(
    session: AsyncSession,
    secret: str,
    incentive: Row[Any],
    asks: Sequence[Ask],
    winners: list[tuple[int, list[Any]]],
    answers: list[Answer | None],
    now: datetime,
) -> None:
    """The winners' holds, codes and units of stock: one statement each for the group."""
    ids = [new_id() for _ in winners]
    async with together(session):
        holds = await hold_many(
            session,
            [
                (
                    Want(
                        asks[i].user_id,
                        incentive.points_cost,
                        f"redemption:{rid}:hold",
                        "redemption",
                        rid,
                    ),
                    lots,
                )
                for rid, (i, lots) in zip(ids, winners, strict=True)
            ],
        )
        rows = []
        for rid, (i, _), hold in zip(ids, winners, holds, strict=True):
            # 59 random bits: a clash of two codes fails the unit, which is run again with new
            # codes (``redemption_groups``).
            code = codes.new_code()
            rows.append(
                {
                    "id": rid,
                    "user_id": asks[i].user_id,
                    "incentive_id": incentive.id,
                    "merchant_id": incentive.merchant_id,
                    "idempotency_key": asks[i].idempotency_key,
                    "code_hash": codes.hash_code(secret, code),
                    "code_encrypted": codes.encrypt_code(secret, code, rid),
                    "code_hint": codes.hint(code),
                    "status": RedemptionStatus.ISSUED,
                    "points": incentive.points_cost,
                    "hold_id": hold.id,
                    "expires_at": now + timedelta(days=incentive.code_ttl_days),
                    "resolved_at": None,
                    "resolved_by": None,
                    "created_at": now,
                }
            )
        await insert_rows(session, _REDEMPTIONS, rows)
    taken = await session.execute(
        _TAKE_UNITS, {"b_incentive": incentive.id, "b_units": len(winners)}
    )
    if taken.first() is None:
        raise RuntimeError(f"the stock of {incentive.id} changed under its lock")
    for (i, _), row in zip(winners, rows, strict=True):
        answers[i] = Issued(Redemption(**row), True, incentive.title, incentive.merchant_name)
    count(session, RedemptionStatus.ISSUED, len(winners))
