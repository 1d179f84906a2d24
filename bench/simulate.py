"""How long a methodology simulation takes over many stored records.

``python -m bench.simulate --records 1000000`` creates a PostgreSQL database, seeds that many
credited ``walking`` records (one set-based INSERT, as ``make bench --seed-records`` does) and
times ``POST /v1/admin/methodologies/walking/simulate`` over all of them, through the API
in-process; ``--recompute`` then times a recompute audit (``POST /v1/admin/audits/recompute``)
over the same records, which re-runs each through its stored version by the same evaluation.
The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import secrets
import time
from datetime import UTC, datetime, timedelta

import httpx

import bench.client as bench
from app.config import Settings
from app.main import create_app
from app.migrate import upgrade


async def measure(database: str, records: int, recompute: bool = False) -> None:
    url = bench.pg_dsn(database).replace("postgresql://", "postgresql+asyncpg://")
    await asyncio.to_thread(upgrade, url)
    await bench.create_users(database, 20_000)
    admin = (await bench.create_users(database, 1, "admin"))[0]
    settings = Settings(database_url=url, jwt_secret=bench.SECRET, env="production")
    app = create_app(settings)
    async with app.router.lifespan_context(app):  # creates the version-1 parameters
        print(f"seeding {records:,} records …", flush=True)
        print(f"  seeded in {await bench.seed_records(database, records):.1f} s", flush=True)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            params = (await client.get("/v1/methodologies/walking")).json()["params"]
            body = {
                "params": {**params, "points_per_g": "2"},
                "from": (datetime.now(UTC) - timedelta(days=60)).isoformat(),
                "to": datetime.now(UTC).isoformat(),
            }
            headers = bench.bearer(settings, admin, "admin")
            for run in ("cold", "warm"):
                started = time.perf_counter()
                r = await client.post(
                    "/v1/admin/methodologies/walking/simulate",
                    json=body,
                    headers=headers,
                    timeout=3600,
                )
                took = time.perf_counter() - started
                r.raise_for_status()
                out = r.json()
                print(
                    f"{run}: {out['records']:,} records in {took:.1f} s "
                    f"({out['records'] / took:,.0f} records/s); points "
                    f"{out['current']['points']:,} now, {out['proposed']['points']:,} proposed",
                    flush=True,
                )
            if recompute:
                await _recompute(client, headers)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the process: {peak:.0f} MB")


async def _recompute(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    started = time.perf_counter()
    r = await client.post(
        "/v1/admin/audits/recompute", json={"methodology": "walking"}, headers=headers
    )
    r.raise_for_status()
    while True:
        await asyncio.sleep(0.5)
        out = (await client.get(f"/v1/admin/audits/{r.json()['id']}", headers=headers)).json()
        if out["status"] != "running":
            break
    took = time.perf_counter() - started
    print(
        f"recompute audit ({out['status']}): {out['checked']:,} records in {took:.1f} s "
        f"({out['checked'] / took:,.0f} records/s), {out['mismatch_count']:,} mismatches",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--recompute", action="store_true", help="also time a recompute audit")
    args = parser.parse_args()
    database = f"tanhui_sim_{secrets.token_hex(4)}"
    asyncio.run(bench.pg_exec(f'CREATE DATABASE "{database}"'))
    try:
        asyncio.run(measure(database, args.records, args.recompute))
    finally:
        asyncio.run(bench.pg_exec(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
