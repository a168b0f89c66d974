"""The member index of the ledger carries what balances, expiry and tiers sum, so those
aggregates read the index alone on PostgreSQL (SQLite has no INCLUDE; unchanged there).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

COVERED = ["kind", "points", "available_at", "created_at", "order_id"]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_ledger_entries_customer", table_name="ledger_entries")
    op.create_index(
        "ix_ledger_entries_customer",
        "ledger_entries",
        ["shop_id", "customer_id", "id"],
        postgresql_include=COVERED,
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_ledger_entries_customer", table_name="ledger_entries")
    op.create_index(
        "ix_ledger_entries_customer", "ledger_entries", ["shop_id", "customer_id", "id"]
    )
