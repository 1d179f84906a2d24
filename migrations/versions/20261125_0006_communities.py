"""communities: organisations, memberships and their maintained statistics; carbon-labelled
products, member codes and till purchases; public-good projects and donations

Revision ID: 0006_communities
Revises: 0005_trust
Create Date: 2026-11-25 16:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0006_communities"
down_revision: str | None = "0005_trust"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "organisations",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("region", sa.String(length=8), nullable=False),
        sa.Column("join_code", sa.String(length=16), nullable=False),
        sa.Column("member_count", sa.Integer(), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "member_count >= 0", name=op.f("ck_organisations_member_count_not_negative")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisations")),
        sa.UniqueConstraint("join_code", name=op.f("uq_organisations_join_code")),
    )
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.create_index("ix_organisations_kind_region", ["kind", "region"], unique=False)

    op.create_table(
        "products",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("label_id", sa.String(length=100), nullable=False),
        sa.Column("certifier", sa.String(length=200), nullable=False),
        sa.Column("reduction_g_per_unit", sa.String(length=24), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("valid_from", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("valid_until", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
        sa.UniqueConstraint("certifier", "label_id", name=op.f("uq_products_certifier_label_id")),
    )
    op.create_table(
        "projects",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("unit_name", sa.String(length=50), nullable=False),
        sa.Column("points_per_unit", sa.BigInteger(), nullable=False),
        sa.Column("target_units", sa.BigInteger(), nullable=False),
        sa.Column("donated_units", sa.BigInteger(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "donated_units >= 0 AND donated_units <= target_units",
            name=op.f("ck_projects_units_in_range"),
        ),
        sa.CheckConstraint("points_per_unit > 0", name=op.f("ck_projects_positive_price")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
    )
    op.create_table(
        "organisation_daily",
        sa.Column("organisation_id", sa.String(length=36), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("records", sa.BigInteger(), nullable=False),
        sa.Column("reduction_g", sa.BigInteger(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_organisation_daily_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint(
            "organisation_id", "day", "code", "shard", name=op.f("pk_organisation_daily")
        ),
    )
    op.create_table(
        "donations",
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=36), nullable=False),
        sa.Column("units", sa.BigInteger(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("certificate", sa.String(length=32), nullable=False),
        sa.Column("transaction_id", sa.String(length=36), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("units > 0 AND points > 0", name=op.f("ck_donations_positive")),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_donations_project_id_projects")
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["ledger_transactions.id"],
            name=op.f("fk_donations_transaction_id_ledger_transactions"),
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_donations_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_donations")),
        sa.UniqueConstraint("certificate", name=op.f("uq_donations_certificate")),
        sa.UniqueConstraint(
            "user_id", "idempotency_key", name=op.f("uq_donations_user_id_idempotency_key")
        ),
    )
    with op.batch_alter_table("donations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_donations_project_id"), ["project_id"], unique=False)
        batch_op.create_index("ix_donations_user_created", ["user_id", "created_at"], unique=False)

    op.create_table(
        "member_codes",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("expires_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("merchant_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_member_codes_user_id_users")
        ),
        sa.PrimaryKeyConstraint("code_hash", name=op.f("pk_member_codes")),
    )
    with op.batch_alter_table("member_codes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_member_codes_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_member_codes_user_id"), ["user_id"], unique=False)

    op.create_table(
        "organisation_memberships",
        sa.Column("organisation_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("joined_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("left_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_organisation_memberships_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_organisation_memberships_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisation_memberships")),
    )
    with op.batch_alter_table("organisation_memberships", schema=None) as batch_op:
        batch_op.create_index(
            "ix_organisation_memberships_org", ["organisation_id", "joined_at"], unique=False
        )
        batch_op.create_index(
            "ix_organisation_memberships_user", ["user_id", "joined_at"], unique=False
        )
        batch_op.create_index(
            "uq_organisation_memberships_open",
            ["organisation_id", "user_id"],
            unique=True,
            postgresql_where=sa.text("left_at IS NULL"),
            sqlite_where=sa.text("left_at IS NULL"),
        )

    op.create_table(
        "purchases",
        sa.Column("merchant_id", sa.String(length=36), nullable=False),
        sa.Column("client_event_id", sa.String(length=128), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=True),
        sa.Column("record_ids", sa.JSON(), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_purchases_merchant_id_merchants")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_purchases_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchases")),
        sa.UniqueConstraint(
            "merchant_id", "client_event_id", name=op.f("uq_purchases_merchant_id_client_event_id")
        ),
    )
    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_purchases_user_id"), ["user_id"], unique=False)

    op.create_table(
        "organisation_credits",
        sa.Column("record_id", sa.String(length=36), nullable=False),
        sa.Column("organisation_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_organisation_credits_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["record_id"], ["records.id"], name=op.f("fk_organisation_credits_record_id_records")
        ),
        sa.PrimaryKeyConstraint(
            "record_id", "organisation_id", name=op.f("pk_organisation_credits")
        ),
    )
    with op.batch_alter_table("organisation_credits", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_organisation_credits_organisation_id"), ["organisation_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("organisation_credits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_organisation_credits_organisation_id"))

    op.drop_table("organisation_credits")
    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_purchases_user_id"))

    op.drop_table("purchases")
    with op.batch_alter_table("organisation_memberships", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_organisation_memberships_open",
            postgresql_where=sa.text("left_at IS NULL"),
            sqlite_where=sa.text("left_at IS NULL"),
        )
        batch_op.drop_index("ix_organisation_memberships_user")
        batch_op.drop_index("ix_organisation_memberships_org")

    op.drop_table("organisation_memberships")
    with op.batch_alter_table("member_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_member_codes_user_id"))
        batch_op.drop_index(batch_op.f("ix_member_codes_expires_at"))

    op.drop_table("member_codes")
    with op.batch_alter_table("donations", schema=None) as batch_op:
        batch_op.drop_index("ix_donations_user_created")
        batch_op.drop_index(batch_op.f("ix_donations_project_id"))

    op.drop_table("donations")
    op.drop_table("organisation_daily")
    op.drop_table("projects")
    op.drop_table("products")
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.drop_index("ix_organisations_kind_region")

    op.drop_table("organisations")
