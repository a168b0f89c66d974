"""Privacy: data exports, receipt subjects, and a guarded way to purge a redacted shop's ledger.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from plugin_server.db.types import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

APPEND_ONLY_PG = """
CREATE OR REPLACE FUNCTION ledger_entries_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND EXISTS (
        SELECT 1 FROM ledger_purges WHERE shop_id = OLD.shop_id
    ) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'ledger_entries is append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql
"""
APPEND_ONLY_PG_0001 = """
CREATE OR REPLACE FUNCTION ledger_entries_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'ledger_entries is append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    op.create_table(
        "data_exports",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("shop_id", BigId, sa.ForeignKey("shops.id"), nullable=False),
        sa.Column("request_ref", sa.String(64), nullable=False),
        sa.Column("customer_ref", sa.String(400), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("shop_id", "request_ref", name="uq_data_exports_request"),
    )
    # Deleting a redacted shop's ledger is the one deletion allowed, and only while a row
    # for that shop sits here inside the purging transaction.
    op.create_table("ledger_purges", sa.Column("shop_id", BigId, primary_key=True))
    with op.batch_alter_table("webhook_receipts") as batch:
        batch.add_column(sa.Column("order_ref", sa.String(64)))
        batch.add_column(sa.Column("customer_ref", sa.String(400)))
    op.create_index("ix_webhook_receipts_subject", "webhook_receipts", ["shop_id", "customer_ref"])
    if op.get_context().dialect.name == "postgresql":
        op.execute(APPEND_ONLY_PG)
    else:
        op.execute("DROP TRIGGER ledger_entries_no_delete")
        op.execute(
            "CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries "
            "WHEN NOT EXISTS (SELECT 1 FROM ledger_purges WHERE shop_id = OLD.shop_id) "
            "BEGIN SELECT RAISE(ABORT, 'ledger_entries is append-only (DELETE refused)'); END"
        )


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(APPEND_ONLY_PG_0001)
    else:
        op.execute("DROP TRIGGER ledger_entries_no_delete")
        op.execute(
            "CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries BEGIN "
            "SELECT RAISE(ABORT, 'ledger_entries is append-only (DELETE refused)'); END"
        )
    op.drop_index("ix_webhook_receipts_subject", table_name="webhook_receipts")
    with op.batch_alter_table("webhook_receipts") as batch:
        batch.drop_column("customer_ref")
        batch.drop_column("order_ref")
    op.drop_table("ledger_purges")
    op.drop_table("data_exports")
