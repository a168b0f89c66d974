"""Each shop's fitted Buy-Till-You-Die model (BG/NBD + Gamma-Gamma), for inspection.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-12
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from plugin_server.db.types import UTCDateTime

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "prediction_models",
        sa.Column("shop_id", BigId, sa.ForeignKey("shops.id"), primary_key=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("fitted_at", UTCDateTime(), nullable=False),
        sa.Column("currency", sa.String(3)),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("members_used", sa.Integer(), nullable=False),
        sa.Column("repeat_members_used", sa.Integer(), nullable=False),
        sa.Column("bgnbd_r", sa.Float()),
        sa.Column("bgnbd_alpha", sa.Float()),
        sa.Column("bgnbd_a", sa.Float()),
        sa.Column("bgnbd_b", sa.Float()),
        sa.Column("bgnbd_log_likelihood", sa.Float()),
        sa.Column("spend_status", sa.String(20), nullable=False),
        sa.Column("spend_reason", sa.Text()),
        sa.Column("spend_members_used", sa.Integer(), nullable=False),
        sa.Column("gg_p", sa.Float()),
        sa.Column("gg_q", sa.Float()),
        sa.Column("gg_gamma", sa.Float()),
        sa.Column("gg_log_likelihood", sa.Float()),
        sa.Column("frequency_spend_correlation", sa.Float()),
        sa.Column("clv_months", sa.Integer(), nullable=False),
        sa.Column("monthly_discount_rate", sa.String(12), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("prediction_models")
