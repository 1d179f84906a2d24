"""Identity: users, refresh tokens, revoked access tokens."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, CreatedMixin, IdMixin, UTCDateTime


class Role(StrEnum):
    CITIZEN = "citizen"
    MERCHANT = "merchant"
    ADMIN = "admin"
    AUDITOR = "auditor"


ROLES = tuple(Role)


class User(IdMixin, CreatedMixin, Base):
    __tablename__ = "users"

    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default=Role.CITIZEN)
    display_name: Mapped[str | None] = mapped_column(String(100))
    region: Mapped[str | None] = mapped_column(String(8))
    merchant_id: Mapped[str | None] = mapped_column(ForeignKey("merchants.id"), index=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Every token issued before this instant is void (logout-all, disabling, a role change…).
    tokens_valid_after: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    # Set when the citizen erased their identity; the row stays, pseudonymous, because
    # records and ledger accounts refer to it.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class RefreshToken(CreatedMixin, Base):
    """One issued refresh token. ``used_at`` is set exactly once, by the refresh that spends it."""

    __tablename__ = "refresh_tokens"

    jti: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    family_id: Mapped[str] = mapped_column(String(36), index=True)
    access_jti: Mapped[str] = mapped_column(String(36))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class RevokedToken(Base):
    """Revoked access-token ids, for deployments without Redis."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(36), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
