from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text

from app.errors import problem
from app.observability import render_metrics

router = APIRouter(tags=["health"])
logger = logging.getLogger("tanhui.health")


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Database (and Redis when configured) reachable",
    responses={503: {"description": "A dependency is unreachable"}},
)
async def readyz(request: Request) -> Response:
    checks: dict[str, str] = {}
    try:
        async with asyncio.timeout(3):
            async with request.app.state.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any failure means not ready
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


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics() -> Response:
    body, content_type = render_metrics()
    return Response(body, media_type=content_type)
