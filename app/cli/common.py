"""What every ``tanhui`` command shares: settings read once (or one clear line on exit),
unknown ``TANHUI_`` variables named, and a database session for a command's one job."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import ValidationError

from app.config import Settings, get_settings

# Read by the container's command, the test suite and the benchmarks, not by the service.
OTHER_VARIABLES = {
    "TANHUI_WORKERS",
    "TANHUI_FORWARDED_ALLOW_IPS",
    "TANHUI_TEST_POSTGRES_URL",
    "TANHUI_TEST_REDIS_URL",
    "TANHUI_FUZZ_EXAMPLES",
    "TANHUI_BENCH_POSTGRES_URL",
    "TANHUI_BENCH_REDIS_URL",
}


def warn_unknown_variables(environ: dict[str, str] | None = None) -> list[str]:
    """``TANHUI_`` variables that no setting reads: usually a misspelt name, whose intended
    setting silently keeps its default."""
    environ = dict(os.environ) if environ is None else environ
    known = {f"TANHUI_{name.upper()}" for name in Settings.model_fields} | OTHER_VARIABLES
    unknown = sorted(
        k for k in environ if k.upper().startswith("TANHUI_") and k.upper() not in known
    )
    for name in unknown:
        print(f"warning: {name} is not a Tanhui setting and is ignored", file=sys.stderr)
    return unknown


def settings_or_exit() -> Settings:
    from app.security import configure_password_hashing

    warn_unknown_variables()
    try:
        settings = get_settings()
    except ValidationError as exc:
        lines = [
            f"  {'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}"
            for e in exc.errors()
        ]
        sys.exit("Invalid settings (environment variables TANHUI_*):\n" + "\n".join(lines))
    configure_password_hashing(settings)
    return settings


def run_db(fn: Callable[..., Awaitable[Any]], *fargs: Any) -> Any:
    from app.db import make_engine, make_sessionmaker, session_scope

    settings = settings_or_exit()

    async def main() -> Any:
        engine = make_engine(settings.database_url, pool_size=2)
        try:
            async with session_scope(make_sessionmaker(engine)) as session:
                return await fn(session, settings, *fargs)
        finally:
            await engine.dispose()

    return asyncio.run(main())
