"""Methodology parameter versions: dated, immutable rows; version 1 from the code defaults.

Which version applies to a record is decided by its ``occurred_at``: the latest version whose
``effective_from`` is not after it (ties: the higher version).

Each worker keeps the versions of a methodology as it last read them, with the time it read
them. A version can only take effect from ``CLOCK_TOLERANCE`` before it was created, and its
insert commits within moments, so a list read at ``loaded_at`` is complete for every instant
before ``loaded_at - VERSION_MARGIN``: records that occurred earlier are answered from memory,
later ones make the worker read the list again. Another worker's new version is therefore
never missed, and a record of a few minutes ago costs no query. A list read again is kept for
the rest of its unit of work: the records of one unit (a group of single records, a batch)
that happened moments ago cost one query per methodology together, not one each, and are
decided as a record alone would be, against a list read inside its own transaction. Parsed
parameters are cached by version id, which is safe because versions never change.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, event, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from app.db import insert_ignore, utcnow
from app.kit.errors import NotFound
from app.models import MethodologyVersion
from app.rules import (
    BaseParams,
    Methodology,
    canonical_json,
    params_from_json,
    params_hash,
    registry,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
V1_NOTE = (
    "Version 1: published figures of peer schemes (Shenzhen, Wuhan, Ant Forest, "
    "生态环境部 grid factors); see methodologies.md for each source."
)

# A client's "now" may lag the server's by a little: a new version may start that far back.
CLOCK_TOLERANCE = timedelta(seconds=60)
VERSION_MARGIN = CLOCK_TOLERANCE + timedelta(seconds=30)

_params_cache: dict[str, BaseParams] = {}


@dataclass(frozen=True)
class VersionInfo:
    """What a record needs of a version; a plain value, safe to share between sessions."""

    id: str
    code: str
    version: int
    effective_from: datetime
    params: str
    params_hash: str


@dataclass(frozen=True)
class InForce:
    version: VersionInfo
    params: BaseParams


@dataclass(frozen=True)
class _Loaded:
    at: datetime
    versions: tuple[VersionInfo, ...]  # newest effective_from first, then higher version


# Per database (tests and tools may talk to several in one process), per methodology code.
_versions: weakref.WeakKeyDictionary[Engine, dict[str, _Loaded]] = weakref.WeakKeyDictionary()


async def ensure_defaults(session: AsyncSession) -> None:
    """Create version 1 of every methodology that has none. Safe when many workers start at
    once: the (code, version) unique constraint lets exactly one insert win."""
    rows = []
    for m in registry.all_methodologies():
        p = m.Params()
        rows.append(
            {
                "id": f"v1-{m.code}"[:36],
                "code": m.code,
                "version": 1,
                "params": canonical_json(p),
                "params_hash": params_hash(p),
                "effective_from": EPOCH,
                "note": V1_NOTE,
                "created_by": None,
                "created_at": datetime.now(UTC),
            }
        )
    await session.execute(insert_ignore(session, MethodologyVersion, rows))


def get_methodology(code: str) -> Methodology:
    m = registry.get(code)
    if m is None:
        raise NotFound(f"No methodology {code!r}.")
    return m


def parsed(m: Methodology, version: MethodologyVersion | VersionInfo) -> BaseParams:
    cached = _params_cache.get(version.id)
    if cached is None:
        cached = params_from_json(m, version.params)
        _params_cache[version.id] = cached
    return cached


def _info(v: MethodologyVersion) -> VersionInfo:
    return VersionInfo(v.id, v.code, v.version, v.effective_from, v.params, v.params_hash)


async def _load(session: AsyncSession, code: str) -> _Loaded:
    loaded_at = utcnow()
    rows = (
        await session.scalars(
            select(MethodologyVersion)
            .where(MethodologyVersion.code == code)
            .order_by(MethodologyVersion.effective_from.desc(), MethodologyVersion.version.desc())
        )
    ).all()
    if not rows:  # only if the defaults were never created
        await ensure_defaults(session)
        return await _load(session, code)
    return _Loaded(loaded_at, tuple(_info(v) for v in rows))


def forget_versions(session: AsyncSession, code: str) -> None:
    """Drop this worker's list for ``code`` (after publishing a version here)."""
    _versions.get(session.get_bind().engine, {}).pop(code, None)


_READ_IN_UNIT = "methodologies.read_in_unit"


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_soft_rollback")
def _forget_unit_reads(session: Session, *_: Any) -> None:
    session.info.pop(_READ_IN_UNIT, None)


async def version_in_force(session: AsyncSession, m: Methodology, at: datetime) -> InForce:
    per_code = _versions.setdefault(session.get_bind().engine, {})
    loaded = per_code.get(m.code)
    if loaded is None or at >= loaded.at - VERSION_MARGIN:
        in_unit: dict[str, _Loaded] = session.info.setdefault(_READ_IN_UNIT, {})
        loaded = in_unit.get(m.code)
        if loaded is None:
            loaded = per_code[m.code] = in_unit[m.code] = await _load(session, m.code)
    for v in loaded.versions:
        if v.effective_from <= at:
            return InForce(v, parsed(m, v))
    raise LookupError(f"no version of {m.code} in force at {at.isoformat()}")  # v1 is from 1970


async def list_versions(session: AsyncSession, code: str) -> list[MethodologyVersion]:
    return list(
        (
            await session.scalars(
                select(MethodologyVersion)
                .where(MethodologyVersion.code == code)
                .order_by(MethodologyVersion.version)
            )
        ).all()
    )


def describe(m: Methodology, current: InForce | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "code": m.code,
        "name": m.name,
        "description": getattr(m, "description", ""),
        "unit": m.unit,
        "version": current.version.version if current else None,
        "input_schema": m.Input.model_json_schema(),
    }
    if current is not None:
        out |= {
            "effective_from": current.version.effective_from,
            "params_hash": current.version.params_hash,
        }
    return out
