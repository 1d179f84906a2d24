"""Hashes that make the ledger tamper-evident: pure functions, no database, so that the same
code seals a transaction when it is posted, checks the live database (``tanhui audit``) and
checks an export offline (``tanhui verify-export``).

- A **transaction hash** is SHA-256 over the canonical JSON of the transaction's own content:
  id, ref, kind, cause, citizen, memo, created_at, the hash of the record decision it comes
  from, and its entries (account, amount, balance after) sorted by account. It names no
  predecessor, so postings of unrelated citizens never wait for each other to be hashed.
- A **decision hash** seals a record's canonical inputs and the outcome that was credited.
- A **checkpoint** orders the transaction hashes of a range of ``seq`` and takes their Merkle
  root; its ``root`` also covers the previous checkpoint's root, the range and the count, so
  checkpoints form a chain: changing, removing or inserting any transaction of a checkpointed
  range changes that checkpoint's root and every root after it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from app.kit.times import utc_text

FORMAT_VERSION = 1
_EMPTY = hashlib.sha256(b"").hexdigest()


# One encoder for every hash: ``json.dumps`` with these arguments builds a new one per call.
_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
)


def canonical(value: Any) -> bytes:
    """JSON with sorted keys, no spaces, UTF-8: one byte string per value."""
    return _CANONICAL.encode(value).encode()


def timestamp(at: datetime) -> str:
    """A UTC instant with microseconds, as every backend stores it: ``utc_text``, except that
    a year before 1000 is not padded to four digits, as ``strftime("%Y")`` wrote it when it
    sealed the hashes so far."""
    text = utc_text(at)
    return text.lstrip("0") if text.startswith("0") else text


def transaction_content(
    *,
    id: str,
    ref: str,
    kind: str,
    cause_type: str,
    cause_id: str | None,
    user_id: str | None,
    memo: Mapping[str, Any] | None,
    created_at: datetime | str,
    decision_hash: str | None,
    entries: Iterable[Sequence[Any]],
) -> dict[str, Any]:
    """What a transaction hash covers; ``entries`` are (account id, amount, balance after)."""
    return {
        "v": FORMAT_VERSION,
        "id": id,
        "ref": ref,
        "kind": kind,
        "cause_type": cause_type,
        "cause_id": cause_id,
        "user_id": user_id,
        "memo": memo,
        "created_at": created_at if isinstance(created_at, str) else timestamp(created_at),
        "decision_hash": decision_hash,
        "entries": sorted([str(a), int(m), int(b)] for a, m, b in entries),
    }


def transaction_hash(**content: Any) -> str:
    return hashlib.sha256(canonical(transaction_content(**content))).hexdigest()


def decision_content(
    *,
    record_id: str,
    user_id: str,
    client_event_id: str,
    type: str,
    occurred_at: datetime | str,
    data: Mapping[str, Any],
    source: str,
    partner_id: str | None,
    region: str | None,
    version_id: str,
    params_hash: str,
    reduction_g: int,
    points: int,
) -> dict[str, Any]:
    """A credited record's inputs and outcome: what it claimed, under which parameters, and
    what it was credited."""
    return {
        "v": FORMAT_VERSION,
        "record_id": record_id,
        "user_id": user_id,
        "client_event_id": client_event_id,
        "type": type,
        "occurred_at": occurred_at if isinstance(occurred_at, str) else timestamp(occurred_at),
        "data": data,
        "source": source,
        "partner_id": partner_id,
        "region": region,
        "version_id": version_id,
        "params_hash": params_hash,
        "reduction_g": int(reduction_g),
        "points": int(points),
    }


def decision_hash(content: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical(dict(content))).hexdigest()


def merkle_root(leaves: Sequence[str]) -> str:
    """Merkle root of hex SHA-256 leaves, leaf and node hashes domain-separated (a leaf can
    never pass for a node); an odd node is carried up unchanged."""
    if not leaves:
        return _EMPTY
    level = [hashlib.sha256(b"\x00" + bytes.fromhex(leaf)).digest() for leaf in leaves]
    while len(level) > 1:
        nxt = [
            hashlib.sha256(b"\x01" + level[i] + level[i + 1]).digest()
            for i in range(0, len(level) - 1, 2)
        ]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0].hex()


def checkpoint_root(
    prev_root: str | None, seq_from: int, seq_to: int, count: int, merkle: str
) -> str:
    """The chained root of a checkpoint: it commits to its predecessor's root."""
    return hashlib.sha256(
        canonical(
            {
                "v": FORMAT_VERSION,
                "prev_root": prev_root,
                "seq_from": seq_from,
                "seq_to": seq_to,
                "count": count,
                "merkle_root": merkle,
            }
        )
    ).hexdigest()


def record_decision(record: Any, points: int | None = None) -> dict[str, Any]:
    """``decision_content`` of a record (a ``Record`` or a row with the same attribute names:
    ``id`` or ``record_id``, and the columns named there)."""
    return decision_content(
        record_id=getattr(record, "record_id", None) or record.id,
        user_id=record.user_id,
        client_event_id=record.client_event_id,
        type=record.type,
        occurred_at=record.occurred_at,
        data=record.data,
        source=record.source,
        partner_id=record.partner_id,
        region=record.region,
        version_id=record.version_id,
        params_hash=record.params_hash,
        reduction_g=record.reduction_g,
        points=record.points if points is None else points,
    )
