"""Install flows: single-use OAuth/wc-auth nonces, and expiring Shopify offline tokens.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from plugin_server.db.types import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "install_states",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("platform", sa.String(20), nullable=False),
        # SHA-256 of the nonce: a database read never yields a usable state.
        sa.Column("nonce_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("shop_domain", sa.String(255), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime()),
    )
    with op.batch_alter_table("shops") as batch:
        batch.add_column(sa.Column("access_token_expires_at", UTCDateTime()))
        batch.add_column(sa.Column("refresh_token_enc", sa.LargeBinary()))
        batch.add_column(sa.Column("refresh_token_expires_at", UTCDateTime()))
        batch.add_column(sa.Column("installed_at", UTCDateTime()))


def downgrade() -> None:
    with op.batch_alter_table("shops") as batch:
        batch.drop_column("installed_at")
        batch.drop_column("refresh_token_expires_at")
        batch.drop_column("refresh_token_enc")
        batch.drop_column("access_token_expires_at")
    op.drop_table("install_states")
