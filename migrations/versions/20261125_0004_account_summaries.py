"""account summaries: each citizen's balances and lifetime totals, maintained by the ledger;
lots indexed by citizen only while they hold points

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "account_summaries",
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("available", sa.BigInteger(), nullable=False),
        sa.Column("held", sa.BigInteger(), nullable=False),
        sa.Column("debt", sa.BigInteger(), nullable=False),
        sa.Column("lifetime_points", sa.BigInteger(), nullable=False),
        sa.Column("lifetime_grams", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "available >= 0 AND held >= 0 AND debt >= 0",
            name=op.f("ck_account_summaries_non_negative"),
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_account_summaries")),
    )
    with op.batch_alter_table("point_lots", schema=None) as batch_op:
        batch_op.drop_index("ix_point_lots_user_expiry")
        batch_op.create_index(
            "ix_point_lots_user_open",
            ["user_id", "expires_at"],
            unique=False,
            postgresql_where=sa.text("remaining > 0"),
            sqlite_where=sa.text("remaining > 0"),
        )
    _backfill()


def _backfill() -> None:
    """Every citizen with accounts or credited records gets the summary the ledger would have
    maintained: balances from their accounts, lifetime points from their credit entries,
    lifetime grams from their credited records that were not reversed."""
    op.execute(
        sa.text(
            """
        INSERT INTO account_summaries
            (user_id, available, held, debt, lifetime_points, lifetime_grams)
        SELECT u.user_id,
            COALESCE((SELECT a.balance FROM accounts a
                      WHERE a.id = 'user:' || u.user_id || :available), 0),
            COALESCE((SELECT a.balance FROM accounts a
                      WHERE a.id = 'user:' || u.user_id || :held), 0),
            -COALESCE((SELECT a.balance FROM accounts a
                       WHERE a.id = 'user:' || u.user_id || :debt), 0),
            COALESCE((SELECT SUM(e.amount) FROM ledger_entries e
                      JOIN ledger_transactions t ON t.id = e.transaction_id
                      WHERE e.account_id = 'user:' || u.user_id || :available
                        AND t.kind = 'credit'), 0),
            COALESCE((SELECT SUM(r.reduction_g) FROM records r
                      WHERE r.user_id = u.user_id AND r.status = 'credited'
                        AND r.reversed_at IS NULL), 0)
        FROM (
            SELECT owner_id AS user_id FROM accounts
            WHERE kind IN ('available', 'held', 'debt')
            UNION
            SELECT user_id FROM records WHERE status = 'credited'
        ) u
        """
        ).bindparams(available=":available", held=":held", debt=":debt")
    )


def downgrade() -> None:
    with op.batch_alter_table("point_lots", schema=None) as batch_op:
        batch_op.drop_index("ix_point_lots_user_open")
        batch_op.create_index("ix_point_lots_user_expiry", ["user_id", "expires_at"], unique=False)
    op.drop_table("account_summaries")
