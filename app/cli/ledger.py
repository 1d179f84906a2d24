"""The ledger's trust commands: ``checkpoint``, ``seal-ledger``, ``audit`` (and ``audit
recompute``) and ``verify-export``, which reads only files."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from app.cli.common import run_db, settings_or_exit
from app.config import Settings


def checkpoint(max_rows: int | None, timeout: float | None, show: bool = True) -> list[Any]:
    from app.services.ledger import checkpoints

    async def go(session: Any, settings: Settings) -> list[Any]:
        kw: dict[str, Any] = {}
        if max_rows is not None:
            kw["max_rows"] = max_rows
        if timeout is not None:
            kw["timeout_s"] = timeout
        return await checkpoints.cut(session, **kw)

    made = run_db(go)
    if not show:
        return made
    for cp in made:
        print(f"checkpoint seq {cp.seq_from}..{cp.seq_to}: {cp.count} transactions, root {cp.root}")
    if not made:
        print("no new transactions to checkpoint")
    return made


def cmd_checkpoint(args: argparse.Namespace) -> None:
    try:
        checkpoint(args.max_rows, args.timeout)
    except TimeoutError as exc:
        sys.exit(f"error: {exc}")


def cmd_seal_ledger(args: argparse.Namespace) -> None:
    import json

    from tqdm import tqdm

    from app.db import make_engine, make_sessionmaker, session_scope
    from app.services.ledger import sealing

    settings = settings_or_exit()

    async def main() -> dict[str, int]:
        engine = make_engine(settings.database_url, pool_size=2)
        try:
            maker = make_sessionmaker(engine)
            async with session_scope(maker) as session:
                total = await sealing.unsealed(session)
            quiet = args.quiet or args.json
            with tqdm(total=total, unit="transaction", desc="sealing", disable=quiet) as bar:
                sealed = await sealing.seal(maker, on_progress=bar.update)
            async with session_scope(maker) as session:
                return {"sealed": sealed, "unsealed": await sealing.unsealed(session)}
        finally:
            await engine.dispose()

    report = asyncio.run(main())
    if args.json:
        print(json.dumps(report, sort_keys=True))
    elif not args.quiet:
        print(f"sealed {report['sealed']} transactions; {report['unsealed']} left without a hash")


def cmd_audit(args: argparse.Namespace) -> None:
    if args.what == "recompute":
        cmd_recompute(args)
        return
    import json

    from app.services.ledger.verification import audit

    async def go(session: Any, settings: Settings) -> dict[str, Any]:
        return await audit(session)

    report = run_db(go)
    print(json.dumps(report, indent=2, sort_keys=True))
    if not report["ok"]:
        sys.exit(f"ledger audit failed: {report['problem']}")


def cmd_recompute(args: argparse.Namespace) -> None:
    import json

    from app.services.trust.recompute import run_from_cli

    settings = settings_or_exit()
    try:
        report = asyncio.run(
            run_from_cli(
                settings,
                start=args.start,
                end=args.end,
                methodology=args.methodology,
                progress=not args.quiet,
            )
        )
    except ValueError as exc:
        sys.exit(f"error: {exc}")
    print(json.dumps(report, indent=2, sort_keys=True, default=str))
    if report["status"] != "done" or report["mismatch_count"]:
        sys.exit(f"recompute audit: {report['mismatch_count']} records differ")


def cmd_verify_export(args: argparse.Namespace) -> None:
    """Offline: reads only the files, needs no settings and no database."""
    from app.services.ledger.verification import Bad, trusted_checkpoints, verify

    try:
        trusted = None
        if args.trusted:
            with open(args.trusted, encoding="utf-8") as f:
                trusted = trusted_checkpoints(f.readlines())
        with open(args.file, encoding="utf-8") as f:
            report = verify(f, trusted)
    except Bad as exc:
        sys.exit(f"{args.file}: {exc}")
    except OSError as exc:
        sys.exit(f"error: {exc}")
    print(
        f"{args.file}: OK, {report['transactions']} transactions, "
        f"{report['checkpoints']} checkpoints (last root {report['last_root']}), "
        f"{report['not_yet_checkpointed']} after the last checkpoint, "
        f"{report['unsealed']} posted before sealing"
    )
