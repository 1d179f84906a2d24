"""The operators' console over HTTP: its static pages under ``/console/``, its cookie
sessions under ``/v1/console/session``, and the dashboard summary it opens on.

Everything else the console shows comes from the public API, called with the session cookie
and the CSRF header (see ``app.services.identity.console``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, RedirectResponse

from app.db import utcnow
from app.deps import AdminOrAuditor, KVDep, Session, SettingsDep, client_ip
from app.kit.errors import BadRequest, Forbidden, NotFound, Unauthorized, ValidationFailed
from app.kit.problems import responses
from app.schemas.console import ConsoleSessionOut, DashboardOut, SignInIn
from app.schemas.identity import UserOut
from app.security import decode_checked
from app.services.admin import dashboard
from app.services.identity import console, ratelimit, tokens
from app.services.identity.errors import ConsoleRefused, CsrfFailed
from app.services.identity.users import get_user

STATIC = Path(__file__).resolve().parent.parent / "console" / "static"
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
}

pages = APIRouter(include_in_schema=False)


def _asset(relative: str) -> FileResponse:
    path = (STATIC / relative).resolve()
    if not path.is_relative_to(STATIC) or not path.is_file() or path.suffix not in MEDIA_TYPES:
        raise NotFound("No such page in the console.")
    return FileResponse(
        path, media_type=MEDIA_TYPES[path.suffix], headers={"Cache-Control": "no-cache"}
    )


@pages.get("/console")
async def console_root() -> RedirectResponse:
    return RedirectResponse("/console/", status_code=308)


@pages.get("/console/")
async def console_index() -> FileResponse:
    return _asset("index.html")


@pages.get("/console/{asset:path}")
async def console_asset(asset: Annotated[str, PathParam(max_length=200)]) -> FileResponse:
    return _asset(asset)


session_routes = APIRouter(
    prefix="/v1/console", tags=["console"], responses=responses(Unauthorized, Forbidden)
)


def _set_cookie(request: Request, response: Response, name: str, value: str, path: str) -> None:
    response.set_cookie(
        name,
        value,
        path=path,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def _start_session(
    request: Request,
    response: Response,
    settings: SettingsDep,
    pair: tokens.TokenPair,
    user_id: str,
) -> str:
    csrf = console.new_csrf(settings, user_id)
    _set_cookie(request, response, console.ACCESS_COOKIE, pair.access_token, "/")
    _set_cookie(request, response, console.CSRF_COOKIE, csrf, "/")
    _set_cookie(
        request, response, console.REFRESH_COOKIE, pair.refresh_token, "/v1/console/session"
    )
    return csrf


def _end_session(response: Response) -> None:
    for name, path in (
        (console.ACCESS_COOKIE, "/"),
        (console.CSRF_COOKIE, "/"),
        (console.REFRESH_COOKIE, "/v1/console/session"),
    ):
        response.delete_cookie(name, path=path, httponly=True, samesite="strict")


@session_routes.post(
    "/session",
    response_model=ConsoleSessionOut,
    summary="Sign in to the console: session and CSRF cookies (administrators, auditors, staff)",
    description="Sets HttpOnly, SameSite=Strict cookies (Secure over https). Every later "
    "request signed in by the cookie must send `X-CSRF-Token` with the returned `csrf_token`. "
    "A citizen's account is refused with 403 `console_role_refused`.",
    responses=responses(BadRequest, ConsoleRefused, ValidationFailed),
)
async def start_console_session(
    body: SignInIn,
    request: Request,
    response: Response,
    session: Session,
    kv: KVDep,
    settings: SettingsDep,
) -> ConsoleSessionOut:
    # A JSON body only: a cross-site HTML form cannot send one without a CORS preflight.
    if not request.headers.get("content-type", "").startswith("application/json"):
        raise BadRequest("Sign in with a JSON body.")
    await ratelimit.enforce(kv, settings, ratelimit.AUTH, client_ip(request))
    pair, user = await console.sign_in(session, kv, settings, body.email, body.password)
    csrf = _start_session(request, response, settings, pair, user.id)
    return ConsoleSessionOut(
        user=UserOut.model_validate(user), csrf_token=csrf, expires_in=pair.expires_in
    )


@session_routes.get(
    "/session",
    response_model=ConsoleSessionOut,
    summary="The console's signed-in user and CSRF token, from the cookies",
    description="For a page that was reloaded: the CSRF token lives in an HttpOnly cookie and "
    "is handed back only to the console's own origin (no CORS). Answers from the refresh "
    "cookie when the access cookie has expired; the page then renews the session.",
)
async def get_console_session(
    request: Request, session: Session, settings: SettingsDep
) -> ConsoleSessionOut:
    csrf = request.cookies.get(console.CSRF_COOKIE)
    subject = _cookie_subject(request, settings)
    if subject is None or not csrf:
        raise Unauthorized("Not signed in to the console.")
    console.check_csrf(settings, subject, csrf, csrf)
    user = await get_user(session, subject)
    if user is None or not user.is_active or user.role not in console.CONSOLE_ROLES:
        raise Unauthorized("Unknown or disabled user.", reason="token_revoked")
    return ConsoleSessionOut(user=UserOut.model_validate(user), csrf_token=csrf)


def _cookie_subject(request: Request, settings: SettingsDep) -> str | None:
    """Whose console cookies these are: the access token's user, or, once it has expired,
    the refresh token's (the page then renews the session with the CSRF token it gets)."""
    for name, typ in ((console.ACCESS_COOKIE, "access"), (console.REFRESH_COOKIE, "refresh")):
        token = request.cookies.get(name)
        if token:
            try:
                return decode_checked(settings, token, typ).sub  # type: ignore[arg-type]
            except Unauthorized:
                continue
    return None


