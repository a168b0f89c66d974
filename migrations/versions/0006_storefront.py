"""Storefront widget: per-shop widget settings and the public key that signs shopper tokens.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("shops") as batch:
        # JSON: theme colours, text overrides per locale, extra allowed origins.
        batch.add_column(sa.Column("widget_settings", sa.Text()))
        # Ed25519 public key (base64url, 32 bytes) that checks shopper tokens signed by the
        # store (the WooCommerce plugin, or a headless storefront's server).
        batch.add_column(sa.Column("token_public_key", sa.String(64)))


def downgrade() -> None:
    with op.batch_alter_table("shops") as batch:
        batch.drop_column("token_public_key")
        batch.drop_column("widget_settings")
