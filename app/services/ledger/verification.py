"""Checking the ledger against its hashes: the live database (``tanhui audit``), and an export
(JSON Lines, ``GET /v1/admin/ledger/export``) offline with no database (``tanhui
verify-export``). Both feed the same ``Verifier`` the same items in ``seq`` order: each
transaction (with its entries, its stored hash and, for a record's credit, the decision it
seals), and each checkpoint right after the last transaction of its range.

What is caught: a transaction or entry changed (its hash no longer matches its content), a
record decision changed (its decision hash no longer matches), a transaction removed from or
added to a checkpointed range, a changed hash (the checkpoint's Merkle root no longer
matches), and a changed or removed checkpoint (the chain of roots breaks). Against an earlier
export kept elsewhere (``--trusted``), a rewrite of everything, checkpoints included, is caught
too: the earlier roots no longer appear.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.db import snapshot_reader, utcnow
from app.models import LedgerEntry, LedgerTransaction, Record
from app.services.ledger import proofs
from app.services.ledger.accounts import table
from app.services.ledger.checkpoints import listing
from app.services.ledger.postings import HASHED_COLUMNS

EXPORT_FORMAT = "tanhui-ledger-export"
TXNS = table(LedgerTransaction).c
ENTRIES = table(LedgerEntry).c
RECORDS = table(Record).c


class Bad(Exception):
    """The first difference found; ``where`` names the line or the row."""

    def __init__(self, where: str, why: str) -> None:
        super().__init__(f"{where}: {why}")
        self.where = where
        self.why = why


@dataclass
class Verifier:
    """Consumes transactions and checkpoints in seq order; raises ``Bad`` on the first
    difference. Memory: the hashes since the last checkpoint (a checkpoint's worth)."""

    trusted: dict[int, dict[str, Any]] = field(default_factory=dict)  # seq_from -> checkpoint
    full: bool = False  # the whole ledger: the first checkpoint starts the chain at seq 1
    transactions: int = 0
    unsealed: int = 0
    checkpoints: int = 0
    last_seq: int | None = None
    last_root: str | None = None
    last_to: int | None = None
    covered_to: int | None = None
    pending: list[tuple[int, str]] = field(default_factory=list)
    seen_trusted: set[int] = field(default_factory=set)

    def transaction(self, item: dict[str, Any], where: str) -> None:
        seq = item.get("seq")
        if not isinstance(seq, int):
            raise Bad(where, f"transaction {item.get('id')} has no sequence number")
        if self.last_seq is not None and seq <= self.last_seq:
            raise Bad(where, f"transaction seq {seq} is not after {self.last_seq}")
        self.last_seq = seq
        decision = item.get("decision")
        if decision is not None:
            if proofs.decision_hash(decision) != item.get("decision_hash"):
                raise Bad(
                    where,
                    f"transaction {item['id']}: the record decision does not match its hash",
                )
        elif item.get("decision_hash") is not None and item.get("decision_missing"):
            raise Bad(where, f"transaction {item['id']}: the record it seals is gone")
        computed = _hash_of(item)
        stored = item.get("hash")
        if stored is None or item.get("sealed") is False:
            self.unsealed += 1
            if stored is not None and stored != computed:
                raise Bad(where, f"transaction {item['id']} does not match its hash")
        elif stored != computed:
            raise Bad(where, f"transaction {item['id']} (seq {seq}) does not match its hash")
        self.transactions += 1
        if self.last_to is not None and seq <= self.last_to:
            raise Bad(where, f"transaction seq {seq} falls inside an earlier checkpoint")
        self.pending.append((seq, computed))

    def checkpoint(self, cp: dict[str, Any], where: str) -> None:
        seq_from, seq_to = cp["seq_from"], cp["seq_to"]
        if self.last_to is not None and seq_from != self.last_to + 1:
            raise Bad(where, f"checkpoint starts at {seq_from}, not after {self.last_to}")
        if self.last_to is not None and cp["prev_root"] != self.last_root:
            raise Bad(where, f"checkpoint {seq_from}..{seq_to} does not chain to the previous")
        if self.last_to is None and self.full:
            if seq_from != 1 or cp["prev_root"] is not None:
                raise Bad(
                    where, f"the first checkpoint starts at {seq_from}, not the chain's start"
                )
        elif self.last_to is None:
            # The first checkpoint of a partial export: transactions before it are not covered.
            self.pending = [(s, h) for s, h in self.pending if s >= seq_from]
        inside = [h for s, h in self.pending if seq_from <= s <= seq_to]
        if len(inside) != len(self.pending):
            raise Bad(where, f"transactions outside checkpoint {seq_from}..{seq_to} precede it")
        merkle = proofs.merkle_root(inside)
        if len(inside) != cp["count"] or merkle != cp["merkle_root"]:
            raise Bad(
                where,
                f"checkpoint {seq_from}..{seq_to}: the transactions of its range do not give its "
                f"Merkle root ({len(inside)} found, {cp['count']} sealed)",
            )
        root = proofs.checkpoint_root(cp["prev_root"], seq_from, seq_to, cp["count"], merkle)
        if root != cp["root"]:
            raise Bad(where, f"checkpoint {seq_from}..{seq_to}: its root does not match")
        if seq_from in self.trusted:
            if self.trusted[seq_from]["root"] != root:
                raise Bad(
                    where,
                    f"checkpoint {seq_from}..{seq_to} differs from the trusted export's",
                )
            self.seen_trusted.add(seq_from)
        self.pending = []
        self.last_to, self.last_root = seq_to, root
        self.checkpoints += 1
        self.covered_to = seq_to

    def finish(self, where: str, first_seq: int | None = None) -> dict[str, Any]:
        for seq_from, cp in sorted(self.trusted.items()):
            inside = (
                self.covered_to is not None
                and seq_from <= self.covered_to
                and (first_seq is None or seq_from >= first_seq)
            )
            if inside and seq_from not in self.seen_trusted:
                raise Bad(
                    where,
                    f"checkpoint {seq_from}..{cp['seq_to']} of the trusted export is missing",
                )
        return {
            "ok": True,
            "transactions": self.transactions,
            "unsealed": self.unsealed,
            "checkpoints": self.checkpoints,
            "last_root": self.last_root,
            "not_yet_checkpointed": len(self.pending),
        }


# ---------------------------------------------------------------------------- the database


async def _items(
    session: AsyncSession, from_seq: int | None, to_seq: int | None
) -> AsyncIterator[dict[str, Any]]:
    """Transactions in seq order with their entries and sealed decisions, one query streamed."""
    query = (
        select(
            TXNS.seq,
            *HASHED_COLUMNS,
            TXNS.hash,
            ENTRIES.account_id,
            ENTRIES.amount,
            ENTRIES.balance_after,
            RECORDS.id.label("record_id"),
            RECORDS.user_id.label("r_user_id"),
            RECORDS.client_event_id,
            RECORDS.type,
            RECORDS.occurred_at,
            RECORDS.data,
            RECORDS.source,
            RECORDS.partner_id,
            RECORDS.region,
            RECORDS.version_id,
            RECORDS.params_hash,
            RECORDS.reduction_g,
            RECORDS.points,
        )
        .select_from(table(LedgerTransaction))
        .outerjoin(table(LedgerEntry), ENTRIES.transaction_id == TXNS.id)
        .outerjoin(
            table(Record), and_(TXNS.decision_hash.is_not(None), RECORDS.id == TXNS.cause_id)
        )
        .where(TXNS.seq.is_not(None))
        .order_by(TXNS.seq, ENTRIES.seq)
        .execution_options(yield_per=2000)
    )
    if from_seq is not None:
        query = query.where(TXNS.seq >= from_seq)
    if to_seq is not None:
        query = query.where(TXNS.seq <= to_seq)
    current: dict[str, Any] | None = None
    async for row in await session.stream(query):
        if current is None or current["seq"] != row.seq:
            if current is not None:
                yield current
            decision = None
            if row.decision_hash is not None and row.record_id is not None:
                decision = proofs.decision_content(
                    record_id=row.record_id,
                    user_id=row.r_user_id,
                    client_event_id=row.client_event_id,
                    type=row.type,
                    occurred_at=row.occurred_at,
                    data=row.data,
                    source=row.source,
                    partner_id=row.partner_id,
                    region=row.region,
                    version_id=row.version_id,
                    params_hash=row.params_hash,
                    reduction_g=row.reduction_g,
                    points=row.points,
                )
            current = {
                "type": "transaction",
                "seq": row.seq,
                "id": row.id,
                "ref": row.ref,
                "kind": row.kind,
                "cause_type": row.cause_type,
                "cause_id": row.cause_id,
                "user_id": row.user_id,
                "memo": row.memo,
                "created_at": proofs.timestamp(row.created_at),
                "decision_hash": row.decision_hash,
                "decision": decision,
                "entries": [],
                "hash": row.hash,
                "sealed": row.hash is not None,
            }
            if row.decision_hash is not None and row.record_id is None:
                current["decision_missing"] = True
        if row.account_id is not None:
            current["entries"].append(
                {
                    "account_id": row.account_id,
                    "amount": row.amount,
                    "balance_after": row.balance_after,
                }
            )
    if current is not None:
        yield current


def _checkpoint_item(cp: Any) -> dict[str, Any]:
    view = cp.view()
    view["created_at"] = proofs.timestamp(view["created_at"])
    return {"type": "checkpoint", **view}


async def export_items(
    session: AsyncSession, from_seq: int | None = None, to_seq: int | None = None
) -> AsyncIterator[dict[str, Any]]:
    """The export in order: a header, the transactions of [from_seq, to_seq], and after the
    last transaction of each checkpoint's range that checkpoint (those wholly inside)."""
    cps = [
        cp
        for cp in await listing(session)
        if (from_seq is None or cp.seq_from >= from_seq) and (to_seq is None or cp.seq_to <= to_seq)
    ]
    yield {
        "type": "header",
        "format": EXPORT_FORMAT,
        "version": proofs.FORMAT_VERSION,
        "from_seq": from_seq,
        "to_seq": to_seq,
        "exported_at": proofs.timestamp(utcnow()),
    }
    i = 0
    async for item in _items(session, from_seq, to_seq):
        while i < len(cps) and cps[i].seq_to < item["seq"]:
            yield _checkpoint_item(cps[i])
            i += 1
        if item["hash"] is None:  # posted before hashing: its content is what is sealed
            item["hash"] = _hash_of(item)
        yield item
    for cp in cps[i:]:
        yield _checkpoint_item(cp)


def _hash_of(item: dict[str, Any]) -> str:
    return proofs.transaction_hash(
        id=item["id"],
        ref=item["ref"],
        kind=item["kind"],
        cause_type=item["cause_type"],
        cause_id=item["cause_id"],
        user_id=item["user_id"],
        memo=item["memo"],
        created_at=item["created_at"],
        decision_hash=item["decision_hash"],
        entries=[(e["account_id"], e["amount"], e["balance_after"]) for e in item["entries"]],
    )


async def export_lines(
    session: AsyncSession, from_seq: int | None = None, to_seq: int | None = None
) -> AsyncIterator[str]:
    async for item in export_items(session, from_seq, to_seq):
        item.pop("decision_missing", None)
        yield json.dumps(item, ensure_ascii=False, sort_keys=True, default=str) + "\n"


async def export_stream(
    engine: AsyncEngine, from_seq: int | None = None, to_seq: int | None = None
) -> AsyncIterator[str]:
    """``export_lines`` on a connection of its own, held while the lines are consumed: one
    snapshot on PostgreSQL (REPEATABLE READ, read only), a deferred read on SQLite."""
    async with snapshot_reader(engine) as conn, AsyncSession(bind=conn) as session:
        async for line in export_lines(session, from_seq, to_seq):
            yield line


async def audit(session: AsyncSession) -> dict[str, Any]:
    """Recompute every hash and checkpoint of the live ledger. ``ok`` is False with the first
    difference in ``problem``."""
    verifier = Verifier(full=True)
    unnumbered = await session.scalar(
        select(func.count()).select_from(table(LedgerTransaction)).where(TXNS.seq.is_(None))
    )
    try:
        if unnumbered:
            raise Bad("ledger_transactions", f"{unnumbered} transactions have no seq")
        async for item in export_items(session):
            if item["type"] == "transaction":
                if item["sealed"] is False:
                    item["hash"] = None
                verifier.transaction(item, f"transaction {item['id']} (seq {item['seq']})")
            elif item["type"] == "checkpoint":
                verifier.checkpoint(item, f"checkpoint {item['seq_from']}..{item['seq_to']}")
        return verifier.finish("ledger")
    except Bad as exc:
        return {
            "ok": False,
            "problem": str(exc),
            "transactions": verifier.transactions,
            "checkpoints": verifier.checkpoints,
        }


# ---------------------------------------------------------------------------- offline


def _parse(lines: Iterable[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError:
            raise Bad(f"line {number}", "not JSON") from None
        if not isinstance(item, dict) or "type" not in item:
            raise Bad(f"line {number}", "not an export item")
        yield number, item


def trusted_checkpoints(lines: Iterable[str]) -> dict[int, dict[str, Any]]:
    """The checkpoints of an earlier export, itself verified first."""
    verify(lines)
    return {item["seq_from"]: item for _, item in _parse(lines) if item["type"] == "checkpoint"}


def verify(
    lines: Iterable[str], trusted: dict[int, dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Verify an export line by line; raises ``Bad`` naming the first bad line."""
    verifier = Verifier(trusted=trusted or {})
    header_seen = False
    number = 0
    first_seq: int | None = None
    for number, item in _parse(lines):
        kind = item["type"]
        where = f"line {number}"
        try:
            if kind == "header":
                if item.get("format") != EXPORT_FORMAT or item.get("version") != 1:
                    raise Bad(where, "not a ledger export of a known version")
                header_seen = True
                first_seq = item.get("from_seq")
                verifier.full = first_seq is None
            elif not header_seen:
                raise Bad(where, "the export has no header")
            elif kind == "transaction":
                verifier.transaction(item, where)
            elif kind == "checkpoint":
                verifier.checkpoint(item, where)
            else:
                raise Bad(where, f"unknown item type {kind!r}")
        except (KeyError, TypeError, ValueError) as exc:
            raise Bad(where, f"malformed {kind}: {exc!r}") from None
    if not header_seen:
        raise Bad(f"line {number or 1}", "the export has no header")
    return verifier.finish(f"line {number} (end)", first_seq)
