"""partner links confirmed by the partner, partner and merchant administration

Links gain a status (pending until the partner confirms a one-time code) and the one
reference of a partner may be active for one citizen only (a partial unique index, so
several citizens may claim a reference while pending). Partners gain their link rule, the
case rule of their references and the time of the last secret rotation; merchants can be
deactivated.

Links made before this revision stay active: they were the only kind, and citizens must not
lose their partner credits on upgrade. Those whose reference has the form of a user id are
removed: they could only ever serve to take another citizen's records.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 09:00:00
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _is_user_id(ref: str) -> bool:
    try:
        uuid.UUID(ref.strip())
    except ValueError:
        return False
    return True


def upgrade() -> None:
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("secret_rotated_at", app.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "link_confirmation",
                sa.String(length=8),
                nullable=False,
                server_default="partner",
            )
        )
        batch_op.add_column(
            sa.Column("refs_case_sensitive", sa.Boolean(), nullable=False, server_default=sa.true())
        )

    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("is_active", sa.Boolean(), nullable=False, server_default=sa.true())
        )

    links = sa.table("user_links", sa.column("id", sa.String), sa.column("external_ref", sa.String))
    bind = op.get_bind()
    hijacks = [row.id for row in bind.execute(sa.select(links)) if _is_user_id(row.external_ref)]
    if hijacks:
        bind.execute(sa.delete(links).where(links.c.id.in_(hijacks)))

    with op.batch_alter_table("user_links", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=8), nullable=False, server_default="active")
        )
        batch_op.add_column(sa.Column("confirmation_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("confirmation_expires_at", app.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("confirmed_at", app.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.drop_constraint("uq_user_links_partner_id_external_ref", type_="unique")
    # Existing rows were active; new ones must say what they are.
    with op.batch_alter_table("user_links", schema=None) as batch_op:
        batch_op.alter_column("status", server_default=None)
        batch_op.create_index(
            "ix_user_links_partner_id_external_ref", ["partner_id", "external_ref"], unique=False
        )
        batch_op.create_index(
            "uq_user_links_active_ref",
            ["partner_id", "external_ref"],
            unique=True,
            sqlite_where=sa.text("status = 'active'"),
            postgresql_where=sa.text("status = 'active'"),
        )


def downgrade() -> None:
    op.execute("DELETE FROM user_links WHERE status <> 'active'")
    with op.batch_alter_table("user_links", schema=None) as batch_op:
        batch_op.drop_index("uq_user_links_active_ref")
        batch_op.drop_index("ix_user_links_partner_id_external_ref")
        batch_op.create_unique_constraint(
            "uq_user_links_partner_id_external_ref", ["partner_id", "external_ref"]
        )
        batch_op.drop_column("confirmed_at")
        batch_op.drop_column("confirmation_expires_at")
        batch_op.drop_column("confirmation_hash")
        batch_op.drop_column("status")
    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.drop_column("is_active")
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.drop_column("refs_case_sensitive")
        batch_op.drop_column("link_confirmation")
        batch_op.drop_column("secret_rotated_at")
