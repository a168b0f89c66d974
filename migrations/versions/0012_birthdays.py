"""A member's birthday (month and day, set by the shopper) for the birthday bonus.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from plugin_server.db.types import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("birth_month", sa.SmallInteger()))
        batch.add_column(sa.Column("birth_day", sa.SmallInteger()))
        batch.add_column(sa.Column("birthday_set_at", UTCDateTime()))
    op.create_index("ix_customers_birthday", "customers", ["shop_id", "birth_month", "birth_day"])


def downgrade() -> None:
    op.drop_index("ix_customers_birthday", table_name="customers")
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("birthday_set_at")
        batch.drop_column("birth_day")
        batch.drop_column("birth_month")
