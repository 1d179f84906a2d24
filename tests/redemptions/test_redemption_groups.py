"""Redemptions decided in groups: each request its own answer, whatever befalls its group."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import func, select

from app.db import session_scope, utcnow
from app.models import Redemption
from app.services.rewards import redemption_groups, redemptions
from tests.helpers import assert_problem, citizen
from tests.redemptions.helpers import (
    balance,
    customers,
    give_points,
    incentive_row,
    ledger_is_clean,
    open_shop,
    publish,
    redeem,
)


async def _stored(app, incentive_id: str) -> int:
    async with session_scope(app.state.sessionmaker) as s:
        query = select(func.count()).where(Redemption.incentive_id == incentive_id)
        return int(await s.scalar(query) or 0)


async def test_a_group_that_loses_the_database_answers_503_to_each_and_stores_nothing(
    app, client, monkeypatch
):
    shop, voucher, people = await customers(app, client, [600] * 3, stock=5)
    units: list[int] = []
    real = redemptions.issue

    async def lost(session, secret, kv, incentive_id, asks, now, **kw):
        units.append(len(asks))
        await real(session, secret, kv, incentive_id, asks, now, **kw)  # written, then lost
        raise ConnectionResetError("connection reset by peer")

    monkeypatch.setattr(redemptions, "issue", lost)
    keys = [str(uuid.uuid4()) for _ in people]
    answers = await asyncio.gather(
        *(redeem(p, voucher["id"], key=k) for p, k in zip(people, keys, strict=True))
    )
    for r in answers:
        assert_problem(r, 503, "unavailable")
        assert r.headers["retry-after"] == "1"
    assert sum(units) == 2 * len(people)  # each group ran twice before giving up
    assert await _stored(app, voucher["id"]) == 0
    assert [(await balance(p))["held"] for p in people] == [0, 0, 0]

    monkeypatch.setattr(redemptions, "issue", real)
    retried = await asyncio.gather(
        *(redeem(p, voucher["id"], key=k) for p, k in zip(people, keys, strict=True))
    )
    assert [r.status_code for r in retried] == [201] * 3, [r.text for r in retried]
    row = await incentive_row(app, voucher["id"])
    assert (row.stock, row.issued) == (2, 3)
    await ledger_is_clean(shop.admin)


async def test_a_redemption_that_breaks_its_group_fails_alone(app, client, monkeypatch):
    shop, voucher, people = await customers(app, client, [600] * 4, stock=5)
    broken = people[2].id
    real = redemptions.issue
    sizes: list[int] = []

    async def breaks(session, secret, kv, incentive_id, asks, now, **kw):
        sizes.append(len(asks))
        if any(ask.user_id == broken for ask in asks):
            raise RuntimeError("a bug in one redemption")
        return await real(session, secret, kv, incentive_id, asks, now, **kw)

    monkeypatch.setattr(redemptions, "issue", breaks)
    groups = app.state.redemption_groups
    outcomes = await asyncio.gather(
        *(groups.redeem(p.id, voucher["id"], str(uuid.uuid4())) for p in people),
        return_exceptions=True,
    )
    by_person = dict(zip([p.id for p in people], outcomes, strict=True))
    assert isinstance(by_person[broken], RuntimeError)
    for person in people:
        if person.id != broken:
            assert by_person[person.id].created, by_person[person.id]
    assert max(sizes) > 1  # they were grouped, then decided alone
    assert await _stored(app, voucher["id"]) == 3
    await ledger_is_clean(shop.admin)


async def test_one_citizen_is_decided_once_per_group_and_sees_their_earlier_answer(app, client):
    shop = await open_shop(app, client)
    voucher = await publish(shop.staff, stock=10, per_user_limit=2)
    alice = await citizen(client)
    await give_points(app, alice.id, 5000)
    groups = app.state.redemption_groups
    key = str(uuid.uuid4())
    outcomes = await asyncio.gather(
        *(groups.redeem(alice.id, voucher["id"], k) for k in [key, key, "b", "c", "d"]),
        return_exceptions=True,
    )
    same, others = outcomes[:2], outcomes[2:]
    assert sorted(o.created for o in same) == [False, True]  # a replay, whichever came first
    assert same[0].redemption.id == same[1].redemption.id
    assert sum(1 for o in others if not isinstance(o, Exception) and o.created) == 1
    refused = [o for o in others if isinstance(o, Exception)]
    assert [type(o).__name__ for o in refused] == ["LimitReached", "LimitReached"]
    assert (await balance(alice))["held"] == 2 * voucher["points_cost"]
    await ledger_is_clean(shop.admin)


@pytest.mark.parametrize("settings_overrides", [{"redemption_group_max": 2}])
async def test_a_group_holds_at_most_the_configured_number_of_citizens(app, client, monkeypatch):
    shop, voucher, people = await customers(app, client, [600] * 5, stock=10)
    sizes: list[int] = []
    real = redemptions.issue

    async def counted(session, secret, kv, incentive_id, asks, *args, **kwargs):
        sizes.append(len(asks))
        return await real(session, secret, kv, incentive_id, asks, *args, **kwargs)

    monkeypatch.setattr(redemptions, "issue", counted)
    groups = app.state.redemption_groups
    issued = await asyncio.gather(*(groups.redeem(p.id, voucher["id"], "k") for p in people))
    assert all(i.created for i in issued)
    assert sum(sizes) == 5 and max(sizes) == 2, sizes
    await ledger_is_clean(shop.admin)


async def test_units_go_to_the_first_who_can_pay_in_arrival_order(app, client):
    # The second cannot pay.
    shop, voucher, people = await customers(app, client, [600, 100, 600, 600, 600, 600], stock=3)
    asks = [redemptions.Ask(p.id, str(uuid.uuid4())) for p in people]
    async with session_scope(app.state.sessionmaker) as s:
        answers = await redemptions.issue(
            s, app.state.settings.jwt_key, app.state.kv, voucher["id"], asks, utcnow()
        )
    kinds = [type(a).__name__ for a in answers]
    assert kinds == ["Issued", "InsufficientPoints", "Issued", "Issued", "OutOfStock", "OutOfStock"]
    assert [a.redemption.user_id for a in answers if isinstance(a, redemptions.Issued)] == [
        people[0].id,
        people[2].id,
        people[3].id,
    ]
    row = await incentive_row(app, voucher["id"])
    assert (row.stock, row.issued) == (0, 3)
    await ledger_is_clean(shop.admin)


def test_a_group_takes_each_citizen_once_and_keeps_the_others_places():
    def waiting(user: str) -> redemption_groups._Waiting:
        ask = redemptions.Ask(user, str(uuid.uuid4()))
        return redemption_groups._Waiting(ask, None, None)  # type: ignore[arg-type]

    queue = redemption_groups.deque(waiting(u) for u in ["a", "b", "a", "c", "a", "d"])
    group = redemption_groups._take(queue, limit=3)
    assert [w.ask.user_id for w in group] == ["a", "b", "c"]
    assert [w.ask.user_id for w in queue] == ["a", "a", "d"]


@pytest.mark.parametrize("settings_overrides", [{"redemption_group_queue": 2}])
async def test_a_full_queue_answers_503_at_once_and_the_waiting_are_decided(
    app, client, monkeypatch
):
    shop, voucher, people = await customers(app, client, [600] * 4, stock=10)
    started, release = asyncio.Event(), asyncio.Event()
    real = redemptions.issue

    async def held(*args, **kwargs):
        started.set()
        await release.wait()
        return await real(*args, **kwargs)

    monkeypatch.setattr(redemptions, "issue", held)
    groups = app.state.redemption_groups
    first = asyncio.create_task(groups.redeem(people[0].id, voucher["id"], "k0"))
    await asyncio.wait_for(started.wait(), 5)  # the first is in its unit; two more queue
    waiting = [
        asyncio.create_task(groups.redeem(p.id, voucher["id"], f"k{n}"))
        for n, p in enumerate(people[1:3], start=1)
    ]
    await asyncio.sleep(0.05)
    full = await asyncio.wait_for(redeem(people[3], voucher["id"]), 5)
    assert_problem(full, 503, "unavailable")
    assert full.headers["retry-after"] == "1"
    release.set()
    decided = await asyncio.wait_for(asyncio.gather(first, *waiting), 10)
    assert all(d.created for d in decided)
    assert await _stored(app, voucher["id"]) == 3
    await ledger_is_clean(shop.admin)
