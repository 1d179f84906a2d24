"""lots in spending order: the open-lots index carries the id after the expiry, so a spend
walks a citizen's lots one index probe at a time, ties of one expiry included

Revision ID: 0009_lots_in_spending_order
Revises: 0008_seal_and_heartbeat
Create Date: 2026-12-07 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_lots_in_spending_order"
down_revision: str | None = "0008_seal_and_heartbeat"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _open_lots_index(columns: list[str]) -> None:
    with op.batch_alter_table("point_lots", schema=None) as batch_op:
        batch_op.drop_index("ix_point_lots_user_open")
        batch_op.create_index(
            "ix_point_lots_user_open",
            columns,
            unique=False,
            postgresql_where=sa.text("remaining > 0"),
            sqlite_where=sa.text("remaining > 0"),
        )


def upgrade() -> None:
    _open_lots_index(["user_id", "expires_at", "id"])


def downgrade() -> None:
    _open_lots_index(["user_id", "expires_at"])
