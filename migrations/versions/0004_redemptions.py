"""Redemptions: points turned into a platform discount code.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from plugin_server.db.types import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "redemptions",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("shop_id", BigId, sa.ForeignKey("shops.id"), nullable=False),
        sa.Column("customer_id", BigId, sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("reward_id", BigId, sa.ForeignKey("rewards.id")),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("discount", sa.Text(), nullable=False),
        sa.Column("platform_ref", sa.String(255)),
        sa.Column("idempotency_key", sa.String(100)),
        sa.Column("request_fingerprint", sa.String(64), nullable=False),
        sa.Column("failure_reason", sa.Text()),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("issued_at", UTCDateTime()),
        sa.Column("used_at", UTCDateTime()),
        sa.Column("used_order_ref", sa.String(64)),
        sa.UniqueConstraint("shop_id", "code", name="uq_redemptions_code"),
        sa.UniqueConstraint("shop_id", "idempotency_key", name="uq_redemptions_idempotency"),
    )
    op.create_index("ix_redemptions_customer", "redemptions", ["shop_id", "customer_id"])
    op.create_index("ix_redemptions_status", "redemptions", ["status", "updated_at"])
    # Existing shops get the default: expired codes give their points back.
    with op.batch_alter_table("shops") as batch:
        batch.add_column(
            sa.Column(
                "return_points_on_expiry", sa.Boolean(), nullable=False, server_default=sa.true()
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("shops") as batch:
        batch.drop_column("return_points_on_expiry")
    op.drop_index("ix_redemptions_status", table_name="redemptions")
    op.drop_index("ix_redemptions_customer", table_name="redemptions")
    op.drop_table("redemptions")
