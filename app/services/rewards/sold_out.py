"""Sold-out markers: once an incentive's stock is gone, refusals answer from the store.

A marker is written when the database has just said "out of stock" (the read before the lock,
or the conditional stock ``UPDATE`` that matched nothing). It names every citizen with any
redemption of the incentive: they still go to the database, where a replay, the per-user
limit (``limit_reached``) and the stock are decided exactly. Everyone else has nothing to
replay and no limit reached, so while the marker stands they are answered ``out_of_stock``
without a database read, a lock or a pooled connection.

A marker is dropped after the commit of anything that may bring units back or change the
answer: a cancelled or expired code (stock returned), an edit of the incentive, a change of a
merchant. The marker also carries a generation: a request that read "sold out" before such a
commit and writes its marker after the commit's drop writes nothing. It lives a few seconds
at most (and never past the incentive's ``valid_until``), so even a drop lost to a store that
was briefly unreachable costs a few seconds of refusals that were true a moment before.
A store that does not answer simply sends every request to the database.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from redis.exceptions import RedisError
from sqlalchemy import Table, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db import after_commit
from app.kv import ADMIT_NOT, ADMIT_REFUSE, KV, KVBusy
from app.models import Incentive, Redemption
from app.security import TokenClaims
from app.services.identity import ratelimit, standing

logger = logging.getLogger("tanhui.rewards")

LIFETIME_SECONDS = 5.0
# A marker naming more citizens than this is not written (each check would still be one
# O(1) lookup, but the write and the store's memory grow with it).
MAX_MEMBERS = 20_000

_R = cast(Table, Redemption.__table__).c
_INCENTIVE_IDS = cast(Table, Incentive.__table__).c
# Everyone who holds or held a redemption of the incentive, whatever its status.
_CUSTOMERS = select(_R.user_id).where(_R.incentive_id == bindparam("b_incentive")).distinct()


def _keys(incentive_id: str) -> tuple[str, str]:
    return f"soldout:{incentive_id}", f"soldout-gen:{incentive_id}"


@dataclass(frozen=True)
class Look:
    """What the store said before the database was asked."""

    refuse: bool
    generation: str | None  # None: the store did not answer; nothing will be marked


async def look(kv: KV | None, incentive_id: str, user_id: str) -> Look:
    if kv is None:
        return Look(False, None)
    try:
        refuse, generation = await kv.sold_out_check(_keys(incentive_id), user_id)
    except (RedisError, KVBusy):
        return Look(False, None)
    return Look(refuse, generation)


async def admit(
    kv: KV, settings: Settings, claims: TokenClaims, incentive_id: str
) -> tuple[int, Look]:
    """Before any routing (``app.routers.rewards.lane``), in one round trip: whether the
    citizen's token stands (not revoked, within its rate limit, which then counts this
    request) and whether the incentive's marker refuses them. ``ADMIT_REFUSE``: answer
    ``out_of_stock``; ``ADMIT_DECIDE``: decide the redemption, with this look at the store;
    ``ADMIT_NOT`` in every other case, the store silent included, with nothing written: the
    request goes the ordinary way, which checks and counts it there."""
    if not standing.standing_loaded(kv):
        return ADMIT_NOT, Look(False, None)
    try:
        verdict, generation = await kv.sold_out_admit(
            _keys(incentive_id),
            claims.sub,
            standing.auth_keys(claims),
            claims.issued_at,
            standing.rate_limit(settings, claims),
            ratelimit.WINDOW_SECONDS,
        )
    except (RedisError, KVBusy):
        return ADMIT_NOT, Look(False, None)
    return verdict, Look(verdict == ADMIT_REFUSE, generation)


async def mark(
    session: AsyncSession,
    kv: KV | None,
    seen: Look,
    incentive_id: str,
    now: datetime,
    valid_until: datetime | None,
) -> None:
    """Called when the database has answered ``out_of_stock``: one read of the incentive's
    customers (this unit's own new ones included), and the marker written once the unit has
    committed (unless units came back since ``seen`` was read)."""
    if kv is None or seen.generation is None:
        return
    ttl = LIFETIME_SECONDS
    if valid_until is not None:
        ttl = min(ttl, (valid_until - now).total_seconds())
    if ttl <= 0.05:
        return
    customers = list((await session.execute(_CUSTOMERS, {"b_incentive": incentive_id})).scalars())
    if len(customers) > MAX_MEMBERS:
        return
    generation = seen.generation

    async def write() -> None:
        try:
            await kv.sold_out_mark(_keys(incentive_id), generation, customers, ttl)
        except (RedisError, KVBusy):
            logger.info("sold-out marker of %s not written: the store did not answer", incentive_id)

    after_commit(session, write)


async def clear(kv: KV, incentive_ids: Iterable[str]) -> None:
    for incentive_id in incentive_ids:
        try:
            await kv.sold_out_clear(_keys(incentive_id))
        except (RedisError, KVBusy):
            logger.warning(
                "sold-out marker of %s not dropped: the store did not answer; it lapses "
                "within %.0f s",
                incentive_id,
                LIFETIME_SECONDS,
            )


def clear_after_commit(session: AsyncSession, kv: KV | None, incentive_ids: Iterable[str]) -> None:
    """Drop the markers of these incentives once the session's transaction has committed."""
    ids = sorted(set(incentive_ids))
    if kv is None or not ids:
        return

    async def drop() -> None:
        await clear(kv, ids)

    after_commit(session, drop)


async def clear_merchant_after_commit(
    session: AsyncSession, kv: KV | None, merchant_id: str
) -> None:
    """A merchant (de)activated: drop the markers of its incentives after the commit."""
    if kv is None:
        return
    ids = (
        await session.execute(
            select(_INCENTIVE_IDS.id).where(_INCENTIVE_IDS.merchant_id == merchant_id)
        )
    ).scalars()
    clear_after_commit(session, kv, ids)
