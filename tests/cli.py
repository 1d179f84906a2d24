"""``tanhui`` commands run inside the test process.

A new interpreter costs a second or more of imports before a command does anything, and most
tests that run a command are about what the command does, not about the process around it.
``tanhui`` here calls the command's own ``main`` with the arguments, under the environment's
``TANHUI_`` variables, with its standard streams captured, and answers what ``subprocess.run``
would: the exit code (``sys.exit("message")`` is 1 with the message on stderr, as in a real
process), stdout and stderr. ``tests/production/test_cli_and_logs.py`` and
``tests/ledger/test_proofs.py`` still run real processes, so the entry point, the environment
and the exit code are proven end to end.
"""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
import threading
import traceback
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

from app.cli import main
from app.config import get_settings

# The standard streams and the environment belong to the process: one command at a time.
_lock = threading.Lock()


def _exit_code(exc: SystemExit, err: io.StringIO) -> int:
    """What the interpreter makes of ``SystemExit`` at the top of a process."""
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=err)
    return 1


def _run(env: Mapping[str, str], args: tuple[str, ...], stdin: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    saved = {k: v for k, v in os.environ.items() if k.startswith("TANHUI_")}
    streams = sys.stdin, sys.stdout, sys.stderr
    for key in saved:
        del os.environ[key]
    os.environ.update({k: v for k, v in env.items() if k.startswith("TANHUI_")})
    get_settings.cache_clear()
    sys.stdin, sys.stdout, sys.stderr = io.StringIO(stdin), out, err
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = _exit_code(exc, err)
    except Exception:  # noqa: BLE001 - an uncaught error: a traceback and exit 1
        traceback.print_exc(file=err)
        code = 1
    finally:
        sys.stdin, sys.stdout, sys.stderr = streams
        for key in [k for k in os.environ if k.startswith("TANHUI_")]:
            del os.environ[key]
        os.environ.update(saved)
        get_settings.cache_clear()
    return code, out.getvalue(), err.getvalue()


def tanhui(env: Mapping[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """``tanhui *args`` with ``env``'s ``TANHUI_`` variables, in this process.

    The command runs on a thread of its own, so its ``asyncio.run`` never meets an event loop
    of the caller's (a test's, or Playwright's)."""
    with _lock, ThreadPoolExecutor(max_workers=1, thread_name_prefix="tanhui-cli") as pool:
        code, out, err = pool.submit(_run, env, args, stdin).result()
    return subprocess.CompletedProcess(["tanhui", *args], code, out, err)


async def tanhui_async(
    env: Mapping[str, str], *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """``tanhui`` for a coroutine: the test's event loop waits instead of blocking."""
    return await asyncio.to_thread(tanhui, env, *args, stdin=stdin)
