from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, CreatedMixin, IdMixin, UTCDateTime


class RedemptionStatus(StrEnum):
    ISSUED = "issued"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class Merchant(IdMixin, CreatedMixin, Base):
    __tablename__ = "merchants"

    name: Mapped[str] = mapped_column(String(200))
    # An inactive merchant offers nothing and settles no code; its issued codes can still be
    # cancelled by their owners, or expire, so no points are stranded.
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class Incentive(IdMixin, CreatedMixin, Base):
    __tablename__ = "incentives"
    __table_args__ = (
        CheckConstraint("stock IS NULL OR stock >= 0", name="stock_not_negative"),
        CheckConstraint("points_cost > 0", name="cost_positive"),
    )

    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    points_cost: Mapped[int] = mapped_column(Integer)
    stock: Mapped[int | None] = mapped_column(Integer)  # units left; None = unlimited
    issued: Mapped[int] = mapped_column(Integer, default=0)
    per_user_limit: Mapped[int | None] = mapped_column(Integer)
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime())
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    code_ttl_days: Mapped[int] = mapped_column(Integer, default=30)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Redemption(IdMixin, CreatedMixin, Base):
    __tablename__ = "redemptions"
    __table_args__ = (
        UniqueConstraint("user_id", "idempotency_key"),
        Index("ix_redemptions_status_expires", "status", "expires_at"),
    )

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    incentive_id: Mapped[str] = mapped_column(ForeignKey("incentives.id"), index=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(200))
    # Keyed hash for lookup at the till, and the code encrypted with a server key so its owner
    # can show it again; neither is usable without the server's secret.
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    code_encrypted: Mapped[str] = mapped_column(String(255))
    code_hint: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(12), default=RedemptionStatus.ISSUED)
    points: Mapped[int] = mapped_column(Integer)
    hold_id: Mapped[str] = mapped_column(ForeignKey("holds.id"))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_by: Mapped[str | None] = mapped_column(String(36))
