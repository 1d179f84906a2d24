"""``tanhui``: serve, migrate, create users, seed a demo, run the periodic jobs."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from typing import Any

from app.cli.common import run_db, settings_or_exit, warn_unknown_variables
from app.cli.ledger import (
    checkpoint,
    cmd_audit,
    cmd_checkpoint,
    cmd_seal_ledger,
    cmd_verify_export,
)
from app.config import Settings
from app.models.identity import Role

__all__ = ["build_parser", "main", "warn_unknown_variables"]


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    settings = settings_or_exit()
    if args.migrate:
        cmd_migrate(args)
    if args.workers > 1:
        if settings.is_sqlite:
            sys.exit(
                "Several workers need PostgreSQL and Redis (TANHUI_DATABASE_URL, "
                "TANHUI_REDIS_URL); SQLite serves one process."
            )
        if not settings.redis_url:
            sys.exit(
                "Several workers need TANHUI_REDIS_URL: revocations, nonces, leaderboards "
                "and rate limits are shared through Redis."
            )
        # Each worker writes its metrics here; /metrics sums them.
        os.environ.setdefault(
            "PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="tanhui-metrics-")
        )
    from app.cli.workers import BalancedWorkers, balanced
    from app.observability import configure_logging, log_config

    configure_logging(settings.log_level, settings.log_json)
    options: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "workers": args.workers,
        "log_level": settings.log_level.lower(),
        "log_config": log_config(settings.log_level, settings.log_json),
        "access_log": False,
        "proxy_headers": True,
        "forwarded_allow_ips": args.forwarded_allow_ips,
    }
    if args.workers > 1 and balanced():
        BalancedWorkers(uvicorn.Config("app.main:app", **options)).run()
    else:
        uvicorn.run("app.main:app", **options)


def cmd_migrate(args: argparse.Namespace) -> None:
    from app.migrate import upgrade

    settings = settings_or_exit()
    upgrade(settings.database_url)
    print("database is at the latest schema")


def _password(args: argparse.Namespace) -> str:
    """--password, else a prompt on a terminal (typed twice), else the first line of stdin:
    a password on the command line is visible to every user of the machine."""
    if args.password:
        return str(args.password)
    if sys.stdin.isatty():
        import getpass

        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Password again: "):
            sys.exit("error: the passwords differ")
        return first
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        sys.exit("error: no password given (--password, a prompt, or a line on stdin)")
    return line


def cmd_create_user(args: argparse.Namespace) -> None:
    from app.kit.errors import DomainError
    from app.services.identity.users import create_user

    password = _password(args)

    async def go(session: Any, settings: Settings) -> Any:
        return await create_user(
            session,
            email=args.email,
            password=password,
            role=args.role,
            merchant_id=args.merchant_id,
            display_name=args.display_name,
            region=args.region,
        )

    try:
        user = run_db(go)
    except DomainError as exc:
        sys.exit(f"error: {exc.detail}")
    print(f"created {user.role} {user.email} id={user.id}")


def cmd_seed_demo(args: argparse.Namespace) -> None:
    from app.kit.errors import DomainError
    from app.services.rewards.demo import seed_demo

    try:
        print(run_db(seed_demo))
    except DomainError as exc:
        sys.exit(f"error: {exc.detail}")


def cmd_expire_points(args: argparse.Namespace) -> None:
    from app.services.ledger.expiry import run_expiry

    settings = settings_or_exit()
    quiet = args.quiet or args.json
    result = asyncio.run(run_expiry(settings, batch_size=args.batch_size, progress=not quiet))
    if args.json:
        import json

        print(json.dumps(result, default=str, sort_keys=True))
    else:
        print(result)

    try:
        checkpoint(max_rows=None, timeout=None, show=not args.json)
    except TimeoutError as exc:
        sys.exit(f"points expired; no checkpoint cut: {exc}")


def cmd_openapi(args: argparse.Namespace) -> None:
    """The document depends on no setting but the secret's presence: a throwaway one does."""
    import json
    import secrets

    from app.main import create_app

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        env="production",
        jwt_secret=secrets.token_urlsafe(48),
        database_url="sqlite+aiosqlite://",
        docs_enabled=True,
    )
    document = create_app(settings).openapi()
    print(json.dumps(document, ensure_ascii=False, indent=2 if args.indent else None))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tanhui", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the API with uvicorn")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes (more than one needs PostgreSQL and Redis)",
    )
    serve.add_argument("--migrate", action="store_true", help="upgrade the schema first")
    serve.add_argument(
        "--forwarded-allow-ips",
        default="127.0.0.1",
        help="proxies whose X-Forwarded-For is trusted (the load balancer)",
    )
    serve.set_defaults(func=cmd_serve)

    migrate = sub.add_parser("migrate", help="upgrade the database schema to the latest")
    migrate.set_defaults(func=cmd_migrate)

    create = sub.add_parser("create-user", help="create a user of any role")
    create.add_argument("--email", required=True, help="the sign-in email")
    create.add_argument(
        "--password",
        help="the password; without it, a prompt on a terminal or the first line of stdin",
    )
    create.add_argument(
        "--role", default=Role.CITIZEN, choices=[r.value for r in Role], help="the user's role"
    )
    create.add_argument("--merchant-id", help="the merchant a merchant-staff user acts for")
    create.add_argument("--display-name", help="the name shown on leaderboards")
    create.add_argument("--region", help="ISO 3166-2 code, e.g. CN-SX")
    create.set_defaults(func=cmd_create_user)

    seed = sub.add_parser("seed-demo", help="a demo merchant with incentives and demo users")
    seed.set_defaults(func=cmd_seed_demo)

    expire = sub.add_parser(
        "expire-points",
        help="expire points past their lifetime and release redemption codes past theirs "
        "(idempotent; safe while serving)",
    )
    expire.add_argument(
        "--batch-size", type=int, default=500, help="lots read per query (default 500)"
    )
    expire.add_argument("--quiet", action="store_true", help="no progress bar")
    expire.add_argument(
        "--json", action="store_true", help="print the result as one JSON object (no progress bar)"
    )
    expire.set_defaults(func=cmd_expire_points)

    openapi = sub.add_parser("openapi", help="print the OpenAPI document (JSON) to stdout")
    openapi.add_argument("--indent", action="store_true", help="indent the JSON for reading")
    openapi.set_defaults(func=cmd_openapi)
    cut = sub.add_parser(
        "checkpoint", help="cut hash checkpoints over the ledger transactions not yet covered"
    )
    cut.add_argument("--max-rows", type=int, default=None, help="per checkpoint")
    cut.add_argument(
        "--timeout", type=float, default=None, help="seconds to wait for open transactions"
    )
    cut.set_defaults(func=cmd_checkpoint)

    seal = sub.add_parser(
        "seal-ledger",
        help="give every ledger transaction posted before hashing existed its hash (once; "
        "safe to repeat and beside live traffic)",
    )
    seal.add_argument("--quiet", action="store_true", help="print nothing")
    seal.add_argument("--json", action="store_true", help="print the result as one JSON object")
    seal.set_defaults(func=cmd_seal_ledger)

    audit = sub.add_parser(
        "audit",
        help="check every ledger hash and checkpoint (exit 1 on any difference); "
        "'audit recompute' re-runs credited records through their methodology",
    )
    audit.add_argument("what", nargs="?", choices=["ledger", "recompute"], default="ledger")
    audit.add_argument("--from", dest="start", help="recompute: records that occurred from")
    audit.add_argument("--to", dest="end", help="recompute: records that occurred before")
    audit.add_argument("--methodology", help="recompute: one methodology")
    audit.add_argument("--quiet", action="store_true", help="no progress bar")
    audit.set_defaults(func=cmd_audit)

    verify = sub.add_parser(
        "verify-export",
        help="verify a ledger export offline (no database); exit 1 naming the first bad line",
    )
    verify.add_argument("file")
    verify.add_argument(
        "--trusted", help="an earlier export kept elsewhere: its checkpoints must still appear"
    )
    verify.set_defaults(func=cmd_verify_export)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except Exception as exc:
        from app.db import is_database_outage

        if not is_database_outage(exc):
            raise
        # One line an operator can act on, not a driver's traceback.
        sys.exit(
            f"error: the database is unreachable ({type(exc).__name__}); check TANHUI_DATABASE_URL"
        )


if __name__ == "__main__":
    main()
