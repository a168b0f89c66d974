"""Rewards catalog.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from plugin_server.db.types import ExactDecimal, UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "rewards",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("shop_id", BigId, sa.ForeignKey("shops.id"), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("points_cost", sa.Integer()),
        sa.Column("amount", ExactDecimal()),
        sa.Column("percent", ExactDecimal()),
        sa.Column("currency", sa.String(3)),
        sa.Column("points_per_step", sa.Integer()),
        sa.Column("min_points", sa.Integer()),
        sa.Column("max_points", sa.Integer()),
        sa.Column("min_order_subtotal", ExactDecimal()),
        sa.Column("product_ids", sa.Text(), nullable=False),
        sa.Column("collection_ids", sa.Text(), nullable=False),
        sa.Column("code_valid_days", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("archived_at", UTCDateTime()),
    )
    op.create_index("ix_rewards_shop", "rewards", ["shop_id", "archived_at"])


def downgrade() -> None:
    op.drop_index("ix_rewards_shop", table_name="rewards")
    op.drop_table("rewards")
