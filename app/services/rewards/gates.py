"""Per-incentive gates: how many requests of one worker work on one incentive at once.

A burst of a thousand redeemers of one incentive waits here, in arrival order, before
routing (``app.routers.rewards.lane``): as many as a gate lets through go on to the route and
are decided together (``app.services.rewards.redemption_groups``); the others wait without
costing the route's work, a pooled connection or a database read, and whoever passes a gate
after the stock is gone is refused from the sold-out marker. A gate exists only while
requests use it. A request holds a gate once: asking again for the same incentive within
that request goes straight through.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar

# Up to this many of a worker's requests for one incentive are decided in one group.
GATE_WIDTH = 64

# The (gates, key) pairs the current request (its task) holds.
_held: ContextVar[frozenset[tuple[int, str]]] = ContextVar("gates_held", default=frozenset())


class Gates:
    def __init__(self, width: int = GATE_WIDTH) -> None:
        self.width = width
        self._gates: dict[str, tuple[asyncio.Semaphore, list[int]]] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        mark = (id(self), key)
        held = _held.get()
        if mark in held:
            yield
            return
        gate, users = self._gates.setdefault(key, (asyncio.Semaphore(self.width), [0]))
        users[0] += 1
        token = _held.set(held | {mark})
        try:
            async with gate:
                yield
        finally:
            _held.reset(token)
            users[0] -= 1
            if users[0] == 0 and self._gates.get(key, (None,))[0] is gate:
                del self._gates[key]


# One worker's gates for redemptions, held by the redemption lane.
REDEMPTIONS = Gates()
