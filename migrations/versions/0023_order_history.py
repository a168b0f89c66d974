"""Order history (backfilled and polled orders, for scoring) and per-shop order sync state.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from plugin_server.db.types import ExactDecimal, UTCDateTime

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "order_history",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("shop_id", BigId, sa.ForeignKey("shops.id"), nullable=False),
        sa.Column("order_ref", sa.String(64), nullable=False),
        sa.Column("name", sa.String(64)),
        sa.Column("customer_ref", sa.String(64)),
        sa.Column("email_key", sa.String(64)),
        sa.Column("status", sa.String(40)),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("subtotal", ExactDecimal(), nullable=False),
        sa.Column("total", ExactDecimal(), nullable=False),
        sa.Column("refunded", ExactDecimal(), nullable=False),
        sa.Column("cancelled", sa.Boolean(), nullable=False),
        sa.Column("placed_at", UTCDateTime(), nullable=False),
        sa.Column("platform_updated_at", UTCDateTime(), nullable=False),
        sa.Column("before_install", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("shop_id", "order_ref", name="uq_order_history_shop_ref"),
    )
    op.create_index("ix_order_history_customer", "order_history", ["shop_id", "customer_ref"])
    op.create_index("ix_order_history_email", "order_history", ["shop_id", "email_key"])
    op.create_index("ix_order_history_placed", "order_history", ["shop_id", "placed_at"])
    op.create_table(
        "order_syncs",
        sa.Column("shop_id", BigId, sa.ForeignKey("shops.id"), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("cursor", sa.Text()),
        sa.Column("watermark", UTCDateTime()),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("orders_read", sa.Integer(), nullable=False),
        sa.Column("before_install", sa.Integer(), nullable=False),
        sa.Column("receipts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text()),
        sa.Column("started_at", UTCDateTime()),
        sa.Column("finished_at", UTCDateTime()),
        sa.Column("next_run_at", UTCDateTime()),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("order_syncs")
    op.drop_index("ix_order_history_placed", table_name="order_history")
    op.drop_index("ix_order_history_email", table_name="order_history")
    op.drop_index("ix_order_history_customer", table_name="order_history")
    op.drop_table("order_history")
