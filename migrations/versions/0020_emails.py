"""Shopper emails: per-shop settings and templates, unsubscriptions, and the email outbox.

Depends only on 0018 (0019 is written elsewhere; the merge re-chains this one).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from plugin_server.db.types import UTCDateTime

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "email_settings",
        sa.Column("shop_id", BigId, sa.ForeignKey("shops.id"), primary_key=True),
        sa.Column("sender_name", sa.String(100)),
        sa.Column("sender_address", sa.String(320)),
        sa.Column("locale", sa.String(5), nullable=False),
        sa.Column("enabled_types", sa.Text(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "email_templates",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("shop_id", BigId, sa.ForeignKey("shops.id"), nullable=False),
        sa.Column("type", sa.String(30), nullable=False),
        sa.Column("locale", sa.String(5), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text()),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("shop_id", "type", "locale", name="uq_email_templates_type_locale"),
    )
    op.create_table(
        "email_unsubscribes",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("shop_id", BigId, sa.ForeignKey("shops.id"), nullable=False),
        sa.Column("customer_id", BigId, sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("shop_id", "customer_id", name="uq_email_unsubscribes_customer"),
    )
    op.create_table(
        "email_messages",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("shop_id", BigId, sa.ForeignKey("shops.id"), nullable=False),
        sa.Column("customer_id", BigId, sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("type", sa.String(30), nullable=False),
        sa.Column("source_key", sa.String(100), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("locale", sa.String(5)),
        sa.Column("to_address", sa.String(320)),
        sa.Column("subject", sa.Text()),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("lease_expires_at", UTCDateTime()),
        sa.Column("last_error", sa.Text()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime()),
        sa.UniqueConstraint(
            "shop_id", "customer_id", "type", "source_key", name="uq_email_messages_source"
        ),
    )
    op.create_index("ix_email_messages_due", "email_messages", ["status", "next_attempt_at"])
    op.create_index("ix_email_messages_shop", "email_messages", ["shop_id", "id"])
    op.create_index("ix_email_messages_customer", "email_messages", ["shop_id", "customer_id"])


def downgrade() -> None:
    op.drop_index("ix_email_messages_customer", table_name="email_messages")
    op.drop_index("ix_email_messages_shop", table_name="email_messages")
    op.drop_index("ix_email_messages_due", table_name="email_messages")
    op.drop_table("email_messages")
    op.drop_table("email_unsubscribes")
    op.drop_table("email_templates")
    op.drop_table("email_settings")
