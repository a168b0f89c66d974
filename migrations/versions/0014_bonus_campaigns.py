"""Bonus campaigns and products that never earn: campaign columns on earning rules, the
bonus an order got, the lines an order excluded, and refunds' lines one by one.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from plugin_server.db.types import ExactDecimal, UTCDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("earning_rules") as batch:
        batch.alter_column("points", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("starts_at", UTCDateTime()))
        batch.add_column(sa.Column("ends_at", UTCDateTime()))
        batch.add_column(sa.Column("multiplier", ExactDecimal()))
        batch.add_column(sa.Column("min_subtotal", ExactDecimal()))
        batch.add_column(sa.Column("product_ids", sa.Text()))
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("excluded_lines", sa.Text()))
    with op.batch_alter_table("order_refunds") as batch:
        batch.add_column(sa.Column("lines", sa.Text()))
    op.create_table(
        "order_bonuses",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("shop_id", BigId, sa.ForeignKey("shops.id"), nullable=False),
        sa.Column("order_id", BigId, sa.ForeignKey("orders.id"), nullable=False),
        sa.Column("rule_id", BigId, sa.ForeignKey("earning_rules.id"), nullable=False),
        sa.Column("base", ExactDecimal(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("includes_shipping", sa.Boolean(), nullable=False),
        sa.Column("line_refs", sa.Text()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("shop_id", "order_id", "rule_id", name="uq_order_bonuses_rule"),
    )


def downgrade() -> None:
    op.drop_table("order_bonuses")
    with op.batch_alter_table("order_refunds") as batch:
        batch.drop_column("lines")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("excluded_lines")
    # Campaigns and exclusions have no points of their own: they leave with their columns.
    op.execute("DELETE FROM earning_rules WHERE kind IN ('bonus', 'exclusion')")
    with op.batch_alter_table("earning_rules") as batch:
        batch.drop_column("product_ids")
        batch.drop_column("min_subtotal")
        batch.drop_column("multiplier")
        batch.drop_column("ends_at")
        batch.drop_column("starts_at")
        batch.alter_column("points", existing_type=sa.Integer(), nullable=False)
