"""Earning rules beyond orders: sign-up bonus and activities with limits per period.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from plugin_server.db.types import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "earning_rules",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("shop_id", BigId, sa.ForeignKey("shops.id"), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("key", sa.String(50), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("limit_count", sa.Integer()),
        sa.Column("limit_period", sa.String(10)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("archived_at", UTCDateTime()),
        sa.UniqueConstraint("shop_id", "key", name="uq_earning_rules_key"),
    )
    # Counting a member's awards of one rule within a limit's period.
    op.create_index(
        "ix_ledger_entries_source",
        "ledger_entries",
        ["shop_id", "customer_id", "source_type", "source_ref"],
    )


def downgrade() -> None:
    op.drop_index("ix_ledger_entries_source", table_name="ledger_entries")
    op.drop_table("earning_rules")
