"""Collections (Shopify) and categories (WooCommerce) in bonus campaigns and exclusions: the
collections a rule names, and each shop's copy of their products with its sync state.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from plugin_server.db.types import UTCDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("earning_rules") as batch:
        batch.add_column(sa.Column("collection_ids", sa.Text()))
    op.create_table(
        "collections",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("shop_id", BigId, sa.ForeignKey("shops.id"), nullable=False),
        sa.Column("collection_ref", sa.String(64), nullable=False),
        sa.Column("title", sa.String(255)),
        sa.Column("product_count", sa.Integer(), nullable=False),
        sa.Column("synced_at", UTCDateTime()),
        sa.Column("last_attempt_at", UTCDateTime()),
        sa.Column("last_error", sa.Text()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("shop_id", "collection_ref", name="uq_collections_ref"),
    )
    op.create_table(
        "collection_products",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("shop_id", BigId, sa.ForeignKey("shops.id"), nullable=False),
        sa.Column("collection_id", BigId, sa.ForeignKey("collections.id"), nullable=False),
        sa.Column("product_ref", sa.String(64), nullable=False),
        sa.UniqueConstraint("collection_id", "product_ref", name="uq_collection_products"),
    )


def downgrade() -> None:
    op.drop_table("collection_products")
    op.drop_table("collections")
    # A rule that named only collections would name nothing after the downgrade: an
    # exclusion of nothing, or a campaign on every product. Archive those instead.
    op.execute(
        "UPDATE earning_rules SET archived_at = updated_at "
        "WHERE collection_ids IS NOT NULL AND product_ids IS NULL AND archived_at IS NULL"
    )
    with op.batch_alter_table("earning_rules") as batch:
        batch.drop_column("collection_ids")
