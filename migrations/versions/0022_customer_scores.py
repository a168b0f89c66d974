"""Customer scores (RFM, segment, Buy-Till-You-Die inputs) and segment-limited campaigns.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from plugin_server.db.types import ExactDecimal, UTCDateTime

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "customer_scores",
        sa.Column("shop_id", BigId, sa.ForeignKey("shops.id"), primary_key=True),
        sa.Column("customer_id", BigId, sa.ForeignKey("customers.id"), primary_key=True),
        sa.Column("currency", sa.String(3)),
        sa.Column("frequency", sa.Integer(), nullable=False),
        sa.Column("recency_days", sa.Integer()),
        sa.Column("monetary_minor", sa.BigInteger(), nullable=False),
        sa.Column("r_score", sa.SmallInteger()),
        sa.Column("f_score", sa.SmallInteger()),
        sa.Column("m_score", sa.SmallInteger()),
        sa.Column("segment", sa.String(30)),
        sa.Column("tenure_days", sa.Integer(), nullable=False),
        sa.Column("activities", sa.Integer(), nullable=False),
        sa.Column("redemptions", sa.Integer(), nullable=False),
        sa.Column("engagement", sa.Integer(), nullable=False),
        sa.Column("advocacy", sa.Integer(), nullable=False),
        sa.Column("first_order_at", UTCDateTime()),
        sa.Column("last_order_at", UTCDateTime()),
        sa.Column("btyd_x", sa.Integer()),
        sa.Column("btyd_t_x", sa.Integer()),
        sa.Column("btyd_t", sa.Integer()),
        sa.Column("mean_repeat_value_minor", sa.BigInteger()),
        sa.Column("p_alive", ExactDecimal()),
        sa.Column("expected_purchases_30", ExactDecimal()),
        sa.Column("expected_purchases_90", ExactDecimal()),
        sa.Column("predicted_clv_minor", sa.BigInteger()),
        sa.Column("prediction_status", sa.String(20), nullable=False),
        sa.Column("computed_at", UTCDateTime(), nullable=False),
    )
    op.create_index(
        "ix_customer_scores_segment", "customer_scores", ["shop_id", "segment", "customer_id"]
    )
    with op.batch_alter_table("earning_rules") as batch:
        batch.add_column(sa.Column("segments", sa.Text()))


def downgrade() -> None:
    with op.batch_alter_table("earning_rules") as batch:
        batch.drop_column("segments")
    op.drop_index("ix_customer_scores_segment", table_name="customer_scores")
    op.drop_table("customer_scores")
