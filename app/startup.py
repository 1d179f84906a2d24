"""What every worker does once at start."""

from __future__ import annotations

from fastapi import FastAPI

from app.db import session_scope
from app.services.methodologies.versions import ensure_defaults


async def on_startup(app: FastAPI) -> None:
    """Every methodology in ``app.rules`` is live from the first start: version 1 of its
    parameters is created from the code defaults if it does not exist yet."""
    async with session_scope(app.state.sessionmaker) as session:
        await ensure_defaults(session)
