"""Methodology parameter versions: dated, immutable rows; version 1 from the code defaults.

Which version applies to a record is decided by its ``occurred_at``: the latest version whose
``effective_from`` is not after it (ties: the higher version). The lookup always asks the
database, since another worker may have published a version a moment ago; parsed parameters
are cached by version id, which is safe because versions never change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import insert_ignore
from app.errors import NotFound
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

_params_cache: dict[str, BaseParams] = {}


@dataclass(frozen=True)
class InForce:
    version: MethodologyVersion
    params: BaseParams


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


def parsed(m: Methodology, version: MethodologyVersion) -> BaseParams:
    cached = _params_cache.get(version.id)
    if cached is None:
        cached = params_from_json(m, version.params)
        _params_cache[version.id] = cached
    return cached


async def version_in_force(session: AsyncSession, m: Methodology, at: datetime) -> InForce:
    version = await session.scalar(
        select(MethodologyVersion)
        .where(MethodologyVersion.code == m.code, MethodologyVersion.effective_from <= at)
        .order_by(MethodologyVersion.effective_from.desc(), MethodologyVersion.version.desc())
        .limit(1)
    )
    if version is None:  # only if the defaults were never created
        await ensure_defaults(session)
        return await version_in_force(session, m, at)
    return InForce(version, parsed(m, version))


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
