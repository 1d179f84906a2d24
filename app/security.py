"""Password hashing (argon2) and JWTs (HS256, pinned; iss/aud/sub/role/exp/iat/jti required)."""

from __future__ import annotations

import gzip
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from importlib import resources
from typing import Literal, Protocol

import jwt
from anyio import to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.config import Settings
from app.db import new_id
from app.kit.errors import Unauthorized

ALGORITHM = "HS256"
_hasher = PasswordHasher()
# A hash to verify against when the email is unknown, so timing does not tell; made with the
# configured cost, once, so that it costs what a real verification costs.
_dummy_hash: str | None = None


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The 30 000 most common passwords of Xato's ten-million password corpus, as shipped
    (MIT licence) by the zxcvbn strength estimator's frequency lists; stored lower-case and
    gzipped in ``app/data/common-passwords.txt.gz``."""
    raw = resources.files("app.data").joinpath("common-passwords.txt.gz").read_bytes()
    return frozenset(gzip.decompress(raw).decode().split())


def configure_password_hashing(settings: Settings) -> None:
    """Use the settings' argon2 cost for new hashes in this process.

    The cost belongs to the deployment, not to a request, so it is set once where the process
    reads its settings (the application factory and the command line). Verifying reads the
    cost stored in each hash, so hashes made under another cost keep working.
    """
    global _hasher, _dummy_hash
    params = (
        settings.password_hash_time_cost,
        settings.password_hash_memory_kib,
        settings.password_hash_parallelism,
    )
    if params != (_hasher.time_cost, _hasher.memory_cost, _hasher.parallelism):
        _hasher = PasswordHasher(time_cost=params[0], memory_cost=params[1], parallelism=params[2])
        _dummy_hash = None
    _dummy()  # at start-up, not on the first unknown email


def _dummy() -> str:
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash("not-a-real-password-0")
    return _dummy_hash


def hash_password(password: str) -> str:
    return _hasher.hash(password)


# Argon2 takes tens of milliseconds of CPU by design and releases the GIL: run it in a
# worker thread, so one sign-in does not stall every other request on the event loop.
async def hash_password_async(password: str) -> str:
    return await to_thread.run_sync(hash_password, password)


async def verify_password_async(password: str, hashed: str | None) -> bool:
    return await to_thread.run_sync(verify_password, password, hashed)


def verify_password(password: str, hashed: str | None) -> bool:
    try:
        return _hasher.verify(hashed or _dummy(), password) and hashed is not None
    except (VerificationError, InvalidHashError):
        return False


def password_problems(password: str, email: str = "") -> list[str]:
    """Why a password is too weak (empty when it is acceptable)."""
    problems = []
    if len(password) < 10:
        problems.append("must be at least 10 characters long")
    if len(password) > 256:
        problems.append("must be at most 256 characters long")
    classes = sum(bool(re.search(p, password)) for p in (r"[a-z]", r"[A-Z]", r"\d", r"[^A-Za-z\d]"))
    if classes < 2:
        problems.append("must mix at least two of: lower case, upper case, digits, symbols")
    lowered = password.lower()
    # "Password2026!" is "password" with the usual decoration: check the bare word too.
    bare = re.sub(r"[\d\W_]+$", "", lowered)
    common = common_passwords()
    if lowered in common or (len(bare) >= 4 and bare in common):
        problems.append("is a commonly used password")
    local = email.split("@", 1)[0].lower()
    if len(local) >= 4 and local in lowered:
        problems.append("must not contain the email address")
    return problems


TokenType = Literal["access", "refresh"]


class Actor(Protocol):
    """Who performs an act: a signed-in principal or a user row."""

    @property
    def id(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def merchant_id(self) -> str | None: ...


@dataclass(frozen=True)
class TokenClaims:
    sub: str
    role: str
    jti: str
    typ: TokenType
    exp: datetime
    iat: datetime
    fam: str | None = None
    merchant_id: str | None = None

    @property
    def issued_at(self) -> float:
        """Epoch seconds, to the millisecond: compared with a user's "tokens valid after"."""
        return self.iat.timestamp()


