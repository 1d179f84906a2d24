"""The points ledger. Only the ``app.services.ledger`` package writes these tables.

Account ids are deterministic strings (``user:<id>:available``, ``platform:issuance`` …) so a
posting never needs a lookup to find its accounts, and locks can be taken in id order.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, CreatedMixin, IdMixin, UTCDateTime

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets BIGINT identity.
BigId = BigInteger().with_variant(Integer, "sqlite")


class AccountKind(StrEnum):
    ISSUANCE = "issuance"
    AVAILABLE = "available"
    HELD = "held"
    DEBT = "debt"
    MERCHANT = "merchant"
    PROJECT = "project"  # points donated to a public-good project
    EXPIRED = "expired"
    REVERSALS = "reversals"


ACCOUNT_KINDS = tuple(AccountKind)


class TransactionKind(StrEnum):
    CREDIT = "credit"
    DEBT_REPAYMENT = "debt_repayment"
    HOLD = "hold"
    SETTLE = "settle"
    RELEASE = "release"
    REVERSAL = "reversal"
    EXPIRY = "expiry"
    DONATION = "donation"


class CauseType(StrEnum):
    """What a ledger transaction comes from; ``cause_id`` names it."""

    RECORD = "record"  # a credited record (and the repayment of debt from its credit)
    REVERSAL = "reversal"  # a record reversed: its credit taken back
    REDEMPTION = "redemption"  # a redemption code: hold, settle or release
    EXPIRY = "expiry"  # a lot of points expired
    DONATION = "donation"  # points donated to a public-good project


class MismatchKind(StrEnum):
    """What the ledger check found wrong; each kind names its own fields (see
    ``LedgerMismatch`` in the schemas)."""

    BALANCE_DIFFERS_FROM_ENTRIES = "balance_differs_from_entries"
    LAST_BALANCE_AFTER_DIFFERS = "last_balance_after_differs"
    BALANCE_SIGN = "balance_sign"
    TRANSACTION_UNBALANCED = "transaction_unbalanced"
    LOTS_DIFFER_FROM_AVAILABLE = "lots_differ_from_available"
    HOLDS_DIFFER_FROM_HELD = "holds_differ_from_held"
    LOT_DRAWS_DIFFER = "lot_draws_differ"
    SUMMARY_DIFFERS = "summary_differs"
    PROJECT_DIFFERS_FROM_DONATIONS = "project_differs_from_donations"


class HoldStatus(StrEnum):
    HELD = "held"
    SETTLED = "settled"
    RELEASED = "released"


class Account(CreatedMixin, Base):
    """Signed balances: issuance is the only account below zero, a debt account (what a
    citizen owes after a clawback they had already spent) is never above zero, every other
    account is never below zero. The CHECK is a backstop; services refuse first."""

    __tablename__ = "accounts"
    __table_args__ = (
        CheckConstraint(
            "kind = 'issuance' OR (kind = 'debt' AND balance <= 0) "
            "OR (kind NOT IN ('issuance', 'debt') AND balance >= 0)",
            name="balance_sign",
        ),
    )

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    owner_id: Mapped[str | None] = mapped_column(String(36), index=True)
    balance: Mapped[int] = mapped_column(BigInteger, default=0)


class LedgerTransaction(IdMixin, CreatedMixin, Base):
    """``seq`` is given by the database at insert (a sequence on PostgreSQL, a trigger on
    SQLite), so it orders transactions without the posting path asking for it. ``hash`` is
    computed when the transaction is posted, from its own content only (see
    ``app.services.ledger.proofs``): no predecessor, so unrelated postings never wait on each
    other; checkpoints chain them afterwards. ``decision_hash`` seals the record decision a
    credit comes from. Both are NULL on transactions posted before hashing existed, until
    ``tanhui seal-ledger`` gives them their ``hash``."""

    __tablename__ = "ledger_transactions"
    __table_args__ = (Index("ix_ledger_transactions_seq", "seq", unique=True),)

    ref: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(24))
    cause_type: Mapped[CauseType] = mapped_column(String(24))
    cause_id: Mapped[str | None] = mapped_column(String(36))
    user_id: Mapped[str | None] = mapped_column(String(36), index=True)
    memo: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    seq: Mapped[int | None] = mapped_column(BigInteger)
    hash: Mapped[str | None] = mapped_column(String(64))
    decision_hash: Mapped[str | None] = mapped_column(String(64))


class LedgerCheckpoint(Base):
    """A Merkle root over the hashes of the transactions with ``seq`` in
    [``seq_from``, ``seq_to``], chained: ``root`` covers ``prev_root`` (the previous
    checkpoint's ``root``), the range, the count and ``merkle_root``. Append-only."""

    __tablename__ = "ledger_checkpoints"

    seq_from: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    seq_to: Mapped[int] = mapped_column(BigInteger, unique=True)
    count: Mapped[int] = mapped_column(Integer)
    merkle_root: Mapped[str] = mapped_column(String(64))
    prev_root: Mapped[str | None] = mapped_column(String(64))
    root: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LedgerEntry(Base):
    __tablename__ = "ledger_entries"
    __table_args__ = (
        Index("ix_ledger_entries_account_seq", "account_id", "seq"),
        CheckConstraint("amount <> 0", name="nonzero"),
    )

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    transaction_id: Mapped[str] = mapped_column(ForeignKey("ledger_transactions.id"), index=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    balance_after: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PointLot(IdMixin, CreatedMixin, Base):
    """Points credited together, expiring together. ``remaining`` is what is still spendable."""

    __tablename__ = "point_lots"
    __table_args__ = (
        # Only lots with points left are ever looked up by citizen (spending, what expires
        # next): the index stays as small as the unspent points, whatever the history. In
        # spending order, ties of one expiry (a batch's lots) broken by id, so a spend finds
        # each next lot with one probe.
        Index(
            "ix_point_lots_user_open",
            "user_id",
            "expires_at",
            "id",
            postgresql_where=text("remaining > 0"),
            sqlite_where=text("remaining > 0"),
        ),
        CheckConstraint("remaining >= 0 AND remaining <= amount", name="remaining_in_range"),
    )

    user_id: Mapped[str] = mapped_column(String(36))
    transaction_id: Mapped[str] = mapped_column(ForeignKey("ledger_transactions.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    remaining: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class LotDraw(Base):
    """Which lots a debit took points from (and, negative, what a release gave back)."""

    __tablename__ = "lot_draws"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    transaction_id: Mapped[str] = mapped_column(ForeignKey("ledger_transactions.id"), index=True)
    lot_id: Mapped[str] = mapped_column(ForeignKey("point_lots.id"), index=True)
    user_id: Mapped[str] = mapped_column(String(36))
    amount: Mapped[int] = mapped_column(BigInteger)


class Hold(IdMixin, CreatedMixin, Base):
    """A two-phase spend: ``held`` → ``settled`` or ``released``, exactly once."""

    __tablename__ = "holds"
    __table_args__ = (
        UniqueConstraint("ref"),
        CheckConstraint("amount > 0", name="positive"),
    )

    ref: Mapped[str] = mapped_column(String(200))
    user_id: Mapped[str] = mapped_column(String(36), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(12), default=HoldStatus.HELD)
    hold_transaction_id: Mapped[str] = mapped_column(ForeignKey("ledger_transactions.id"))
    final_transaction_id: Mapped[str | None] = mapped_column(ForeignKey("ledger_transactions.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AccountSummary(Base):
    """One citizen's account at a glance, maintained by the ledger's posting path in the same
    transaction as every entry, under the citizen's account locks, so that reading it costs
    one row whatever the citizen's history. ``available``, ``held`` and ``debt`` mirror the
    citizen's three accounts (``debt`` as the positive amount owed); ``lifetime_points`` is
    every point credited, ``lifetime_grams`` the reduction of every credited record that has
    not been reversed. The ledger check recomputes all of them."""

    __tablename__ = "account_summaries"
    __table_args__ = (
        CheckConstraint("available >= 0 AND held >= 0 AND debt >= 0", name="non_negative"),
    )

    user_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    available: Mapped[int] = mapped_column(BigInteger)
    held: Mapped[int] = mapped_column(BigInteger)
    debt: Mapped[int] = mapped_column(BigInteger)
    lifetime_points: Mapped[int] = mapped_column(BigInteger)
    lifetime_grams: Mapped[int] = mapped_column(BigInteger)
