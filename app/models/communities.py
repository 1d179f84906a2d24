"""Communities and the behaviours and public goods around them: organisations and their
members, the statistics kept for them, carbon-labelled products and the member codes shown at
a till, and public-good projects with the donations made to them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, CreatedMixin, IdMixin, UTCDateTime


class OrganisationKind(StrEnum):
    COMMUNITY = "community"
    PARK = "park"
    CAMPUS = "campus"
    INSTITUTION = "institution"
    ENTERPRISE = "enterprise"


class Organisation(IdMixin, CreatedMixin, Base):
    __tablename__ = "organisations"
    __table_args__ = (
        Index("ix_organisations_kind_region", "kind", "region"),
        CheckConstraint("member_count >= 0", name="member_count_not_negative"),
    )

    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # an OrganisationKind
    region: Mapped[str] = mapped_column(String(8))
    join_code: Mapped[str] = mapped_column(String(16), unique=True)
    member_count: Mapped[int] = mapped_column(Integer, default=0)
    # Retired: accepts no joins (its join code stops working); statistics stay readable.
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Membership(IdMixin, Base):
    """One period of a citizen's membership: joining opens one, leaving closes it. A citizen
    who joins again gets a new period; records count for the periods they occurred in."""

    __tablename__ = "organisation_memberships"
    __table_args__ = (
        Index("ix_organisation_memberships_user", "user_id", "joined_at"),
        Index("ix_organisation_memberships_org", "organisation_id", "joined_at"),
        # At most one open period per citizen and organisation (the service checks first).
        Index(
            "uq_organisation_memberships_open",
            "organisation_id",
            "user_id",
            unique=True,
            postgresql_where=text("left_at IS NULL"),
            sqlite_where=text("left_at IS NULL"),
        ),
    )

    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime())
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OrganisationCredit(Base):
    """Which organisations a credited record counted for, so that a reversal takes it out of
    exactly those."""

    __tablename__ = "organisation_credits"

    record_id: Mapped[str] = mapped_column(ForeignKey("records.id"), primary_key=True)
    organisation_id: Mapped[str] = mapped_column(
        ForeignKey("organisations.id"), primary_key=True, index=True
    )


class OrganisationDaily(Base):
    """Members' credited records per organisation, local day and methodology, maintained as
    records are credited and reversed. Split into shards by citizen, so that members crediting
    at once seldom wait for the same row; readers sum the shards."""

    __tablename__ = "organisation_daily"

    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True)
    records: Mapped[int] = mapped_column(BigInteger)
    reduction_g: Mapped[int] = mapped_column(BigInteger)
    points: Mapped[int] = mapped_column(BigInteger)


class Product(IdMixin, CreatedMixin, Base):
    """A carbon-labelled product. Its label values never change once published (records are
    recomputed from them); a new label is a new product."""

    __tablename__ = "products"
    __table_args__ = (UniqueConstraint("certifier", "label_id"),)

    name: Mapped[str] = mapped_column(String(200))
    label_id: Mapped[str] = mapped_column(String(100))
    certifier: Mapped[str] = mapped_column(String(200))
    # A Decimal as its canonical text: exact on every backend.
    reduction_g_per_unit: Mapped[str] = mapped_column(String(24))
    source: Mapped[str] = mapped_column(String(500))
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime())
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Retired: not in force from this instant (records that occurred before keep their value).
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class MemberCode(CreatedMixin, Base):
    """A short-lived code a citizen shows at a till; only its keyed hash is stored. Used at
    most once: a conditional UPDATE takes it."""

    __tablename__ = "member_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    merchant_id: Mapped[str | None] = mapped_column(String(36))


class Purchase(IdMixin, CreatedMixin, Base):
    """A till's labelled purchase: one per merchant and client_event_id, with the records it
    made for the citizen."""

    __tablename__ = "purchases"
    __table_args__ = (UniqueConstraint("merchant_id", "client_event_id"),)

    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    client_event_id: Mapped[str] = mapped_column(String(128))
    request_hash: Mapped[str] = mapped_column(String(64))
    staff_id: Mapped[str] = mapped_column(String(36))
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), index=True)
    record_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)


class Project(IdMixin, CreatedMixin, Base):
    """A public-good project citizens donate points to, by whole units."""

    __tablename__ = "projects"
    __table_args__ = (
        CheckConstraint(
            "donated_units >= 0 AND donated_units <= target_units", name="units_in_range"
        ),
        CheckConstraint("points_per_unit > 0", name="positive_price"),
    )

    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    unit_name: Mapped[str] = mapped_column(String(50))
    points_per_unit: Mapped[int] = mapped_column(BigInteger)
    target_units: Mapped[int] = mapped_column(BigInteger)
    donated_units: Mapped[int] = mapped_column(BigInteger, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class Donation(IdMixin, CreatedMixin, Base):
    __tablename__ = "donations"
    __table_args__ = (
        UniqueConstraint("user_id", "idempotency_key"),
        Index("ix_donations_user_created", "user_id", "created_at"),
        CheckConstraint("units > 0 AND points > 0", name="positive"),
    )

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), index=True)
    units: Mapped[int] = mapped_column(BigInteger)
    points: Mapped[int] = mapped_column(BigInteger)
    idempotency_key: Mapped[str] = mapped_column(String(200))
    certificate: Mapped[str] = mapped_column(String(32), unique=True)
    transaction_id: Mapped[str] = mapped_column(ForeignKey("ledger_transactions.id"))