def floor_ms(moment: datetime) -> datetime:
    return datetime.fromtimestamp(math.floor(moment.timestamp() * 1000) / 1000, UTC)


def encode_token(
    settings: Settings,
    *,
    sub: str,
    role: str,
    typ: TokenType,
    lifetime: timedelta,
    family: str | None = None,
    merchant_id: str | None = None,
    now: datetime | None = None,
) -> TokenClaims:
    now = floor_ms(now or datetime.now(UTC))
    return TokenClaims(
        sub=sub,
        role=role,
        jti=new_id(),
        typ=typ,
        exp=now + lifetime,
        iat=now,
        fam=family,
        merchant_id=merchant_id,
    )


def sign(settings: Settings, claims: TokenClaims) -> str:
    payload = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": claims.sub,
        "role": claims.role,
        "typ": claims.typ,
        "jti": claims.jti,
        # A NumericDate may have a fraction (RFC 7519 §2): milliseconds, so a token issued
        # just after a logout-all in the same second is told apart from one issued before.
        "iat": claims.iat.timestamp(),
        "exp": int(claims.exp.timestamp()),
    }
    if claims.fam:
        payload["fam"] = claims.fam
    if claims.merchant_id:
        payload["mid"] = claims.merchant_id
    return jwt.encode(payload, settings.jwt_key, algorithm=ALGORITHM)


# Access tokens whose signature and claims this worker has verified, by the exact token and
# the key, audience and issuer it was checked against: a token is sent with every request of
# its life, and verifying the signature again costs more than the rest of authentication. Only
# expiry changes with time, and is checked on every use; revocation is the store's (deps).
_VERIFIED: dict[tuple[str, str, str, str], TokenClaims] = {}
_VERIFIED_MAX = 8192


def decode_checked(settings: Settings, token: str, typ: TokenType) -> TokenClaims:
    """The token's claims; 401 ``token_expired`` or ``token_invalid`` otherwise."""
    key = (token, settings.jwt_key, settings.jwt_audience, settings.jwt_issuer)
    if typ == "access" and (known := _VERIFIED.get(key)) is not None:
        if known.exp <= datetime.now(UTC):
            _VERIFIED.pop(key, None)
            raise Unauthorized("The token has expired.", reason="token_expired")
        return known
    claims = _decode(settings, token, typ)
    if typ == "access":
        if len(_VERIFIED) >= _VERIFIED_MAX:
            del _VERIFIED[next(iter(_VERIFIED))]  # the oldest verified
        _VERIFIED[key] = claims
    return claims


def _decode(settings: Settings, token: str, typ: TokenType) -> TokenClaims:
    try:
        payload = jwt.decode(
            token,
            settings.jwt_key,
            algorithms=[ALGORITHM],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": ["iss", "aud", "sub", "role", "exp", "iat", "jti"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("The token has expired.", reason="token_expired") from exc
    except jwt.PyJWTError as exc:
        raise Unauthorized("Invalid token.", reason="token_invalid") from exc
    if payload.get("typ") != typ:
        raise Unauthorized(
            "This is not " + ("an access" if typ == "access" else "a refresh") + " token.",
            reason="token_invalid",
        )
    try:
        return TokenClaims(
            sub=str(payload["sub"]),
            role=str(payload["role"]),
            jti=str(payload["jti"]),
            typ=typ,
            exp=datetime.fromtimestamp(payload["exp"], UTC),
            iat=datetime.fromtimestamp(payload["iat"], UTC),
            fam=payload.get("fam"),
            merchant_id=payload.get("mid"),
        )
    except (TypeError, ValueError, OverflowError) as exc:
        raise Unauthorized("Invalid token.", reason="token_invalid") from exc
