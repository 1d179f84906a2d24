from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdMixin, UTCDateTime


class RecordStatus(StrEnum):
    CREDITED = "credited"
    REJECTED = "rejected"
    PENDING_REVIEW = "pending_review"


class RecordSource(StrEnum):
    APP = "app"
    PARTNER = "partner"
    MERCHANT = "merchant"  # a labelled purchase posted by merchant staff at a till


class Reason(StrEnum):
    """The machine-readable codes a record's ``reasons`` may hold. The methodologies in
    ``app.rules`` give the first two as plain strings (rules import nothing); a test holds them
    to this list."""

    IMPLAUSIBLE_SPEED = "implausible_speed"
    IMPLAUSIBLE_AMOUNT = "implausible_amount"
    PRODUCT_NOT_VALID = "product_not_valid"
    TOO_LATE = "too_late"
    IN_FUTURE = "in_future"
    OVERLAPPING_ACTIVITY = "overlapping_activity"
    NEEDS_REVIEW = "needs_review"
    DAILY_CAP_REACHED = "daily_cap_reached"
    REJECTED_BY_REVIEW = "rejected_by_review"
    REVERSED_BY_ADMIN = "reversed_by_admin"


class Record(IdMixin, Base):
    """One behaviour record and its verified result."""

    __tablename__ = "records"
    __table_args__ = (
        UniqueConstraint("user_id", "client_event_id"),
        Index("ix_records_user_received", "user_id", "received_at"),
        Index("ix_records_user_span", "user_id", "span_end"),
        Index("ix_records_type_occurred", "type", "occurred_at"),
        Index("ix_records_status_received", "status", "received_at"),
    )

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    client_event_id: Mapped[str] = mapped_column(String(128))
    content_hash: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(16))  # a RecordSource
    partner_id: Mapped[str | None] = mapped_column(ForeignKey("partners.id"))
    region: Mapped[str | None] = mapped_column(String(8))
    local_day: Mapped[str] = mapped_column(String(10))
    span_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    span_end: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16))  # a RecordStatus
    reasons: Mapped[list[str]] = mapped_column(JSON)  # Reason codes
    reduction_g: Mapped[int] = mapped_column(BigInteger)
    points: Mapped[int] = mapped_column(BigInteger)
    version_id: Mapped[str] = mapped_column(ForeignKey("methodology_versions.id"))
    version: Mapped[int] = mapped_column(Integer)
    params_hash: Mapped[str] = mapped_column(String(64))
    breakdown: Mapped[dict[str, Any]] = mapped_column(JSON)
    transaction_id: Mapped[str | None] = mapped_column(ForeignKey("ledger_transactions.id"))
    decided_by: Mapped[str | None] = mapped_column(String(36))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_note: Mapped[str | None] = mapped_column(Text)
    reversed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def methodology(self) -> dict[str, Any]:
        """The methodology version that decided the record, as the API shows it."""
        return {"code": self.type, "version": self.version}


class DailyUsage(Base):
    """Points credited per user, methodology and local day: the daily-cap counter."""

    __tablename__ = "daily_usage"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    points: Mapped[int] = mapped_column(BigInteger, default=0)
