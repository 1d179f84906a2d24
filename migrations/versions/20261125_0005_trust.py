"""trust: transaction hashes, sequence and checkpoints; verified-reduction batches; recompute
audits

Revision ID: 0005_trust
Revises: 0004
Create Date: 2026-11-25 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0005_trust"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        # A volatile default numbers the existing rows as the column is added (no UPDATE, so
        # the append-only trigger is not involved) and every later insert.
        op.execute("CREATE SEQUENCE ledger_transactions_seq_seq AS BIGINT")
        op.execute(
            "ALTER TABLE ledger_transactions ADD COLUMN seq BIGINT "
            "DEFAULT nextval('ledger_transactions_seq_seq')"
        )
        op.execute("ALTER SEQUENCE ledger_transactions_seq_seq OWNED BY ledger_transactions.seq")
    else:
        op.add_column("ledger_transactions", sa.Column("seq", sa.BigInteger(), nullable=True))
        op.execute("UPDATE ledger_transactions SET seq = rowid")
        # SQLite writes one transaction at a time, so the next number is the largest plus one.
        op.execute(
            """
            CREATE TRIGGER ledger_transactions_seq AFTER INSERT ON ledger_transactions
            WHEN NEW.seq IS NULL
            BEGIN
              UPDATE ledger_transactions
              SET seq = (SELECT COALESCE(MAX(seq), 0) + 1 FROM ledger_transactions)
              WHERE rowid = NEW.rowid;
            END
            """
        )
    op.add_column("ledger_transactions", sa.Column("hash", sa.String(64), nullable=True))
    op.add_column("ledger_transactions", sa.Column("decision_hash", sa.String(64), nullable=True))
    op.create_index("ix_ledger_transactions_seq", "ledger_transactions", ["seq"], unique=True)

    op.create_table(
        "ledger_checkpoints",
        sa.Column("seq_from", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("seq_to", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("merkle_root", sa.String(64), nullable=False),
        sa.Column("prev_root", sa.String(64), nullable=True),
        sa.Column("root", sa.String(64), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq_from", name=op.f("pk_ledger_checkpoints")),
        sa.UniqueConstraint("seq_to", name=op.f("uq_ledger_checkpoints_seq_to")),
    )
    op.create_table(
        "batch_series",
        sa.Column("prefix", sa.String(40), nullable=False),
        sa.Column("next_serial", sa.BigInteger(), nullable=False),
        sa.Column("carry_g", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "carry_g >= 0 AND carry_g < 1000000 AND next_serial >= 1",
            name=op.f("ck_batch_series_in_range"),
        ),
        sa.PrimaryKeyConstraint("prefix", name=op.f("pk_batch_series")),
    )
    op.create_table(
        "reduction_batches",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("prefix", sa.String(40), nullable=False),
        sa.Column("serial_from", sa.BigInteger(), nullable=False),
        sa.Column("serial_to", sa.BigInteger(), nullable=False),
        sa.Column("tonnes", sa.BigInteger(), nullable=False),
        sa.Column("reduction_g", sa.BigInteger(), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("carried_in_g", sa.BigInteger(), nullable=False),
        sa.Column("carried_out_g", sa.BigInteger(), nullable=False),
        sa.Column("buffer_deduction_g", sa.BigInteger(), nullable=False),
        sa.Column("methodology", sa.String(64), nullable=True),
        sa.Column("region", sa.String(8), nullable=True),
        sa.Column("vintage", sa.Integer(), nullable=False),
        sa.Column("range_from", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("range_to", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("versions", sa.JSON(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("holder", sa.String(200), nullable=True),
        sa.Column("beneficiary", sa.String(200), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("final_note", sa.Text(), nullable=True),
        sa.Column("issued_by", sa.String(36), nullable=True),
        sa.Column("final_by", sa.String(36), nullable=True),
        sa.Column("final_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "tonnes >= 1 AND serial_to = serial_from + tonnes - 1",
            name=op.f("ck_reduction_batches_serials"),
        ),
        sa.CheckConstraint(
            "buffer_deduction_g >= 0", name=op.f("ck_reduction_batches_buffer_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["prefix"],
            ["batch_series.prefix"],
            name=op.f("fk_reduction_batches_prefix_batch_series"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reduction_batches")),
    )
    op.create_index(
        op.f("ix_reduction_batches_status"), "reduction_batches", ["status"], unique=False
    )
    op.create_table(
        "batch_records",
        sa.Column("record_id", sa.String(36), nullable=False),
        sa.Column("batch_id", sa.String(36), nullable=False),
        sa.Column("reduction_g", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["reduction_batches.id"],
            name=op.f("fk_batch_records_batch_id_reduction_batches"),
        ),
        sa.ForeignKeyConstraint(
            ["record_id"], ["records.id"], name=op.f("fk_batch_records_record_id_records")
        ),
        sa.PrimaryKeyConstraint("record_id", name=op.f("pk_batch_records")),
    )
    op.create_index(op.f("ix_batch_records_batch_id"), "batch_records", ["batch_id"], unique=False)
    op.create_table(
        "audit_runs",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("checked", sa.BigInteger(), nullable=False),
        sa.Column("mismatch_count", sa.BigInteger(), nullable=False),
        sa.Column("mismatches", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("requested_by", sa.String(36), nullable=True),
        sa.Column("finished_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_runs")),
    )
    if postgres:
        for table in ("ledger_checkpoints", "batch_records"):
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION tanhui_refuse_change()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION tanhui_refuse_change()"
            )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        for table in ("ledger_checkpoints", "batch_records"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
    op.drop_table("audit_runs")
    op.drop_index(op.f("ix_batch_records_batch_id"), table_name="batch_records")
    op.drop_table("batch_records")
    op.drop_index(op.f("ix_reduction_batches_status"), table_name="reduction_batches")
    op.drop_table("reduction_batches")
    op.drop_table("batch_series")
    op.drop_table("ledger_checkpoints")
    op.drop_index("ix_ledger_transactions_seq", table_name="ledger_transactions")
    if not postgres:
        op.execute("DROP TRIGGER IF EXISTS ledger_transactions_seq")
    # Plain ALTER TABLE on both backends: rebuilding the table (batch mode) would trip the
    # foreign keys of SQLite's entries, lots and records that point at it.
    for column in ("decision_hash", "hash", "seq"):
        op.execute(f"ALTER TABLE ledger_transactions DROP COLUMN {column}")
