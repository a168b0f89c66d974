"""Order lines (what each paid order bought) and products' collections, for offers.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from plugin_server.db.types import ExactDecimal, UTCDateTime

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "order_lines",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("shop_id", BigId, sa.ForeignKey("shops.id"), nullable=False),
        sa.Column("order_ref", sa.String(64), nullable=False),
        sa.Column("order_id", BigId, sa.ForeignKey("orders.id")),
        sa.Column("customer_id", BigId, sa.ForeignKey("customers.id")),
        sa.Column("line_ref", sa.String(64), nullable=False),
        sa.Column("product_ref", sa.String(64), nullable=False),
        sa.Column("variant_ref", sa.String(64)),
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("amount", ExactDecimal(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("ordered_at", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("shop_id", "order_ref", "line_ref", name="uq_order_lines_line"),
    )
    op.create_index(
        "ix_order_lines_customer", "order_lines", ["shop_id", "customer_id", "ordered_at"]
    )
    op.create_index(
        "ix_order_lines_product", "order_lines", ["shop_id", "product_ref", "customer_id"]
    )
    op.create_index("ix_order_lines_ordered", "order_lines", ["shop_id", "ordered_at"])
    op.create_index(
        "ix_collection_products_product", "collection_products", ["shop_id", "product_ref"]
    )


def downgrade() -> None:
    op.drop_index("ix_collection_products_product", table_name="collection_products")
    op.drop_index("ix_order_lines_ordered", table_name="order_lines")
    op.drop_index("ix_order_lines_product", table_name="order_lines")
    op.drop_index("ix_order_lines_customer", table_name="order_lines")
    op.drop_table("order_lines")
