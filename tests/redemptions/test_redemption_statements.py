"""Round trips of the redemption path, counted so that a new query on it fails a test.

A group of redemptions costs the statements of one. Replays and a sold-out incentive answer
from two reads, with no lock and no write.
"""

from __future__ import annotations

import asyncio

from tests.helpers import assert_problem, citizen
from tests.ledger.test_statement_counts import counting
from tests.redemptions.helpers import give_points, open_shop, publish, redeem, verify


def _show(statements: list[str]) -> str:
    return "\n".join(statements)


async def test_redeem_and_verify_cost_a_fixed_number_of_statements(app, client):
    shop = await open_shop(app, client)
    voucher = await publish(shop.staff, stock=2)
    alice, bob = await citizen(client), await citizen(client)
    for person in (alice, bob):
        await give_points(app, person.id, 600)
    # Warm caches and create the merchant's account outside the counts.
    warm = await redeem(bob, voucher["id"])
    assert warm.status_code == 201, warm.text
    assert (await verify(shop.staff, warm.json()["code"])).status_code == 200

    with counting(app) as seen:
        r = await redeem(alice, voucher["id"], key="k-1")
    assert r.status_code == 201, r.text
    # Read the incentive and the citizen's redemptions (no lock); lock the citizen; their
    # redemptions again under the lock; the incentive, locked; their lots; the holds (the
    # transaction, its entries, the lots drawn, the draws, the balances, the summary, the hold
    # row) and the codes; the stock, last. On PostgreSQL the writes but the stock's are one
    # statement.
    postgres = app.state.engine.dialect.name == "postgresql"
    one = 8 if postgres else 15
    assert len(seen.work) == one, _show(seen.work)
    assert seen.work[-1].startswith("UPDATE incentives SET stock"), _show(seen.work)
    assert seen.commits == 1

    with counting(app) as seen:
        again = await redeem(alice, voucher["id"], key="k-1")
    assert again.status_code == 200 and again.json() == r.json(), again.text
    assert len(seen.work) == 2, _show(seen.work)
    assert all(s.startswith("SELECT") for s in seen.work), _show(seen.work)

    with counting(app) as seen:
        gone = await redeem(bob, voucher["id"])
    assert_problem(gone, 409, "out_of_stock")
    # The reads that say "sold out", and the incentive's customers for the marker.
    assert len(seen.work) == 3, _show(seen.work)
    assert all(s.startswith("SELECT") for s in seen.work), _show(seen.work)

    carol = await citizen(client)
    with counting(app) as seen:
        refused = await redeem(carol, voucher["id"])
    assert_problem(refused, 409, "out_of_stock")
    assert seen.work == [] and seen.commits == 0, _show(seen.work)

    with counting(app) as seen:
        till = await verify(shop.staff, r.json()["code"])
    assert till.status_code == 200 and till.json()["status"] == "fulfilled", till.text
    # The merchant is active (the route's check); the code; the citizen's and the merchant's
    # accounts locked together; the code flipped; the hold flipped, its settlement (the
    # transaction, its entries, the balances, the summary) and its final transaction; on
    # PostgreSQL each posting's writes are one statement.
    assert len(seen.work) == (7 if postgres else 10), _show(seen.work)
    assert seen.commits == 1


async def test_redemptions_waiting_together_cost_the_statements_of_one(app, client):
    shop = await open_shop(app, client)
    voucher = await publish(shop.staff, stock=10)
    people = [await citizen(client) for _ in range(6)]
    for person in people:
        await give_points(app, person.id, 600)
    warm = await redeem(people[0], voucher["id"])
    assert warm.status_code == 201, warm.text
    postgres = app.state.engine.dialect.name == "postgresql"
    one = 8 if postgres else 15

    with counting(app) as seen:
        answers = await asyncio.gather(*(redeem(p, voucher["id"]) for p in people[1:]))
    assert [a.status_code for a in answers] == [201] * 5, [a.text for a in answers]
    # Five redemptions at once: the first starts a unit alone, the others wait and go in
    # the next one, whose statements are those of a single redemption.
    assert seen.commits < 5, _show(seen.work)
    assert len(seen.work) == seen.commits * one, _show(seen.work)
    assert len({a.json()["code"] for a in answers}) == 5
