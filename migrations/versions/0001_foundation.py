"""Foundation: shops, customers, orders, refunds, append-only ledger, webhook receipts.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from plugin_server.db.types import ExactDecimal, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "shops",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("platform", sa.String(20), nullable=False),
        sa.Column("domain", sa.String(255), nullable=False),
        sa.Column("api_key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("access_token_enc", sa.LargeBinary()),
        sa.Column("webhook_secret_enc", sa.LargeBinary()),
        sa.Column("consumer_key_enc", sa.LargeBinary()),
        sa.Column("consumer_secret_enc", sa.LargeBinary()),
        sa.Column("api_base_url", sa.String(255)),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("points_per_unit", ExactDecimal(), nullable=False),
        sa.Column("include_shipping", sa.Boolean(), nullable=False),
        sa.Column("include_tax", sa.Boolean(), nullable=False),
        sa.Column("pending_days", sa.Integer(), nullable=False),
        sa.Column("award_statuses", sa.String(200), nullable=False),
        sa.Column("guests_earn", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("uninstalled_at", UTCDateTime()),
        sa.UniqueConstraint("platform", "domain", name="uq_shops_platform_domain"),
    )
    op.create_table(
        "customers",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("shop_id", BigId, sa.ForeignKey("shops.id"), nullable=False),
        sa.Column("customer_ref", sa.String(400), nullable=False),
        sa.Column("email", sa.String(320)),
        sa.Column("first_name", sa.String(255)),
        sa.Column("last_name", sa.String(255)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("shop_id", "customer_ref", name="uq_customers_shop_ref"),
    )
    op.create_index("ix_customers_shop_email", "customers", ["shop_id", "email"])
    op.create_table(
        "orders",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("shop_id", BigId, sa.ForeignKey("shops.id"), nullable=False),
        sa.Column("order_ref", sa.String(64), nullable=False),
        sa.Column("name", sa.String(64)),
        sa.Column("customer_id", BigId, sa.ForeignKey("customers.id")),
        sa.Column("status", sa.String(40)),
        sa.Column("discount_codes", sa.Text()),
        sa.Column("cancelled", sa.Boolean(), nullable=False),
        sa.Column("fully_refunded", sa.Boolean(), nullable=False),
        sa.Column("refund_count", sa.Integer(), nullable=False),
        sa.Column("earned_points", sa.Integer()),
        sa.Column("earn_skipped_reason", sa.String(100)),
        sa.Column("earning_base", ExactDecimal()),
        sa.Column("earning_rate", ExactDecimal()),
        sa.Column("earn_includes_shipping", sa.Boolean()),
        sa.Column("earn_includes_tax", sa.Boolean()),
        sa.Column("taxes_included", sa.Boolean()),
        sa.Column("currency", sa.String(3)),
        sa.Column("order_total", ExactDecimal()),
        sa.Column("presentment_currency", sa.String(3)),
        sa.Column("presentment_total", ExactDecimal()),
        sa.Column("earn_available_at", UTCDateTime()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("shop_id", "order_ref", name="uq_orders_shop_ref"),
    )
    op.create_table(
        "order_refunds",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("shop_id", BigId, sa.ForeignKey("shops.id"), nullable=False),
        sa.Column("order_id", BigId, sa.ForeignKey("orders.id"), nullable=False),
        sa.Column("refund_ref", sa.String(64), nullable=False),
        sa.Column("lines_subtotal", ExactDecimal(), nullable=False),
        sa.Column("shipping", ExactDecimal(), nullable=False),
        sa.Column("tax", ExactDecimal(), nullable=False),
        sa.Column("amount", ExactDecimal(), nullable=False),
        sa.Column("amount_currency", sa.String(3)),
        sa.Column("has_line_items", sa.Boolean(), nullable=False),
        sa.Column("occurred_at", UTCDateTime()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("shop_id", "order_id", "refund_ref", name="uq_order_refunds_ref"),
    )
    op.create_table(
        "ledger_entries",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("shop_id", BigId, sa.ForeignKey("shops.id"), nullable=False),
        sa.Column("customer_id", BigId, sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("reason", sa.String(255), nullable=False),
        sa.Column("source_type", sa.String(30), nullable=False),
        sa.Column("source_ref", sa.String(64), nullable=False),
        sa.Column("order_id", BigId, sa.ForeignKey("orders.id")),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("available_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("shop_id", "idempotency_key", name="uq_ledger_entries_idempotency"),
    )
    op.create_index(
        "ix_ledger_entries_customer", "ledger_entries", ["shop_id", "customer_id", "id"]
    )
    op.create_index("ix_ledger_entries_order", "ledger_entries", ["order_id"])
    op.create_table(
        "webhook_receipts",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("shop_id", BigId, sa.ForeignKey("shops.id"), nullable=False),
        sa.Column("platform", sa.String(20), nullable=False),
        sa.Column("topic", sa.String(100), nullable=False),
        sa.Column("delivery_id", sa.String(255), nullable=False),
        sa.Column("event_id", sa.String(255)),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text()),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("triggered_at", UTCDateTime()),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("claimed_at", UTCDateTime()),
        sa.Column("processed_at", UTCDateTime()),
        sa.UniqueConstraint("shop_id", "delivery_id", name="uq_webhook_receipts_delivery"),
    )
    op.create_index(
        "ix_webhook_receipts_status", "webhook_receipts", ["status", "next_attempt_at", "id"]
    )

    # The ledger is append-only: corrections are new entries. Enforced by the database, so
    # no code path (or hand-run SQL) can quietly rewrite a shopper's history.
    if op.get_context().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION ledger_entries_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'ledger_entries is append-only (% refused)', TG_OP;
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE "
            "ON ledger_entries FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only()"
        )
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER ledger_entries_no_{action.lower()} BEFORE {action} "
                "ON ledger_entries BEGIN "
                f"SELECT RAISE(ABORT, 'ledger_entries is append-only ({action} refused)'); END"
            )


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP TRIGGER ledger_entries_append_only ON ledger_entries")
        op.execute("DROP FUNCTION ledger_entries_append_only()")
    else:
        op.execute("DROP TRIGGER ledger_entries_no_update")
        op.execute("DROP TRIGGER ledger_entries_no_delete")
    op.drop_index("ix_webhook_receipts_status", table_name="webhook_receipts")
    op.drop_table("webhook_receipts")
    op.drop_index("ix_ledger_entries_order", table_name="ledger_entries")
    op.drop_index("ix_ledger_entries_customer", table_name="ledger_entries")
    op.drop_table("ledger_entries")
    op.drop_table("order_refunds")
    op.drop_table("orders")
    op.drop_index("ix_customers_shop_email", table_name="customers")
    op.drop_table("customers")
    op.drop_table("shops")
