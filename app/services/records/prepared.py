"""A record before its unit of work: its citizen, schema, content hash and outcome.

Everything here needs no lock: a single record is prepared (parsed, hashed) before it waits
for its group's unit of work; the group reads its citizens in one statement.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import ValidationError
from sqlalchemy import Select, exists, literal, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.kit.errors import IdempotencyConflict, Unauthorized, ValidationFailed
from app.kit.statements import any_of, per_dialect
from app.models import Account, Membership, Record, User
from app.rules import Methodology, registry
from app.rules.base import dec
from app.schemas.records import RecordIn
from app.services.ledger.accounts import table
from app.services.methodologies.errors import UnknownType


class Owner(Protocol):
    """Whose record it is: what deciding a record needs of its citizen (a ``User`` is one)."""

    @property
    def id(self) -> str: ...

    @property
    def region(self) -> str | None: ...


@dataclass(frozen=True)
class Citizen:
    id: str
    region: str | None
    has_accounts: bool = True
    # Ever a member of an organisation: only then are its credited records looked up in the
    # memberships (to count them in the organisations' figures).
    in_organisations: bool = True


_USERS = table(User).c
_ACCOUNTS = table(Account).c


@per_dialect
def _citizens(dialect: str) -> Select[Any]:
    available = _ACCOUNTS.id == literal("user:") + _USERS.id + literal(":available")
    return (
        select(
            _USERS.id,
            _USERS.region,
            _ACCOUNTS.id.is_not(None).label("has_accounts"),
            exists().where(table(Membership).c.user_id == _USERS.id).label("in_organisations"),
        )
        .select_from(table(User).outerjoin(table(Account), available))
        .where(any_of(dialect, _USERS.id, "ids"), _USERS.is_active.is_(True))
    )


async def citizens(
    conn: AsyncSession | AsyncConnection, user_ids: Sequence[str]
) -> dict[str, Citizen]:
    """The active citizens among ``user_ids``, and whether their ledger accounts exist yet, in
    one statement: the single-record path reads them for a whole group instead of each
    request reading its own row."""
    rows = await conn.execute(_citizens(conn), {"ids": sorted(set(user_ids))})
    return {
        row.id: Citizen(row.id, row.region, bool(row.has_accounts), bool(row.in_organisations))
        for row in rows
    }


async def citizen(conn: AsyncSession | AsyncConnection, user_id: str) -> Citizen:
    """One active citizen (``citizens``), or the refusal of a revoked token."""
    found = await citizens(conn, [user_id])
    if user_id not in found:
        raise revoked()
    return found[user_id]


def revoked() -> Unauthorized:
    """A token whose citizen is gone or disabled (the revocation raced the request)."""
    return Unauthorized("Unknown or disabled user.", reason="token_revoked")


@dataclass(slots=True)
class NewRecord:
    """A record decided in this unit of work, before its bulk INSERT: the columns of
    ``Record`` as plain attributes. Deciding, hashing, counting and answering read and write
    some sixty of them per record; on an ORM object each one goes through the ORM's
    instrumentation, which cost a batch record about a twentieth of its worker time."""

    id: str
    user_id: str
    client_event_id: str
    content_hash: str
    type: str
    occurred_at: datetime
    received_at: datetime
    data: dict[str, Any]
    source: str
    partner_id: str | None
    region: str | None
    local_day: str
    span_start: datetime | None
    span_end: datetime | None
    status: str
    reasons: list[str]
    reduction_g: int
    points: int
    version_id: str
    version: int
    params_hash: str
    breakdown: dict[str, Any]
    transaction_id: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_note: str | None = None
    reversed_at: datetime | None = None

    @property
    def methodology(self) -> dict[str, Any]:
        return {"code": self.type, "version": self.version}


# A record as deciding, counting and answering read it: stored, or new in this unit of work.
AnyRecord = Record | NewRecord


@dataclass(frozen=True)
class Outcome:
    record: AnyRecord
    created: bool


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    if hasattr(value, "as_tuple"):  # Decimal
        return dec(value)
    return value


# ``json.dumps`` with these arguments, without building an encoder per call.
_CONTENT = json.JSONEncoder(sort_keys=True, separators=(",", ":"))


def content_hash(code: str, occurred_at: datetime, data: dict[str, Any]) -> str:
    """Same record content, same hash: 10 and 10.0 km, or one instant in two offsets, agree."""
    body = _CONTENT.encode(
        {
            "type": code,
            "occurred_at": occurred_at.astimezone(UTC).isoformat(),
            "data": _canonical(data),
        }
    )
    return hashlib.sha256(body.encode()).hexdigest()


def parse(item: RecordIn) -> tuple[Methodology, Any]:
    """The methodology and validated data, or a 422 that stores nothing."""
    m = registry.get(item.type)
    if m is None:
        known = ", ".join(x.code for x in registry.all_methodologies())
        raise UnknownType(
            f"Unknown type {item.type!r}; known: {known}.",
            errors=[{"field": "type", "message": "unknown methodology"}],
        )
    try:
        data = m.Input.model_validate(item.data)
    except ValidationError as exc:
        raise ValidationFailed.of(
            "The record's data does not match its type's schema.", exc.errors(), under="data"
        ) from None
    return m, data


@dataclass(frozen=True)
class Prepared:
    """A record past its schema, with its content hash: what needs no database, done before
    the record waits for a unit of work."""

    record_in: RecordIn
    m: Methodology
    data: Any
    digest: str


def prepare(record_in: RecordIn) -> Prepared:
    """Parse and hash one record, or raise the 422 that stores nothing."""
    m, data = parse(record_in)
    return Prepared(
        record_in, m, data, content_hash(m.code, record_in.occurred_at, data.model_dump())
    )


def _replay(found: AnyRecord, digest: str) -> Outcome:
    if found.content_hash != digest:
        raise IdempotencyConflict(
            f"client_event_id {found.client_event_id!r} was already used for other content."
        )
    return Outcome(found, created=False)
