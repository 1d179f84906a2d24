"""The cost of sealing: what the posting path adds per credited record for tamper evidence,
timed in-process, beside the per-record cost of ingest measured by the same bench run.

Per credited record the posting path computes two SHA-256 hashes over canonical JSON: the
record decision's (``proofs.record_decision``) and the credit transaction's
(``proofs.transaction_hash``). ``measure`` times exactly those two calls over ``n`` records
shaped as ingest makes them (a metro ride: its inputs, region, source, version and parameter
hashes; a credit from issuance to the citizen's available account). ``share`` sets that time
beside the ingest figure as worker time per record: at peak every worker is busy, so one
record costs ``workers / rate`` seconds of a worker.

``python -m bench.hashing [-n N]`` prints the hashing time alone (no service needed).
"""

from __future__ import annotations

import argparse
import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from app.services.ledger import proofs
from app.services.ledger.accounts import available_account, platform_account


def _records(n: int) -> list[tuple[Any, dict[str, Any]]]:
    """(record, transaction fields) of ``n`` credited metro rides of distinct citizens."""
    now = datetime.now(UTC)
    out = []
    for i in range(n):
        user = str(uuid.uuid4())
        record = SimpleNamespace(
            id=str(uuid.uuid4()),
            user_id=user,
            client_event_id=f"bench-{i}-{secrets.token_hex(4)}",
            type="transit.metro",
            occurred_at=now - timedelta(minutes=10 * (i % 900)),
            data={"distance_km": 7.4 + (i % 50) / 10, "duration_min": 18 + i % 30},
            source="app",
            partner_id=None,
            region="CN-GD",
            version_id=str(uuid.uuid4()),
            params_hash=secrets.token_hex(32),
            reduction_g=600 + i % 900,
            points=60 + i % 90,
        )
        txn = {
            "id": str(uuid.uuid4()),
            "ref": f"record:{record.id}",
            "kind": "credit",
            "cause_type": "record",
            "cause_id": record.id,
            "user_id": user,
            "memo": None,
            "created_at": now,
            "entries": [
                (platform_account("issuance", user), -record.points, -1_000_000 - i),
                (available_account(user), record.points, record.points * (1 + i % 20)),
            ],
        }
        out.append((record, txn))
    return out


def measure(n: int = 20_000) -> dict[str, float]:
    """Microseconds of hashing per credited record (decision and transaction), best of 3."""
    work = _records(n)
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for record, txn in work:
            decision = proofs.decision_hash(proofs.record_decision(record))
            proofs.transaction_hash(decision_hash=decision, **txn)
        best = min(best, time.perf_counter() - t0)
    return {"records": n, "us_per_record": round(best / n * 1e6, 2)}


def share(hashing: dict[str, float], rate: float, workers: int) -> dict[str, float] | None:
    """Hashing beside an ingest figure (records/s over ``workers`` busy workers)."""
    if rate <= 0:
        return None
    ingest_us = workers / rate * 1e6
    return {
        "ingest_us_per_record": round(ingest_us, 1),
        "hash_us_per_record": hashing["us_per_record"],
        "percent": round(100 * hashing["us_per_record"] / ingest_us, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.hashing", description=__doc__)
    parser.add_argument("-n", type=int, default=20_000, help="records to hash")
    args = parser.parse_args()
    m = measure(args.n)
    print(f"hashing: {m['us_per_record']} µs per credited record ({m['records']} records)")


if __name__ == "__main__":
    main()
