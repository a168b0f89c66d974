"""Points expiry: the shop's policy, loyalty events (expiry reminders) and periodic-run
markers that keep a scheduled duty to once per period across scheduler processes.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from plugin_server.db.types import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("shops") as batch:
        batch.add_column(
            sa.Column("expiry_policy", sa.String(20), nullable=False, server_default="never")
        )
        batch.add_column(
            sa.Column("expiry_months", sa.Integer(), nullable=False, server_default="12")
        )
        batch.add_column(
            sa.Column("expiry_reminder_days", sa.Integer(), nullable=False, server_default="14")
        )
    op.create_table(
        "loyalty_events",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("shop_id", BigId, sa.ForeignKey("shops.id"), nullable=False),
        sa.Column("customer_id", BigId, sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("dedupe_key", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("shop_id", "dedupe_key", name="uq_loyalty_events_dedupe"),
    )
    op.create_index("ix_loyalty_events_customer", "loyalty_events", ["shop_id", "customer_id"])
    op.create_table(
        "periodic_runs",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("started_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("periodic_runs")
    op.drop_index("ix_loyalty_events_customer", table_name="loyalty_events")
    op.drop_table("loyalty_events")
    with op.batch_alter_table("shops") as batch:
        batch.drop_column("expiry_reminder_days")
        batch.drop_column("expiry_months")
        batch.drop_column("expiry_policy")
