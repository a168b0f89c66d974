"""Widget use: the days each member opened the storefront widget, counted in engagement.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "widget_use_days",
        sa.Column("shop_id", BigId, sa.ForeignKey("shops.id"), primary_key=True),
        sa.Column("customer_id", BigId, sa.ForeignKey("customers.id"), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
    )
    with op.batch_alter_table("customer_scores") as batch:
        batch.add_column(sa.Column("widget_days", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("customer_scores") as batch:
        batch.drop_column("widget_days")
    op.drop_table("widget_use_days")
