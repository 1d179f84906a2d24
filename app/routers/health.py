from __future__ import annotations

import asyncio
import hmac
import logging

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text

from app.kit.problems import problem
from app.observability import render_metrics
from app.schemas.health import LiveOut, ReadyOut

router = APIRouter(tags=["health"])
logger = logging.getLogger("tanhui.health")


@router.get("/healthz", operation_id="getLiveness", summary="The process is up")
async def healthz() -> LiveOut:
    return LiveOut(status="ok")


@router.get(
    "/readyz",
    response_model=ReadyOut,
    operation_id="getReadiness",
    summary="Database (and Redis when configured) reachable",
    responses={503: {"description": "A dependency is unreachable: `checks` says which"}},
)
async def readyz(request: Request) -> Response:
    checks: dict[str, str] = {}
    # Twice: connections pooled before a database restart are not pinged on checkout, so the
    # first may be a dead one; it is discarded, and the question is about the database.
    for attempt in (1, 2):
        try:
            async with asyncio.timeout(3):
                async with request.app.state.engine.connect() as conn:
                    try:
                        await conn.execute(text("SELECT 1"))
                    except Exception:
                        await conn.invalidate()
                        raise
            checks["database"] = "ok"
            break
        except Exception as exc:  # any failure means not ready
            if attempt == 1:
                continue
            logger.warning("readiness: database unreachable: %s", type(exc).__name__)
            checks["database"] = "unreachable"
    if request.app.state.settings.redis_url:
        try:
            async with asyncio.timeout(2):
                await request.app.state.kv.ping()
            checks["redis"] = "ok"
        except Exception as exc:  # any failure means not ready
            logger.warning("readiness: redis unreachable: %s", type(exc).__name__)
            checks["redis"] = "unreachable"
    if all(v == "ok" for v in checks.values()):
        return JSONResponse({"status": "ready", "checks": checks})
    return problem(503, "unavailable", "A dependency is unreachable.", checks=checks)


@router.get(
    "/metrics",
    operation_id="getMetrics",
    summary="Prometheus metrics (a bearer token or a private deployment in production)",
    response_class=Response,
    responses={401: {"description": "A metrics token is configured and was not given"}},
)
async def metrics(request: Request) -> Response:
    settings = request.app.state.settings
    if settings.metrics_token is not None:
        given = request.headers.get("authorization", "")
        expected = "Bearer " + settings.metrics_token.get_secret_value()
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return problem(401, "unauthorized", "Metrics need the configured bearer token.")
    elif not settings.metrics_served_publicly:
        # Not served at all: a public address must not reveal what the service is doing.
        return problem(404, "not_found", "Not found.")
    body, content_type = render_metrics()
    return Response(body, media_type=content_type)
