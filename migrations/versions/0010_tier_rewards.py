"""Rewards only a tier (or above) may redeem.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("rewards") as batch:
        batch.add_column(sa.Column("min_tier_id", BigId))
        batch.create_foreign_key("fk_rewards_min_tier", "tiers", ["min_tier_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("rewards") as batch:
        batch.drop_constraint("fk_rewards_min_tier", type_="foreignkey")
        batch.drop_column("min_tier_id")
