"""Member codes: what a citizen shows at a till so that staff can credit a purchase to them.

A code is 16 digits from ``secrets`` (about 53 bits; digits, so a till's scanner or keypad
takes it), valid for ``TTL`` and usable once. Only a keyed hash is stored. The till takes a
code with one conditional ``UPDATE … WHERE used_at IS NULL AND expires_at > now``: of two
tills presenting the same code at once, exactly one gets its citizen back.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import utcnow
from app.models import MemberCode
from app.services.communities.errors import MemberCodeRefused

TTL = timedelta(minutes=2)
DIGITS = 16


def _key(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"member-code-hash", hashlib.sha256).digest()


def hash_code(secret: str, code: str) -> str:
    return hmac.new(_key(secret), code.encode(), hashlib.sha256).hexdigest()


def normalise(raw: str) -> str | None:
    code = "".join(raw.split()).replace("-", "")
    return code if len(code) == DIGITS and code.isascii() and code.isdigit() else None


async def issue(session: AsyncSession, secret: str, user_id: str) -> tuple[str, int]:
    """A fresh code for the citizen and its lifetime in seconds. The citizen's codes that
    expired a day ago or more go, so the table holds about a day of codes per citizen."""
    now = utcnow()
    await session.execute(
        delete(MemberCode).where(
            MemberCode.user_id == user_id, MemberCode.expires_at < now - timedelta(days=1)
        )
    )
    code = "".join(secrets.choice("0123456789") for _ in range(DIGITS))
    session.add(
        MemberCode(
            code_hash=hash_code(secret, code),
            user_id=user_id,
            created_at=now,
            expires_at=now + TTL,
            used_at=None,
            merchant_id=None,
        )
    )
    await session.flush()
    return code, int(TTL.total_seconds())


async def take(
    session: AsyncSession, secret: str, raw: str, merchant_id: str, now: datetime
) -> str:
    """Use the code once; returns its citizen. Raises MemberCodeRefused (reason
    ``code_unknown``, ``code_used`` or ``code_expired``)."""
    code = normalise(raw)
    digest = hash_code(secret, code) if code else None
    if digest is not None:
        user_id = await session.scalar(
            update(MemberCode)
            .where(
                MemberCode.code_hash == digest,
                MemberCode.used_at.is_(None),
                MemberCode.expires_at > now,
            )
            .values(used_at=now, merchant_id=merchant_id)
            .returning(MemberCode.user_id)
        )
        if user_id is not None:
            return user_id
        found = (
            await session.execute(
                select(MemberCode.used_at, MemberCode.expires_at).where(
                    MemberCode.code_hash == digest
                )
            )
        ).first()
        if found is not None and found.used_at is not None:
            raise MemberCodeRefused("This member code was already used.", reason="code_used")
        if found is not None:
            raise MemberCodeRefused(
                "This member code has expired; ask the customer to show a new one.",
                reason="code_expired",
            )
    raise MemberCodeRefused("This is not a member code.", reason="code_unknown")
