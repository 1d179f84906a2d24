"""seal and heartbeat: a transaction posted before hashing may be sealed once (its ``hash``
set from NULL, nothing else changed; ``tanhui seal-ledger``); a recompute audit records a
heartbeat, so a run cut off by a restart reads ``interrupted``

Revision ID: 0008_seal_and_heartbeat
Revises: 0007_retire_communities
Create Date: 2026-11-25 19:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0008_seal_and_heartbeat"
down_revision: str | None = "0007_retire_communities"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "audit_runs", sa.Column("heartbeat_at", app.db.UTCDateTime(timezone=True), nullable=True)
    )
    if op.get_bind().dialect.name != "postgresql":
        return
    # Append-only still, with one exception: setting the hash of a transaction that has none,
    # every other column unchanged.
    op.execute(
        """
        CREATE FUNCTION tanhui_refuse_change_but_seal() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP = 'UPDATE' AND OLD.hash IS NULL AND NEW.hash IS NOT NULL
             AND (to_jsonb(NEW) - 'hash') = (to_jsonb(OLD) - 'hash') THEN
            RETURN NEW;
          END IF;
          RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
            USING ERRCODE = 'restrict_violation';
        END $$;
        """
    )
    op.execute("DROP TRIGGER ledger_transactions_append_only ON ledger_transactions")
    op.execute(
        "CREATE TRIGGER ledger_transactions_append_only BEFORE UPDATE OR DELETE "
        "ON ledger_transactions FOR EACH ROW EXECUTE FUNCTION tanhui_refuse_change_but_seal()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER ledger_transactions_append_only ON ledger_transactions")
        op.execute(
            "CREATE TRIGGER ledger_transactions_append_only BEFORE UPDATE OR DELETE "
            "ON ledger_transactions FOR EACH ROW EXECUTE FUNCTION tanhui_refuse_change()"
        )
        op.execute("DROP FUNCTION tanhui_refuse_change_but_seal()")
    op.execute("ALTER TABLE audit_runs DROP COLUMN heartbeat_at")
