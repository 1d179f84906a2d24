from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, CreatedMixin, IdMixin, UTCDateTime


class LinkConfirmation(StrEnum):
    PARTNER = "partner"
    NONE = "none"


class LinkStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"


LINK_CONFIRMATIONS = tuple(LinkConfirmation)
LINK_STATUSES = tuple(LinkStatus)


class Partner(IdMixin, CreatedMixin, Base):
    """A data partner. Its secret is derived from the server key and a per-partner salt, so
    the database alone never reveals it; a new salt is a new secret (rotation)."""

    __tablename__ = "partners"

    name: Mapped[str] = mapped_column(String(200))
    key_id: Mapped[str] = mapped_column(String(64), unique=True)
    secret_salt: Mapped[str] = mapped_column(String(64))
    secret_rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    allowed_types: Mapped[list[str]] = mapped_column(JSON)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # "partner": a citizen's link resolves only once the partner confirmed it; "none": the
    # partner vouches that its references cannot be guessed, so links are active at once.
    link_confirmation: Mapped[str] = mapped_column(String(8), default=LinkConfirmation.PARTNER)
    refs_case_sensitive: Mapped[bool] = mapped_column(Boolean, default=True)


class PartnerNonce(Base):
    """Nonces seen inside the timestamp window, for deployments without Redis."""

    __tablename__ = "partner_nonces"

    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id"), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(128), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class UserLink(IdMixin, CreatedMixin, Base):
    """A citizen's external reference at a partner (a transit card, a meter number).

    Several citizens may claim one reference while pending; only one can hold it active,
    which the partial unique index enforces even against concurrent confirmations."""

    __tablename__ = "user_links"
    __table_args__ = (
        Index(
            "uq_user_links_active_ref",
            "partner_id",
            "external_ref",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
        Index("ix_user_links_partner_id_external_ref", "partner_id", "external_ref"),
    )

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id"))
    external_ref: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(8), default=LinkStatus.PENDING)
    # Keyed hash of the one-time code the citizen hands the partner; never the code itself.
    confirmation_hash: Mapped[str | None] = mapped_column(String(64))
    confirmation_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
