"""What every worker does once at start."""

from __future__ import annotations

from fastapi import FastAPI


async def on_startup(app: FastAPI) -> None:
    """Hook for start-up work that must exist before the first request."""
    return None
