"""Gauges that no request sets: refreshed by each worker on a schedule, the first time right
after start (so the ledger-check gauge says what the last check found, never a default 0)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from fastapi import FastAPI

from app.config import Settings
from app.db import session_scope
from app.observability import (
    DB_POOL_IN_USE,
    LEDGER_CHECK_LAST_RUN,
    OUTSTANDING_POINTS,
    REVIEW_QUEUE,
)
from app.services.admin.monitoring import figures
from app.services.ledger.check import check

logger = logging.getLogger("tanhui.monitoring")


async def refresh(app: FastAPI, *, with_ledger_check: bool) -> None:
    async with session_scope(app.state.sessionmaker) as session:
        found = await figures(session)
    REVIEW_QUEUE.set(found["review_queue"])
    OUTSTANDING_POINTS.labels("available").set(found["available"])
    OUTSTANDING_POINTS.labels("held").set(found["held"])
    pool: Any = app.state.engine.pool
    checked_out = getattr(pool, "checkedout", None)
    if callable(checked_out):
        DB_POOL_IN_USE.set(checked_out())
    if with_ledger_check:
        async with session_scope(app.state.sessionmaker) as session:
            await check(session)  # sets tanhui_ledger_check_ok
        LEDGER_CHECK_LAST_RUN.set(time.time())


async def _loop(app: FastAPI, settings: Settings) -> None:
    next_check = 0.0
    while True:
        due = settings.ledger_check_minutes > 0 and time.monotonic() >= next_check
        try:
            await refresh(app, with_ledger_check=due)
            if due:
                next_check = time.monotonic() + settings.ledger_check_minutes * 60
        except Exception as exc:  # a gauge left stale must not stop the worker
            logger.warning("metrics refresh failed: %s", type(exc).__name__)
        await asyncio.sleep(settings.metrics_refresh_seconds)


def start(app: FastAPI, settings: Settings) -> asyncio.Task[None] | None:
    if settings.metrics_refresh_seconds <= 0:
        return None
    return asyncio.create_task(_loop(app, settings), name="tanhui-metrics")


async def stop(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
