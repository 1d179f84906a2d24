"""Verified-reduction batches (serial-numbered tonnes of CO2e) and recompute audits."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, CreatedMixin, IdMixin, UTCDateTime

GRAMS_PER_TONNE = 1_000_000


class BatchStatus(StrEnum):
    ISSUED = "issued"
    RETIRED = "retired"
    TRANSFERRED = "transferred"


class AuditRunStatus(StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # its heartbeat stopped: the process running it ended


class BatchSeries(Base):
    """One serial series per platform, region and vintage: the next serial number and the
    grams carried over from the last batch (less than a tonne). Its row is locked while a
    batch of the series is issued, so serials never collide and no gram is carried twice."""

    __tablename__ = "batch_series"
    __table_args__ = (
        CheckConstraint("carry_g >= 0 AND carry_g < 1000000 AND next_serial >= 1", name="in_range"),
    )

    prefix: Mapped[str] = mapped_column(String(40), primary_key=True)  # TANHUI-GD-2026
    next_serial: Mapped[int] = mapped_column(BigInteger)
    carry_g: Mapped[int] = mapped_column(BigInteger)


class ReductionBatch(IdMixin, CreatedMixin, Base):
    """Credited, unreversed records grouped into whole tonnes, each with one serial
    ``<prefix>-<n>`` for n in [serial_from, serial_to]. ``carried_in_g`` came from the
    series' previous batch; ``carried_out_g`` (under a tonne) goes to its next one.
    Issued, then retired or transferred exactly once (a conditional UPDATE)."""

    __tablename__ = "reduction_batches"
    __table_args__ = (
        CheckConstraint("tonnes >= 1 AND serial_to = serial_from + tonnes - 1", name="serials"),
        CheckConstraint("buffer_deduction_g >= 0", name="buffer_non_negative"),
    )

    prefix: Mapped[str] = mapped_column(ForeignKey("batch_series.prefix"))
    serial_from: Mapped[int] = mapped_column(BigInteger)
    serial_to: Mapped[int] = mapped_column(BigInteger)
    tonnes: Mapped[int] = mapped_column(BigInteger)
    reduction_g: Mapped[int] = mapped_column(BigInteger)  # of its own records
    records: Mapped[int] = mapped_column(Integer)
    carried_in_g: Mapped[int] = mapped_column(BigInteger)
    carried_out_g: Mapped[int] = mapped_column(BigInteger)
    buffer_deduction_g: Mapped[int] = mapped_column(BigInteger, default=0)
    methodology: Mapped[str | None] = mapped_column(String(64))
    region: Mapped[str | None] = mapped_column(String(8))
    vintage: Mapped[int] = mapped_column(Integer)
    range_from: Mapped[datetime] = mapped_column(UTCDateTime())
    range_to: Mapped[datetime] = mapped_column(UTCDateTime())
    versions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # methodology versions used
    hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(12), index=True)  # a BatchStatus
    holder: Mapped[str | None] = mapped_column(String(200))
    beneficiary: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    final_note: Mapped[str | None] = mapped_column(Text)
    issued_by: Mapped[str | None] = mapped_column(String(36))
    final_by: Mapped[str | None] = mapped_column(String(36))
    final_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class BatchRecord(Base):
    """A record's membership: the primary key on ``record_id`` makes it unique, so however
    many batches are issued at once a record (and so a gram) is in at most one."""

    __tablename__ = "batch_records"

    record_id: Mapped[str] = mapped_column(ForeignKey("records.id"), primary_key=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("reduction_batches.id"), index=True)
    reduction_g: Mapped[int] = mapped_column(BigInteger)


class AuditRun(IdMixin, CreatedMixin, Base):
    """A recompute audit: its range and filter, progress, and the records that differ."""

    __tablename__ = "audit_runs"

    kind: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(12))  # an AuditRunStatus
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    checked: Mapped[int] = mapped_column(BigInteger, default=0)
    mismatch_count: Mapped[int] = mapped_column(BigInteger, default=0)
    mismatches: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # the first ones, bounded
    error: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[str | None] = mapped_column(String(36))
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # while it runs
