"""Orders by customer: a member's orders are read on every paid order (tier refresh,
referral checks) and per chunk by tier recalculation; without it each read scans the shop.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_orders_customer", "orders", ["shop_id", "customer_id"])


def downgrade() -> None:
    op.drop_index("ix_orders_customer", table_name="orders")
