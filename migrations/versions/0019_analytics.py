"""Analytics: daily aggregates per shop (see plugin_server.services.analytics), the
paid time of orders they are keyed by, and the indexes that let the scheduler rebuild one
day at a time.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from plugin_server.db.types import UTCDateTime

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("orders", sa.Column("paid_at", UTCDateTime()))
    # Orders paid before this revision: the time we first stored them is the best we know.
    op.execute("UPDATE orders SET paid_at = created_at WHERE order_total IS NOT NULL")
    op.create_index("ix_orders_paid", "orders", ["shop_id", "paid_at"])
    op.create_index("ix_orders_updated", "orders", ["shop_id", "updated_at"])
    op.create_index("ix_ledger_entries_created", "ledger_entries", ["shop_id", "created_at"])
    op.create_index("ix_ledger_entries_available", "ledger_entries", ["shop_id", "available_at"])
    op.create_index("ix_customers_created", "customers", ["shop_id", "created_at"])
    op.create_table(
        "analytics_days",
        sa.Column("shop_id", BigId, sa.ForeignKey("shops.id"), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("new_members", sa.BigInteger(), nullable=False),
        sa.Column("points_issued", sa.BigInteger(), nullable=False),
        sa.Column("points_reversed", sa.BigInteger(), nullable=False),
        sa.Column("points_redeemed", sa.BigInteger(), nullable=False),
        sa.Column("points_returned", sa.BigInteger(), nullable=False),
        sa.Column("points_expired", sa.BigInteger(), nullable=False),
        sa.Column("points_removed", sa.BigInteger(), nullable=False),
        sa.Column("points_net", sa.BigInteger(), nullable=False),
        sa.Column("tier_ups", sa.BigInteger(), nullable=False),
        sa.Column("tier_downs", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "analytics_member_days",
        sa.Column("shop_id", BigId, sa.ForeignKey("shops.id"), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("customer_id", BigId, primary_key=True),
        sa.Column("earned", sa.Boolean(), nullable=False),
        sa.Column("redeemed", sa.Boolean(), nullable=False),
    )
    op.create_table(
        "analytics_order_days",
        sa.Column("shop_id", BigId, sa.ForeignKey("shops.id"), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("buyer", sa.String(80), primary_key=True),
        sa.Column("currency", sa.String(3), primary_key=True),
        sa.Column("member", sa.Boolean(), nullable=False),
        sa.Column("orders", sa.BigInteger(), nullable=False),
        sa.Column("gross_micros", sa.BigInteger(), nullable=False),
        sa.Column("refunded_micros", sa.BigInteger(), nullable=False),
        sa.Column("reward_orders", sa.BigInteger(), nullable=False),
        sa.Column("reward_micros", sa.BigInteger(), nullable=False),
        sa.Column("referred_orders", sa.BigInteger(), nullable=False),
        sa.Column("referred_micros", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "analytics_referral_days",
        sa.Column("shop_id", BigId, sa.ForeignKey("shops.id"), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("status", sa.String(16), primary_key=True),
        sa.Column("referrals", sa.BigInteger(), nullable=False),
        sa.Column("signed_up", sa.BigInteger(), nullable=False),
        sa.Column("ordered", sa.BigInteger(), nullable=False),
        sa.Column("flagged", sa.BigInteger(), nullable=False),
        sa.Column("approved", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "analytics_state",
        sa.Column("shop_id", BigId, sa.ForeignKey("shops.id"), primary_key=True),
        sa.Column("changes_since", UTCDateTime(), nullable=False),
        sa.Column("built_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "analytics_state",
        "analytics_referral_days",
        "analytics_order_days",
        "analytics_member_days",
        "analytics_days",
    ):
        op.drop_table(table)
    op.drop_index("ix_customers_created", table_name="customers")
    op.drop_index("ix_ledger_entries_available", table_name="ledger_entries")
    op.drop_index("ix_ledger_entries_created", table_name="ledger_entries")
    op.drop_index("ix_orders_updated", table_name="orders")
    op.drop_index("ix_orders_paid", table_name="orders")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("paid_at")
