"""Password hashing (argon2) and JWTs (HS256, pinned; iss/aud/sub/role/exp/iat/jti required)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.config import Settings
from app.db import new_id

ALGORITHM = "HS256"
_hasher = PasswordHasher()
# A hash to verify against when the email is unknown, so timing does not tell; made with the
# configured cost, once, so that it costs what a real verification costs.
_dummy_hash: str | None = None

_COMMON = {
    "password",
    "password1",
    "password123",
    "qwertyuiop",
    "1234567890",
    "12345678910",
    "iloveyou12",
    "letmein123",
    "abc1234567",
    "tanhui1234",
    "admin12345",
}


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
    if lowered in _COMMON:
        problems.append("is a commonly used password")
    local = email.split("@", 1)[0].lower()
    if len(local) >= 4 and local in lowered:
        problems.append("must not contain the email address")
    return problems


TokenType = Literal["access", "refresh"]


@dataclass(frozen=True)
class TokenClaims:
    sub: str
    role: str
    jti: str
    typ: TokenType
    exp: datetime
    iat: datetime
    fam: str | None = None


def encode_token(
    settings: Settings,
    *,
    sub: str,
    role: str,
    typ: TokenType,
    lifetime: timedelta,
    family: str | None = None,
    now: datetime | None = None,
) -> TokenClaims:
    now = now or datetime.now(UTC)
    claims = TokenClaims(
        sub=sub, role=role, jti=new_id(), typ=typ, exp=now + lifetime, iat=now, fam=family
    )
    return claims


def sign(settings: Settings, claims: TokenClaims) -> str:
    payload = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": claims.sub,
        "role": claims.role,
        "typ": claims.typ,
        "jti": claims.jti,
        "iat": int(claims.iat.timestamp()),
        "exp": int(claims.exp.timestamp()),
    }
    if claims.fam:
        payload["fam"] = claims.fam
    return jwt.encode(payload, settings.jwt_key, algorithm=ALGORITHM)


def decode_token(settings: Settings, token: str, typ: TokenType) -> TokenClaims | None:
    """The token's claims, or None for anything forged, expired, malformed or of another type."""
    try:
        payload = jwt.decode(
            token,
            settings.jwt_key,
            algorithms=[ALGORITHM],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": ["iss", "aud", "sub", "role", "exp", "iat", "jti"]},
        )
    except jwt.PyJWTError:
        return None
    if payload.get("typ") != typ:
        return None
    try:
        return TokenClaims(
            sub=str(payload["sub"]),
            role=str(payload["role"]),
            jti=str(payload["jti"]),
            typ=typ,
            exp=datetime.fromtimestamp(payload["exp"], UTC),
            iat=datetime.fromtimestamp(payload["iat"], UTC),
            fam=payload.get("fam"),
        )
    except (TypeError, ValueError, OverflowError):
        return None
