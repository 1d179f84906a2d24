"""``make bench``: throughput and latency of Tanhui on PostgreSQL + Redis, next to pgbench.

In one run: pgbench tpcb-like TPS (a scratch database of its own, 16 clients); then
``tanhui serve --workers N`` on a fresh database and Redis prefix, citizens and tokens made
through the CLI and the public API, and wrk (bench/lua/) driving, each at its peak:
``GET /healthz`` (the framework's ceiling), ``GET /v1/account``, single-record ingest, batch
ingest (100 records per request), and one hot incentive (stock 100) raced by 1 000 redeemers,
each with its own token and Idempotency-Key; p50/p99 latency and the ratio to pgbench of each;
the latencies again at half of each one's peak rate; RSS per worker; the ledger check; the
cost of sealing (hashing a record's decision and its credit, timed in-process) as a share of
the per-record worker time of each ingest figure (bench/hashing.py).

``--seed-records N`` then stops the service, seeds N credited records with their ledger over
at least 100 000 citizens (bench/seed.py), starts it again and measures the same figures with
citizens that have that history, each as a ratio to the empty database.

Everything it creates is removed at the end; results also go to bench/results/*.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import fixtures, hashing, seed
from bench.service import Service, pg_dsn, pgbench_tps
from bench.wrk import WrkResult, ensure_wrk, run_wrk

RESULTS = Path(__file__).resolve().parent / "results"

# Per citizen, 10-minute slots back from now (936 fit in the 7-day late window): each ingest
# phase has its own range, so no record of the run overlaps another one.
SLOTS = {
    "single": (0, 150),
    "single-half": (150, 100),
    "batch": (250, 400),
    "batch-half": (650, 250),
    # --warmup before the half-of-peak single records (a batch takes 100 slots at once: its
    # phase has no warm-up)
    "single-warm": (900, 30),
    # before GET /v1/account: five records per citizen, one lot each (fixtures.history)
    "history": (940, 5),
}


@dataclass
class Figure:
    name: str
    unit: str
    rate: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int
    seconds: float
    extra: dict[str, Any]


def figure(name: str, unit: str, r: WrkResult, per_request: int = 1) -> Figure:
    return Figure(
        name=name,
        unit=unit,
        rate=r.ok * per_request / r.seconds if r.seconds else 0.0,
        p50_ms=r.ms("p50_us"),
        p99_ms=r.ms("p99_us"),
        errors=r.errors,
        requests=r.requests,
        seconds=round(r.seconds, 2),
        extra={"wrk": r.raw, "connections": r.connections, "target_rate": r.target_rate},
    )


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def measure(
    args: argparse.Namespace, svc: Service, tokens: list[str], admin: str, label: str
) -> dict[str, Any]:
    """Every figure once at its peak, the hot incentive, then again at half of each peak."""
    tag = f"{label}{secrets.token_hex(3)}"
    base = int(time.time()) - 1800
    figures: dict[str, Figure] = {}
    half: dict[str, Figure] = {}
    with tempfile.TemporaryDirectory(prefix="tanhui-bench-") as tmp:
        token_file = fixtures.write_tokens(Path(tmp) / "tokens", tokens)
        common = {"duration": args.duration, "threads": args.wrk_threads, "tokens": token_file}

        def ingest_args(phase: str) -> dict[str, str]:
            start, budget = SLOTS[phase]
            return {
                "tag": f"{tag}-{phase}",
                "base": str(base),
                "slot": str(start),
                "budget": str(budget),
            }

        plan = [
            # key, script, unit, records per request, connections, extra Lua arguments
            ("healthz", "healthz", "requests/s", 1, args.connections, {}),
            ("account", "account", "requests/s", 1, args.connections, {}),
            ("single", "single", "records/s", 1, args.connections, ingest_args("single")),
            ("batch", "batch", "records/s", 100, args.batch_connections, ingest_args("batch")),
        ]
        plan = [step for step in plan if args.only in (None, step[0])]
        if any(step[0] == "account" for step in plan):
            start, count = SLOTS["history"]
            ends = [datetime.fromtimestamp(base - (start + k) * 600, UTC) for k in range(count)]
            made = asyncio.run(fixtures.history(svc.url, tokens, tag, ends))
            print(f"  a history of {count} records per citizen: {made}", flush=True)
        names = {
            "healthz": "GET /healthz (ceiling)",
            "account": "GET /v1/account",
            "single": "single-record ingest",
            "batch": "batch ingest (100/request)",
        }
        for key, script, unit, per, conns, extra in plan:
            print(f"  {names[key]} at peak, {conns} connections …", flush=True)
            cpu = svc.worker_cpu_seconds()
            r = run_wrk(script, svc.url, connections=conns, extra=extra, **common)  # type: ignore[arg-type]
            figures[key] = figure(names[key], unit, r, per)
            cpu = svc.worker_cpu_seconds() - cpu
            done = r.requests * per
            figures[key].extra["worker_cpu_us"] = round(cpu * 1e6 / done, 1) if done else None

        if args.only in (None, "hot"):
            redeemers = tokens[: args.redeemers]
            if args.warmup > 0:
                # The first burst of a service pays for its start: the store's pool grows to
                # its size (a connection per admission in flight), new pooled database
                # connections prepare the redemption's statements. One round before the
                # measured ones, printed (and checked) as such.
                print("  hot incentive: a round to warm up, on open connections …", flush=True)
                first = hot_incentive(args, svc, redeemers, admin, f"{tag}hot-warm", tmp, True)
                first.name = "hot incentive, warm-up round"
                figures["hot-warm-up"] = first
            for opened, suffix, how in ((True, "", "open"), (False, "-new", "new")):
                print(f"  burst ceiling: {len(redeemers)} {how} connections …", flush=True)
                figures["burst" + suffix] = burst(args, svc, redeemers, tmp, opened)
                for n in range(args.hot_rounds):
                    key = ("hot" if n == 0 else f"hot-{n + 1}") + suffix
                    print(
                        f"  hot incentive: stock {args.stock}, {len(redeemers)} redeemers on "
                        f"{how} connections …",
                        flush=True,
                    )
                    figures[key] = hot_incentive(
                        args, svc, redeemers, admin, f"{tag}{key}", tmp, opened
                    )

        for key, script, unit, per, conns, extra in plan:
            target = figures[key].rate / per / 2
            if target <= 0:
                print(f"  {names[key]}: no answer at peak, no half-peak run", flush=True)
                continue
            if args.warmup > 0 and key != "batch":
                # The same load, unmeasured: new connections, the pool's growth and the
                # caches of a phase's start are then behind it.
                warm = ingest_args("single-warm") if key == "single" else extra
                run_wrk(
                    script,
                    svc.url,
                    duration=args.warmup,
                    connections=conns,
                    threads=args.wrk_threads,
                    tokens=token_file,
                    rate=target,
                    extra=warm,
                )
            if key in ("single", "batch"):
                extra = ingest_args(f"{key}-half")
            print(f"  {names[key]} at half of peak ({target:.1f} requests/s) …", flush=True)
            cpu = svc.worker_cpu_seconds()
            r = run_wrk(script, svc.url, connections=conns, rate=target, extra=extra, **common)  # type: ignore[arg-type]
            half[key] = figure(names[key], unit, r, per)
            cpu = svc.worker_cpu_seconds() - cpu
            done = r.requests * per
            half[key].extra["worker_cpu_us"] = round(cpu * 1e6 / done, 1) if done else None

    memory = svc.worker_memory_mb()
    dsn = pg_dsn(svc.database)
    records = asyncio.run(fixtures.record_counts(dsn, tag))
    print("  ledger check …", flush=True)
    t0 = time.perf_counter()
    check = asyncio.run(fixtures.ledger_check(svc.url, admin))
    return {
        "figures": {k: asdict(v) for k, v in figures.items()},
        "half_peak": {k: asdict(v) for k, v in half.items()},
        "worker_memory_mb": memory,
        "records_of_the_run": records,
        "ledger_check": {
            "ok": check.get("ok"),
            "mismatch_count": check.get("mismatch_count"),
            "mismatches": (check.get("mismatches") or [])[:5],
            "accounts_checked": check.get("accounts_checked"),
            "transactions_checked": check.get("transactions_checked"),
            "seconds": round(time.perf_counter() - t0, 1),
        },
    }


# Limit mode with connections opened first: every request waits this long after wrk starts.
OPEN_FIRST_MS = 2500


def one_each(
    args: argparse.Namespace,
    svc: Service,
    script: str,
    tokens: list[str],
    tmp: str,
    extra: dict[str, str],
    opened: bool,
) -> tuple[WrkResult, float]:
    """One connection per token, one request each (wrk's limit mode), opened first or not;
    the result and the workers' CPU seconds."""
    token_file = fixtures.write_tokens(Path(tmp) / script, tokens)
    if opened:
        extra = {**extra, "start_after_ms": str(OPEN_FIRST_MS)}
    cpu = svc.worker_cpu_seconds()
    r = run_wrk(
        script,
        svc.url,
        duration=args.hot_timeout,
        connections=len(tokens),
        threads=args.wrk_threads,
        timeout_s=args.hot_timeout,
        tokens=token_file,
        extra=extra,
        until_done=len(tokens),
    )
    return r, svc.worker_cpu_seconds() - cpu


def burst(
    args: argparse.Namespace, svc: Service, tokens: list[str], tmp: str, opened: bool
) -> Figure:
    """The hot incentive's ceiling: as many connections as redeemers, one ``GET /healthz``
    each; the time from the first request to the last answer bounds any burst's."""
    r, cpu = one_each(args, svc, "burst", tokens, tmp, {}, opened)
    how = "open" if opened else "new"
    f = figure(f"burst ceiling, {how} conns", "answers/s", r)
    f.rate = r.requests / r.burst_seconds if r.burst_seconds else 0.0
    f.seconds = round(r.burst_seconds, 3)
    f.extra["worker_cpu_us"] = round(cpu * 1e6 / r.requests, 1) if r.requests else None
    return f


def hot_incentive(
    args: argparse.Namespace,
    svc: Service,
    tokens: list[str],
    admin: str,
    tag: str,
    tmp: str,
    opened: bool = True,
) -> Figure:
    """1 000 concurrent redeemers of one incentive: exactly ``stock`` of them must win.
    ``opened``: the connections are all open before the first request."""
    incentive = asyncio.run(fixtures.hot_incentive(svc.url, admin, args.stock, cost=10))
    earned = asyncio.run(fixtures.earn(svc.url, tokens, tag))
    extra = {"tag": tag, "incentive": incentive}
    r, cpu = one_each(args, svc, "redeem", tokens, tmp, extra, opened)
    stored = asyncio.run(fixtures.redemption_counts(pg_dsn(svc.database), incentive))
    successes = int(r.raw.get("ok", 0))
    how = "open" if opened else "new"
    f = figure(f"hot incentive, {how} conns", "redemptions/s", r)
    span = r.burst_seconds
    f.rate = successes / span if span else 0.0
    # Idle connections closed by the server's keep-alive timeout count as wrk read errors;
    # what matters is that every redeemer got an answer.
    f.errors = len(tokens) - successes - int(r.raw.get("s409", 0))
    f.seconds = round(span, 2)
    last_ok = r.raw.get("last_ok_ms", 0)
    sold_out = max(0.0, (last_ok - r.raw.get("first_ms", 0)) / 1000) if last_ok else 0.0
    f.extra.update(
        {
            "stock": args.stock,
            "redeemers": len(tokens),
            "redeemers_with_points": earned,
            "successes": successes,
            "refused_409": int(r.raw.get("s409", 0)),
            "answered_per_s": round(r.requests / span, 1) if span else 0.0,
            # The stock's own pace: the successes over the time to the last of them.
            "sold_out_s": round(sold_out, 3),
            "successes_per_s_to_sold_out": round(successes / sold_out, 1) if sold_out else 0.0,
            "worker_cpu_us": round(cpu * 1e6 / r.requests, 1) if r.requests else None,
            **stored,
            "exactly_stock": successes == args.stock
            and stored["redemptions_stored"] == args.stock
            and stored["stock_left"] == 0,
        }
    )
    return f


def prepare_tokens(svc: Service, emails: list[str]) -> list[str]:
    t0 = time.perf_counter()
    tokens = asyncio.run(fixtures.login(svc.url, emails))
    print(
        f"  {len(tokens)} tokens through POST /v1/auth/token in {time.perf_counter() - t0:.0f} s",
        flush=True,
    )
    return tokens


def print_report(result: dict[str, Any]) -> None:
    tps = result["pgbench_tps"]
    runs = result["runs"]
    empty = runs["empty"]
    seeded = runs.get("seeded")
    print()
    print(
        f"Tanhui bench — {result['workers']} workers, {result['duration_s']:.0f} s per phase, "
        f"load average before {result['load_before']}, after {result['load_after']}"
    )
    head = (
        f"{'figure':<30}{'rate':>10} {'unit':<14}{'p50 ms':>8}{'p99 ms':>9}{'err':>6}"
        f"{'/pgbench':>9} │{'half: rate':>11}{'p50':>7}{'p99':>8}"
    )
    if seeded:
        head += f" │{'seeded rate':>12}{'/empty':>7}{'p99':>8}"
    print(head)
    print(f"{'pgbench tpcb-like, 16 clients':<30}{tps:>10.1f} {'TPS':<14}")
    for key, f in empty["figures"].items():
        line = (
            f"{f['name']:<30}{f['rate']:>10.1f} {f['unit']:<14}{f['p50_ms']:>8.1f}"
            f"{f['p99_ms']:>9.1f}{f['errors']:>6}{f['rate'] / tps if tps else 0:>9.3f} │"
        )
        h = empty["half_peak"].get(key)
        line += f"{h['rate']:>11.1f}{h['p50_ms']:>7.1f}{h['p99_ms']:>8.1f}" if h else f"{'—':>26}"
        if seeded:
            s = seeded["figures"][key]
            ratio = s["rate"] / f["rate"] if f["rate"] else 0
            line += f" │{s['rate']:>12.1f}{ratio:>7.2f}{s['p99_ms']:>8.1f}"
        print(line)
    for label, run in runs.items():
        for key, figure_ in run["figures"].items():
            if key.startswith("burst"):
                print(
                    f"[{label}] {key}: {figure_['requests']} answers in {figure_['seconds']} s; "
                    f"worker CPU {figure_['extra']['worker_cpu_us']} µs per answer"
                )
            if not key.startswith("hot"):
                continue
            hot = figure_["extra"]
            verdict = "OK" if hot["exactly_stock"] else "WRONG"
            print(
                f"[{label}] {key}: {hot['successes']} successes for stock {hot['stock']} "
                f"({hot['refused_409']} refused with 409; {hot['redemptions_stored']} stored, "
                f"stock left {hot['stock_left']}) — {verdict}; "
                f"{hot['answered_per_s']} answers/s; sold out in {hot['sold_out_s']} s "
                f"({hot['successes_per_s_to_sold_out']} successes/s until then); worker CPU "
                f"{hot['worker_cpu_us']} µs per answer"
            )
        check = run["ledger_check"]
        print(
            f"[{label}] ledger check: ok={check['ok']} mismatches={check['mismatch_count']} "
            f"({check['transactions_checked']} transactions, {check['seconds']} s)"
        )
        print(
            f"[{label}] workers' memory (MB): "
            + ", ".join(f"rss {m['rss_mb']} peak {m['peak_mb']}" for m in run["worker_memory_mb"])
        )
        print(f"[{label}] records of the run: {run['records_of_the_run']}")
        print(
            f"[{label}] worker CPU per unit at peak (µs): "
            + ", ".join(
                f"{key} {f['extra'].get('worker_cpu_us')}"
                for key, f in run["figures"].items()
                if not key.startswith(("hot", "burst"))
            )
        )
        print(
            f"[{label}] worker CPU per unit at half of peak (µs): "
            + ", ".join(
                f"{key} {f['extra'].get('worker_cpu_us')}" for key, f in run["half_peak"].items()
            )
        )
        for key in ("single", "batch"):
            f = run["figures"].get(key)
            cost = hashing.share(result["hashing"], f["rate"], result["workers"]) if f else None
            if cost:
                print(
                    f"[{label}] sealing cost, {f['name']}: {cost['hash_us_per_record']} µs of "
                    f"hashing per record, {cost['ingest_us_per_record']} µs of worker time per "
                    f"record ingested: {cost['percent']} %"
                )
        if label == "seeded" and seeded:
            s = result["seed"]
            print(
                f"[seeded] {s['records']:,} records over {s['citizens']:,} citizens seeded in "
                f"{s['seconds']['total']:.0f} s; database {s['database_bytes'] / 1e9:.1f} GB"
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per phase")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--batch-connections", type=int, default=8)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--tokens", type=int, default=1000, help="citizens with a token")
    parser.add_argument("--redeemers", type=int, default=1000)
    parser.add_argument("--stock", type=int, default=100)
    parser.add_argument("--hot-timeout", type=int, default=120, help="bound of the hot phase, s")
    parser.add_argument("--pgbench-seconds", type=int, default=10)
    parser.add_argument(
        "--warmup",
        type=float,
        default=0,
        help="seconds of the same load, unmeasured, before each half-of-peak phase; with it, "
        "one hot-incentive round before the measured ones",
    )
    parser.add_argument(
        "--seed-records",
        type=int,
        default=0,
        help="also measure on a database seeded with this many credited records",
    )
    parser.add_argument("--seed-citizens", type=int, default=100_000)
    parser.add_argument(
        "--service-env",
        action="append",
        default=[],
        metavar="TANHUI_NAME=value",
        help="a setting of the service under test (repeatable), e.g. to compare tunings",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--only",
        choices=["healthz", "account", "single", "batch", "hot"],
        help="measure this figure alone (and its half-peak run); pgbench still runs",
    )
    parser.add_argument(
        "--hot-rounds", type=int, default=1, help="hot incentive runs, each a new incentive"
    )
    args = parser.parse_args()
    args.redeemers = min(args.redeemers, args.tokens)

    ensure_wrk()
    started = datetime.now(UTC)
    result: dict[str, Any] = {
        "when": started.isoformat(),
        "workers": args.workers,
        "duration_s": args.duration,
        "args": vars(args),
        "cpus": os.cpu_count(),
        "load_before": load(),
        "runs": {},
    }
    print(
        f"load average: {result['load_before']}; pgbench tpcb-like, 16 clients, "
        f"{args.pgbench_seconds} s …",
        flush=True,
    )
    result["pgbench_tps"] = pgbench_tps(args.pgbench_seconds, 16)
    result["hashing"] = hashing.measure()

    svc = Service(args.workers, "bench-" + secrets.token_hex(24))
    for setting in args.service_env:
        name, _, value = setting.partition("=")
        if not name.startswith("TANHUI_") or not _:
            parser.error(f"--service-env takes TANHUI_NAME=value, not {setting!r}")
        svc.env[name] = value
    try:
        print(f"database {svc.database}, Redis prefix {svc.prefix}", flush=True)
        svc.create_database()
        admin_email = f"admin-{secrets.token_hex(4)}@bench.example.cn"
        svc.cli(
            "create-user",
            "--email",
            admin_email,
            "--password",
            fixtures.PASSWORD,
            "--role",
            "admin",
        )
        svc.start()
        asyncio.run(fixtures.register_template(svc.url))
        dsn = pg_dsn(svc.database)
        emails = asyncio.run(fixtures.create_citizens(dsn, args.tokens))
        [admin] = asyncio.run(fixtures.login(svc.url, [admin_email]))
        tokens = prepare_tokens(svc, emails)
        print("empty database:", flush=True)
        result["runs"]["empty"] = measure(args, svc, tokens, admin, "e")

        if args.seed_records:
            svc.stop()
            citizens = max(args.seed_citizens, args.tokens)
            print(
                f"seeding {args.seed_records:,} credited records over {citizens:,} citizens …",
                flush=True,
            )
            seeded = asyncio.run(
                seed.seed(
                    dsn,
                    records=args.seed_records,
                    citizens=citizens,
                    password_hash=fixtures.bulk_password_hash(),
                )
            )
            ids = seeded.pop("citizen_ids")
            result["seed"] = {"records": args.seed_records, "citizens": citizens, **seeded}
            print(f"  seeded in {seeded['seconds']['total']:.0f} s", flush=True)
            svc.start()
            [admin] = asyncio.run(fixtures.login(svc.url, [admin_email]))
            tokens = prepare_tokens(svc, asyncio.run(fixtures.emails_of(dsn, ids[: args.tokens])))
            print("seeded database:", flush=True)
            result["runs"]["seeded"] = measure(args, svc, tokens, admin, "s")
    finally:
        svc.stop()
        if not args.keep:
            svc.drop()
    result["load_after"] = load()
    result["seconds"] = round((datetime.now(UTC) - started).total_seconds())
    print_report(result)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"bench-{started:%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps(result, indent=2))
    print(f"written to {out.relative_to(RESULTS.parent.parent)} ({result['seconds']} s in all)")


if __name__ == "__main__":
    main()
