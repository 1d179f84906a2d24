"""Per-incentive gates: arrival order, a width, and one slot per request however often asked."""

from __future__ import annotations

import asyncio

from app.services.rewards.gates import Gates


async def test_a_request_holds_a_gate_once_and_others_wait_their_turn():
    gates = Gates(width=1)
    order: list[str] = []

    async def request(name: str) -> None:
        # The lane holds the gate, then the service asks for it again in the same request.
        async with gates.hold("incentive"), gates.hold("incentive"):
            order.append(name)
            await asyncio.sleep(0.01)

    await asyncio.wait_for(asyncio.gather(request("first"), request("second")), timeout=5)
    assert order == ["first", "second"]
    assert gates._gates == {}  # a gate lives only while requests use it


async def test_another_requests_hold_is_not_this_ones():
    gates = Gates(width=1)
    inside = asyncio.Event()
    release = asyncio.Event()

    async def holder() -> None:
        async with gates.hold("incentive"):
            inside.set()
            await release.wait()

    task = asyncio.create_task(holder())
    await inside.wait()
    waiter = asyncio.create_task(gates.hold("incentive").__aenter__())
    await asyncio.sleep(0.05)
    assert not waiter.done()  # the width holds across requests
    release.set()
    await asyncio.wait_for(waiter, timeout=5)
    await task
