"""The ASGI application: ``app.main:app``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from app import docs_pages, monitoring
from app.config import Settings, get_settings
from app.console.headers import ConsoleHeadersMiddleware
from app.db import make_engine, make_sessionmaker
from app.i18n import LanguageMiddleware
from app.kit import openapi
from app.kit.inputs import refuse_unstorable_text
from app.kit.problems import install_error_handlers
from app.kv import make_kv
from app.middleware import BodySizeLimitMiddleware
from app.observability import RequestContextMiddleware, configure_logging
from app.routers import (
    admin,
    communities,
    console,
    health,
    identity,
    ledger,
    methodologies,
    partners,
    records,
    rewards,
    trust,
)
from app.routers.rewards.lane import RedemptionLane
from app.security import configure_password_hashing
from app.services.records.group_commit import RecordCommitter
from app.services.rewards.redemption_groups import RedemptionGroups
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
    console,
    trust,
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
            settings.redis_url,
            settings.redis_prefix,
            settings.redis_max_connections,
            settings.redis_pool_wait_seconds,
        )
        await on_startup(app)
        committer = None
        if settings.record_group_commit:
            committer = RecordCommitter(app.state.sessionmaker, settings, app.state.kv)
            committer.start()
        app.state.record_committer = committer
        app.state.redemption_groups = RedemptionGroups(
            app.state.sessionmaker,
            settings.jwt_key,
            app.state.kv,
            settings.redemption_group_max,
            settings.redemption_group_queue,
        )
        monitor = monitoring.start(app, settings)
        try:
            yield
        finally:
            await monitoring.stop(monitor)
            if committer is not None:
                await committer.stop()
            await app.state.kv.close()
            await engine.dispose()

    docs = settings.docs_enabled
    app = FastAPI(
        title="Tanhui API",
        version="1.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        # First on every route: text the database cannot store never reaches a query.
        dependencies=[Depends(refuse_unstorable_text)],
        # Served by app.docs_pages, with their assets, when docs are enabled.
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
        generate_unique_id_function=openapi.operation_id,
    )
    app.state.settings = settings
    install_error_handlers(app)
    # Innermost: a sold-out incentive's refusals are answered before routing.
    app.add_middleware(RedemptionLane, api=app)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(LanguageMiddleware, default=settings.default_language)
    app.add_middleware(ConsoleHeadersMiddleware)
    app.add_middleware(RequestContextMiddleware)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Accept-Language", "Idempotency-Key"],
            expose_headers=["X-Request-ID", "Content-Language", "Retry-After"],
            max_age=600,
        )
    for module in ROUTERS:
        app.include_router(module.router)
    openapi.install(app)
    if docs:
        docs_pages.install(app)
    return app


def __getattr__(name: str) -> FastAPI:
    """``app.main:app`` is built on first access, so importing this module reads no settings."""
    if name != "app":
        raise AttributeError(name)
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    application = create_app(settings)
    globals()["app"] = application
    return application
