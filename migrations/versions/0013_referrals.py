"""Referral campaigns, members' referral codes, referrals, and the order facts that
attribute and check them (the order's email and shipping address, as keys).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from plugin_server.db.types import ExactDecimal, UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "referral_campaigns",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("shop_id", BigId, sa.ForeignKey("shops.id"), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("ends_at", UTCDateTime()),
        sa.Column("friend_discount_kind", sa.String(20), nullable=False),
        sa.Column("friend_discount_value", ExactDecimal(), nullable=False),
        sa.Column("currency", sa.String(3)),
        sa.Column("friend_code_valid_days", sa.Integer(), nullable=False),
        sa.Column("advocate_reward_kind", sa.String(20), nullable=False),
        sa.Column("advocate_points", sa.Integer()),
        sa.Column("advocate_discount_kind", sa.String(20)),
        sa.Column("advocate_discount_value", ExactDecimal()),
        sa.Column("min_order_subtotal", ExactDecimal(), nullable=False),
        sa.Column("advocate_limit", sa.Integer()),
        sa.Column("advocate_period_limit", sa.Integer()),
        sa.Column("advocate_limit_period", sa.String(10)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("archived_at", UTCDateTime()),
    )
    op.create_index("ix_referral_campaigns_shop", "referral_campaigns", ["shop_id", "starts_at"])
    op.create_table(
        "referrals",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("shop_id", BigId, sa.ForeignKey("shops.id"), nullable=False),
        sa.Column("campaign_id", BigId, sa.ForeignKey("referral_campaigns.id"), nullable=False),
        sa.Column("advocate_id", BigId, sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("friend_id", BigId, sa.ForeignKey("customers.id")),
        sa.Column("friend_email_key", sa.String(64)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("flags", sa.String(200), nullable=False),
        sa.Column("attributed_by", sa.String(20)),
        sa.Column("friend_redemption_id", BigId, sa.ForeignKey("redemptions.id")),
        sa.Column("friend_code", sa.String(64)),
        sa.Column("order_id", BigId, sa.ForeignKey("orders.id")),
        sa.Column("order_subtotal", ExactDecimal()),
        sa.Column("qualifies_at", UTCDateTime()),
        sa.Column("claim_address_key", sa.String(64)),
        sa.Column("claim_device_key", sa.String(64)),
        sa.Column("advocate_redemption_id", BigId, sa.ForeignKey("redemptions.id")),
        sa.Column("reviewed_at", UTCDateTime()),
        sa.Column("review_note", sa.String(500)),
        sa.Column("rewarded_at", UTCDateTime()),
        sa.Column("void_reason", sa.String(200)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        # A friend is referred once per shop, and one order qualifies one referral.
        sa.UniqueConstraint("shop_id", "friend_email_key", name="uq_referrals_friend_email"),
        sa.UniqueConstraint("shop_id", "friend_id", name="uq_referrals_friend"),
        sa.UniqueConstraint("shop_id", "order_id", name="uq_referrals_order"),
        sa.UniqueConstraint("shop_id", "friend_code", name="uq_referrals_friend_code"),
    )
    op.create_index("ix_referrals_advocate", "referrals", ["shop_id", "advocate_id", "created_at"])
    op.create_index("ix_referrals_status", "referrals", ["status", "qualifies_at"])
    op.create_index("ix_referrals_claims", "referrals", ["shop_id", "created_at"])
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("referral_code", sa.String(20)))
        batch.create_unique_constraint("uq_customers_referral_code", ["shop_id", "referral_code"])
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("email_key", sa.String(64)))
        batch.add_column(sa.Column("shipping_key", sa.String(64)))
    op.create_index("ix_orders_email_key", "orders", ["shop_id", "email_key"])


def downgrade() -> None:
    op.drop_index("ix_orders_email_key", table_name="orders")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("shipping_key")
        batch.drop_column("email_key")
    with op.batch_alter_table("customers") as batch:
        batch.drop_constraint("uq_customers_referral_code", type_="unique")
        batch.drop_column("referral_code")
    op.drop_index("ix_referrals_claims", table_name="referrals")
    op.drop_index("ix_referrals_status", table_name="referrals")
    op.drop_index("ix_referrals_advocate", table_name="referrals")
    op.drop_table("referrals")
    op.drop_index("ix_referral_campaigns_shop", table_name="referral_campaigns")
    op.drop_table("referral_campaigns")
