"""Swagger UI at ``/docs`` and ReDoc at ``/redoc``, their scripts and styles served by the
service itself (from the ``fastapi-offline`` package's copies): the pages load where no CDN or
font host can be reached, in mainland China and on an isolated government cloud."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs/assets"


def _assets_dir() -> Path:
    return Path(str(files("fastapi_offline") / "static"))


def _root(request: Request) -> str:
    """The path the service is mounted under behind a proxy ("" when it is not)."""
    return str(request.scope.get("root_path", ""))


# The pages are module-level functions, not closures over the application: FastAPI keeps
# every endpoint it has analysed in process-wide caches, and a closure would keep its
# application (engine, pool, compiled statements) alive with it.
async def swagger_ui(request: Request) -> HTMLResponse:
    root = _root(request)
    return get_swagger_ui_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title=f"{request.app.title} – Swagger UI",
        swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{root}{ASSETS}/favicon.png",
        oauth2_redirect_url=f"{root}/docs/oauth2-redirect",
    )


async def swagger_ui_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


async def redoc(request: Request) -> HTMLResponse:
    root = _root(request)
    return get_redoc_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title=f"{request.app.title} – ReDoc",
        redoc_js_url=f"{root}{ASSETS}/redoc.standalone.js",
        redoc_favicon_url=f"{root}{ASSETS}/favicon.png",
        with_google_fonts=False,
    )


def install(app: FastAPI) -> None:
    app.mount(ASSETS, StaticFiles(directory=_assets_dir()), name="docs-assets")
    app.get("/docs", include_in_schema=False)(swagger_ui)
    app.get("/docs/oauth2-redirect", include_in_schema=False)(swagger_ui_redirect)
    app.get("/redoc", include_in_schema=False)(redoc)
