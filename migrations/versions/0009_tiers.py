"""VIP tiers: the shop's tiers and how members qualify, each member's current tier, and
the history of tier changes (which also answers "which tier did they hold when this order
was paid").

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from plugin_server.db.types import ExactDecimal, UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("shops") as batch:
        batch.add_column(
            sa.Column("tier_measure", sa.String(20), nullable=False, server_default="points_earned")
        )
        batch.add_column(
            sa.Column("tier_period", sa.String(20), nullable=False, server_default="lifetime")
        )
        batch.add_column(
            sa.Column("tier_downgrade", sa.String(20), nullable=False, server_default="never")
        )
        # Set when tiers or how members qualify change: the scheduler recalculates everyone.
        batch.add_column(sa.Column("tiers_changed_at", UTCDateTime()))
        batch.add_column(sa.Column("tiers_recalculated_at", UTCDateTime()))
    op.create_table(
        "tiers",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("shop_id", BigId, sa.ForeignKey("shops.id"), nullable=False),
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("threshold", ExactDecimal(), nullable=False),
        sa.Column("multiplier", ExactDecimal(), nullable=False),
        sa.Column("entry_points", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("archived_at", UTCDateTime()),
    )
    op.create_index("ix_tiers_shop", "tiers", ["shop_id", "archived_at"])
    op.create_table(
        "member_tiers",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("shop_id", BigId, sa.ForeignKey("shops.id"), nullable=False),
        sa.Column("customer_id", BigId, sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("tier_id", BigId, sa.ForeignKey("tiers.id")),
        sa.Column("reached_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("shop_id", "customer_id", name="uq_member_tiers_customer"),
    )
    op.create_table(
        "tier_changes",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("shop_id", BigId, sa.ForeignKey("shops.id"), nullable=False),
        sa.Column("customer_id", BigId, sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("from_tier_id", BigId, sa.ForeignKey("tiers.id")),
        sa.Column("to_tier_id", BigId, sa.ForeignKey("tiers.id")),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("changed_at", UTCDateTime(), nullable=False),
    )
    op.create_index(
        "ix_tier_changes_customer", "tier_changes", ["shop_id", "customer_id", "changed_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_tier_changes_customer", table_name="tier_changes")
    op.drop_table("tier_changes")
    op.drop_table("member_tiers")
    op.drop_index("ix_tiers_shop", table_name="tiers")
    op.drop_table("tiers")
    with op.batch_alter_table("shops") as batch:
        batch.drop_column("tiers_recalculated_at")
        batch.drop_column("tiers_changed_at")
        batch.drop_column("tier_downgrade")
        batch.drop_column("tier_period")
        batch.drop_column("tier_measure")