@session_routes.post(
    "/session/refresh",
    response_model=ConsoleSessionOut,
    summary="Renew the console's session cookies (each refresh cookie works once)",
    responses=responses(CsrfFailed),
)
async def refresh_console_session(
    request: Request, response: Response, session: Session, kv: KVDep, settings: SettingsDep
) -> ConsoleSessionOut:
    await ratelimit.enforce(kv, settings, ratelimit.REFRESH, client_ip(request))
    token = request.cookies.get(console.REFRESH_COOKIE)
    if not token:
        raise Unauthorized("Not signed in to the console.")
    console.check_csrf(
        settings,
        console.refresh_subject(settings, token),
        request.headers.get(console.CSRF_HEADER),
        request.cookies.get(console.CSRF_COOKIE),
    )
    pair, user = await console.refresh(session, kv, settings, token)
    csrf = _start_session(request, response, settings, pair, user.id)
    return ConsoleSessionOut(
        user=UserOut.model_validate(user), csrf_token=csrf, expires_in=pair.expires_in
    )


@session_routes.delete(
    "/session",
    status_code=204,
    summary="Sign out of the console: revoke the session's tokens and clear its cookies",
    description="Acts on the console's cookie session only (a bearer token signs out with "
    "`POST /v1/auth/logout`).",
    responses=responses(CsrfFailed),
)
async def end_console_session(
    request: Request, response: Response, session: Session, kv: KVDep, settings: SettingsDep
) -> None:
    token = request.cookies.get(console.ACCESS_COOKIE)
    if not token:
        raise Unauthorized("Not signed in to the console.")
    claims = decode_checked(settings, token, "access")
    console.check_csrf(
        settings,
        claims.sub,
        request.headers.get(console.CSRF_HEADER),
        request.cookies.get(console.CSRF_COOKIE),
    )
    await tokens.logout(session, kv, settings, claims)
    _end_session(response)


@session_routes.get(
    "/dashboard",
    response_model=DashboardOut,
    summary="The console's dashboard: today, this month, review queue, points outstanding",
)
async def get_dashboard(
    principal: AdminOrAuditor, session: Session, settings: SettingsDep
) -> DashboardOut:
    return DashboardOut.model_validate(await dashboard.summary(session, settings.tz, utcnow()))


router = APIRouter()
router.include_router(pages)
router.include_router(session_routes)
