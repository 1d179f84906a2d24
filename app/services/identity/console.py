"""Sessions of the operators' console: sign-in for administrators, auditors and merchant
staff, and the CSRF token that must accompany every request made with the session cookie.

The console keeps its tokens in HttpOnly cookies, where page scripts cannot read them. A
cookie is sent by the browser on its own, so a request authenticated by the cookie must also
prove that it comes from the console's own page: it carries the CSRF token in a header. The
token is ``nonce.mac``, where the mac binds the nonce to the signed-in user under the
service's key; it is set in a cookie too, and the header must equal the cookie (double
submit) as well as carry a valid mac for the cookie's user. Nothing is stored server-side.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.kv import KV
from app.models import User
from app.models.identity import Role
from app.security import decode_checked
from app.services.identity import tokens
from app.services.identity.errors import ConsoleRefused, CsrfFailed
from app.services.identity.users import get_user

CONSOLE_ROLES = frozenset({Role.ADMIN, Role.AUDITOR, Role.MERCHANT})
# Names the browser and the service agree on.
ACCESS_COOKIE = "tanhui_console"
REFRESH_COOKIE = "tanhui_console_refresh"
CSRF_COOKIE = "tanhui_console_csrf"
CSRF_HEADER = "X-CSRF-Token"
_CSRF_NEEDED = f"A request signed in by the console's cookie needs its {CSRF_HEADER} header."
_NOT_FOR_CITIZENS = (
    "The console is for administrators, auditors and merchant staff; citizens use the app."
)


def _mac(settings: Settings, user_id: str, nonce: str) -> str:
    digest = hmac.new(
        settings.jwt_key.encode(), f"console-csrf\n{user_id}\n{nonce}".encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def new_csrf(settings: Settings, user_id: str) -> str:
    nonce = secrets.token_urlsafe(18)
    return f"{nonce}.{_mac(settings, user_id, nonce)}"


def check_csrf(settings: Settings, user_id: str, header: str | None, cookie: str | None) -> None:
    """The header must equal the cookie and be a token made for this user."""
    if not header or not cookie or not hmac.compare_digest(header, cookie):
        raise CsrfFailed(_CSRF_NEEDED)
    nonce, _, mac = header.partition(".")
    if not nonce or not hmac.compare_digest(mac, _mac(settings, user_id, nonce)):
        raise CsrfFailed(_CSRF_NEEDED)


async def sign_in(
    session: AsyncSession, kv: KV, settings: Settings, email: str, password: str
) -> tuple[tokens.TokenPair, User]:
    """A token pair for a console role. A citizen's correct password is refused with 403
    (the pair issued inside the unit of work is rolled back with the refusal)."""
    pair = await tokens.login(session, kv, settings, email, password)
    claims = decode_checked(settings, pair.access_token, "access")
    if claims.role not in CONSOLE_ROLES:
        raise ConsoleRefused(_NOT_FOR_CITIZENS)
    user = await get_user(session, claims.sub)
    assert user is not None  # just signed in
    return pair, user


async def refresh(
    session: AsyncSession, kv: KV, settings: Settings, refresh_token: str
) -> tuple[tokens.TokenPair, User]:
    """Exchange the console's refresh token (each works once, as for the API)."""
    pair = await tokens.refresh(session, kv, settings, refresh_token)
    claims = decode_checked(settings, pair.access_token, "access")
    if claims.role not in CONSOLE_ROLES:  # the role changed since sign-in
        raise ConsoleRefused(_NOT_FOR_CITIZENS)
    user = await get_user(session, claims.sub)
    assert user is not None
    return pair, user


def refresh_subject(settings: Settings, refresh_token: str) -> str:
    """Whose refresh token this is (checked signature and expiry), for the CSRF check that
    precedes the exchange."""
    return decode_checked(settings, refresh_token, "refresh").sub
