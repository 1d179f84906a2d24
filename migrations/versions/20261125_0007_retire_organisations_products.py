"""retire organisations and labelled products

Revision ID: 0007_retire_communities
Revises: 0006_communities
Create Date: 2026-11-25 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0007_retire_communities"
down_revision: str | None = "0006_communities"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("organisations") as batch:
        batch.add_column(sa.Column("retired_at", app.db.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("products") as batch:
        batch.add_column(sa.Column("retired_at", app.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("products") as batch:
        batch.drop_column("retired_at")
    with op.batch_alter_table("organisations") as batch:
        batch.drop_column("retired_at")
