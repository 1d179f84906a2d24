"""The ASGI application: ``app.main:app``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi

from app.config import Settings, get_settings
from app.db import make_engine, make_sessionmaker
from app.kit.inputs import refuse_unstorable_text
from app.kit.problems import Problem, install_error_handlers
from app.kv import make_kv
from app.middleware import BodySizeLimitMiddleware
from app.observability import RequestContextMiddleware, configure_logging
from app.routers import (
    admin,
    communities,
    health,
    identity,
    ledger,
    methodologies,
    partners,
    records,
    rewards,
)
from app.security import configure_password_hashing
from app.services.records.group_commit import RecordCommitter
from app.startup import on_startup

DESCRIPTION = """
Tanhui (碳惠) turns residents' low-carbon behaviour into verified emission reductions
(grams of CO2e) and points in a double-entry ledger, which merchants redeem for incentives.

Sign in with **Authorize** (email as username). Every error is RFC 9457
`application/problem+json` with a stable `code`.
"""


ROUTERS = (
    health,
    identity,
    methodologies,
    records,
    partners,
    ledger,
    rewards,
    communities,
    admin,
)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_password_hashing(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url, settings.db_pool_size)
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        app.state.kv = make_kv(
            settings.redis_url, settings.redis_prefix, settings.redis_max_connections
        )
        await on_startup(app)
        committer = None
        if settings.record_group_commit:
            committer = RecordCommitter(app.state.sessionmaker, settings, app.state.kv)
            committer.start()
        app.state.record_committer = committer
        try:
            yield
        finally:
            if committer is not None:
                await committer.stop()
            await app.state.kv.close()
            await engine.dispose()

    docs = settings.docs_enabled
    app = FastAPI(
        title="Tanhui API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        # First on every route: text the database cannot store never reaches a query.
        dependencies=[Depends(refuse_unstorable_text)],
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware)
    for module in ROUTERS:
        app.include_router(module.router)
    _install_openapi(app)
    return app


def _install_openapi(app: FastAPI) -> None:
    def custom() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = (
            Problem.model_json_schema()
        )
        app.openapi_schema = schema
        return schema

    app.openapi = custom  # type: ignore[method-assign]


def __getattr__(name: str) -> FastAPI:
    """``app.main:app`` is built on first access, so importing this module reads no settings."""
    if name != "app":
        raise AttributeError(name)
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    application = create_app(settings)
    globals()["app"] = application
    return application
