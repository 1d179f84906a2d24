"""Redemptions of one incentive decided in groups, per worker.

A hot incentive (a thousand citizens at once for a stock of a hundred) made each winner pay a
unit of work of its own, one after the other on the incentive's row: eight statements, a
commit and the framework around them, about 4 ms of worker CPU a redemption. Here the
requests of one worker for one incentive queue in arrival order, and one unit of work at a
time decides whatever is waiting (``redemptions.issue``: the same statements for a group as
for one). The first request starts the unit at once; those arriving while it runs form the
next group, so a quiet incentive waits for nothing and a hot one is decided in a few large
units. Two workers' units of one incentive serialise on its row, locked by each until COMMIT.

A citizen is in a group at most once (their second request waits for the next unit, which
sees the first one's outcome: a replay, or the per-user limit). Each request gets its own
answer. A unit that fails for a reason of the moment (the database lost, a deadlock), or on a
clash of two codes' hashes, runs again once with new codes; still failing for a reason of the
moment, every request of the group is answered 503 with ``Retry-After`` (nothing of it was
committed; the same Idempotency-Key retried is safe). Any other failure decides each request
of the group alone, so that it fails only the request that causes it (``app.kit.groups``,
shared with the single records' groups). A full queue answers 503 at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import session_scope, utcnow
from app.kit.errors import ServiceUnavailable
from app.kit.groups import answer, once_more, settle
from app.kv import KV
from app.services.rewards import redemptions, sold_out
from app.services.rewards.errors import OutOfStock

logger = logging.getLogger("tanhui.rewards.groups")


def _unavailable() -> ServiceUnavailable:
    return ServiceUnavailable(
        "The redemption could not be committed just now; retry the same request.",
        retry_after=1,
    )


@dataclass(eq=False)
class _Waiting:
    ask: redemptions.Ask
    seen: sold_out.Look
    future: asyncio.Future[redemptions.Issued]


def _take(queue: deque[_Waiting], limit: int) -> list[_Waiting]:
    """The next group, in arrival order, each citizen once; the others keep their places."""
    group: list[_Waiting] = []
    users: set[str] = set()
    later: list[_Waiting] = []
    while queue and len(group) < limit:
        waiting = queue.popleft()
        if waiting.ask.user_id in users:
            later.append(waiting)
        else:
            users.add(waiting.ask.user_id)
            group.append(waiting)
    queue.extendleft(reversed(later))
    return group


class RedemptionGroups:
    """One worker's queues of redemptions, one per incentive while requests use it."""

    def __init__(
        self,
        maker: async_sessionmaker[AsyncSession],
        secret: str,
        kv: KV | None,
        group_max: int,
        queue_max: int,
    ) -> None:
        """``group_max``: citizens decided in one unit of work. ``queue_max``: requests of
        one incentive waiting in this worker; beyond it a request is answered 503 at once
        instead of waiting longer and longer (the lane's gate lets 64 in at a time)."""
        self._maker = maker
        self._group_max = group_max
        self._queue_max = queue_max
        self._secret = secret
        self._kv = kv
        self._queues: dict[str, deque[_Waiting]] = {}
        self._units: set[asyncio.Task[None]] = set()

    async def redeem(
        self, user_id: str, incentive_id: str, idempotency_key: str
    ) -> redemptions.Issued:
        """Take one unit of stock, hold the points, issue a code: all or nothing. Raises the
        request's own refusal (a DomainError), or 503 when its group could not be committed."""
        # Before anything else: a sold-out incentive refuses whoever has no redemption of it.
        seen = await sold_out.look(self._kv, incentive_id, user_id)
        if seen.refuse:
            raise OutOfStock("This incentive is out of stock.")
        return await self.submit(user_id, incentive_id, idempotency_key, seen)

    async def submit(
        self, user_id: str, incentive_id: str, idempotency_key: str, seen: sold_out.Look
    ) -> redemptions.Issued:
        """``redeem`` for a caller that has already looked at the store (``seen``, which
        does not refuse this citizen): the redemption lane."""
        loop = asyncio.get_running_loop()
        waiting = _Waiting(redemptions.Ask(user_id, idempotency_key), seen, loop.create_future())
        queue = self._queues.get(incentive_id)
        if queue is not None and len(queue) >= self._queue_max:
            raise ServiceUnavailable(
                "Too many redemptions are waiting in this worker; retry the same request.",
                retry_after=1,
            )
        if queue is None:
            queue = self._queues[incentive_id] = deque()
            unit = loop.create_task(self._drain(incentive_id, queue), name="redemption-group")
            self._units.add(unit)
            unit.add_done_callback(self._units.discard)
        queue.append(waiting)
        return await waiting.future

    async def _drain(self, incentive_id: str, queue: deque[_Waiting]) -> None:
        group: list[_Waiting] = []
        try:
            while queue:
                group = _take(queue, self._group_max)
                await settle(group, partial(self._unit, incentive_id), _unavailable, logger)
        except BaseException:  # cancelled (shutdown): nobody is left waiting
            for waiting in [*group, *queue]:
                answer(waiting.future, _unavailable())
            raise
        finally:
            if self._queues.get(incentive_id) is queue:
                del self._queues[incentive_id]

    async def _unit(self, incentive_id: str, group: Sequence[_Waiting]) -> list[redemptions.Answer]:
        # A marker written from this unit's reads carries the first request's look at the
        # store: a drop (units given back) after it makes the store refuse the marker.
        seen = group[0].seen
        if any(w.seen.generation is None for w in group):
            seen = sold_out.Look(False, None)

        async def run() -> list[redemptions.Answer]:
            async with session_scope(self._maker) as session:
                return await redemptions.issue(
                    session,
                    self._secret,
                    self._kv,
                    incentive_id,
                    [w.ask for w in group],
                    utcnow(),
                    seen=seen,
                )

        # A clash of two codes' hashes: run again, with new codes.
        return await once_more(run, logger, also=_code_clash)


def _code_clash(exc: BaseException) -> bool:
    return isinstance(exc, IntegrityError) and "code_hash" in str(exc.orig)
