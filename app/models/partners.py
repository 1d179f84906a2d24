from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, CreatedMixin, IdMixin, UTCDateTime


class Partner(IdMixin, CreatedMixin, Base):
    """A data partner. Its secret is derived from the server key and a per-partner salt, so
    the database alone never reveals it."""

    __tablename__ = "partners"

    name: Mapped[str] = mapped_column(String(200))
    key_id: Mapped[str] = mapped_column(String(64), unique=True)
    secret_salt: Mapped[str] = mapped_column(String(64))
    allowed_types: Mapped[list[str]] = mapped_column(JSON)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class PartnerNonce(Base):
    """Nonces seen inside the timestamp window, for deployments without Redis."""

    __tablename__ = "partner_nonces"

    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id"), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(128), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class UserLink(IdMixin, CreatedMixin, Base):
    """A citizen's external reference at a partner (a transit card, a meter number)."""

    __tablename__ = "user_links"
    __table_args__ = (UniqueConstraint("partner_id", "external_ref"),)

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id"))
    external_ref: Mapped[str] = mapped_column(String(200))
