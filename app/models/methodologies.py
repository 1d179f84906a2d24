"""Methodologies: dated, immutable parameter versions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, CreatedMixin, IdMixin, UTCDateTime


class MethodologyVersion(IdMixin, CreatedMixin, Base):
    """A dated, immutable set of parameter values for one methodology."""

    __tablename__ = "methodology_versions"
    __table_args__ = (UniqueConstraint("code", "version"),)

    code: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer)
    params: Mapped[str] = mapped_column(Text)  # canonical JSON
    params_hash: Mapped[str] = mapped_column(String(64))
    effective_from: Mapped[datetime] = mapped_column(UTCDateTime())
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(36))
