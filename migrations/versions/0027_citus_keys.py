"""Citus-compatible keys: every key of a tenant table carries shop_id (issue 12).

Sharding by shop with Citus needs every PRIMARY KEY, UNIQUE constraint and unique index of a
distributed table to include the distribution column (shop_id), and every foreign key
between two distributed tables to include it on both sides. `shops`, `install_states` and
`periodic_runs` stay reference/local tables; keys to shops(id) stay as they are.

Both databases: the three unique keys that lacked shop_id now include it
(collection_products, webhook_deliveries x2).

PostgreSQL only: the surrogate primary key `id` of each tenant table becomes (id, shop_id)
(id first, so lookups by id alone still use the key's index; the id sequence is untouched),
and each foreign key between tenant tables becomes (x_id, shop_id) -> t (id, shop_id).
SQLite keeps single-column keys: it only auto-numbers a single-column INTEGER PRIMARY KEY,
and Citus is PostgreSQL. The models declare both forms per dialect (models.tenant_fk).

The lists below were read once from the PostgreSQL catalog at 0026 and are kept as data, so
the downgrade restores exactly those names. At 0026 every one of these foreign keys was
ON DELETE / ON UPDATE NO ACTION and NOT DEFERRABLE; the composite ones keep that. Adding the
composite keys validates existing rows: a row pointing at another shop's row stops it.
Rebuilding the primary key indexes takes an exclusive lock on each table for the build.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

# Tenant tables whose PRIMARY KEY (id) becomes (id, shop_id); the key keeps the name <table>_pkey.
KEYED_TABLES: tuple[str, ...] = (
    "collection_products",
    "collections",
    "customers",
    "data_exports",
    "earning_rules",
    "email_messages",
    "email_templates",
    "email_unsubscribes",
    "imports",
    "ledger_entries",
    "loyalty_events",
    "member_tiers",
    "order_bonuses",
    "order_history",
    "order_lines",
    "order_refunds",
    "orders",
    "redemptions",
    "referral_campaigns",
    "referrals",
    "rewards",
    "tier_changes",
    "tiers",
    "webhook_attempts",
    "webhook_deliveries",
    "webhook_endpoints",
    "webhook_receipts",
)

# Every foreign key between two tenant tables at 0026: (name, table, column, referenced table).
# All reference <referenced table>(id), ON DELETE NO ACTION, NOT DEFERRABLE.
TENANT_FKS: tuple[tuple[str, str, str, str], ...] = (
    (
        "collection_products_collection_id_fkey",
        "collection_products",
        "collection_id",
        "collections",
    ),
    ("customer_scores_customer_id_fkey", "customer_scores", "customer_id", "customers"),
    ("email_messages_customer_id_fkey", "email_messages", "customer_id", "customers"),
    ("email_unsubscribes_customer_id_fkey", "email_unsubscribes", "customer_id", "customers"),
    ("fk_rewards_min_tier", "rewards", "min_tier_id", "tiers"),
    ("ledger_entries_customer_id_fkey", "ledger_entries", "customer_id", "customers"),
    ("ledger_entries_order_id_fkey", "ledger_entries", "order_id", "orders"),
    ("loyalty_events_customer_id_fkey", "loyalty_events", "customer_id", "customers"),
    ("member_tiers_customer_id_fkey", "member_tiers", "customer_id", "customers"),
    ("member_tiers_tier_id_fkey", "member_tiers", "tier_id", "tiers"),
    ("order_bonuses_order_id_fkey", "order_bonuses", "order_id", "orders"),
    ("order_bonuses_rule_id_fkey", "order_bonuses", "rule_id", "earning_rules"),
    ("order_lines_customer_id_fkey", "order_lines", "customer_id", "customers"),
    ("order_lines_order_id_fkey", "order_lines", "order_id", "orders"),
    ("order_refunds_order_id_fkey", "order_refunds", "order_id", "orders"),
    ("orders_customer_id_fkey", "orders", "customer_id", "customers"),
    ("redemptions_customer_id_fkey", "redemptions", "customer_id", "customers"),
    ("redemptions_reward_id_fkey", "redemptions", "reward_id", "rewards"),
    ("referrals_advocate_id_fkey", "referrals", "advocate_id", "customers"),
    ("referrals_advocate_redemption_id_fkey", "referrals", "advocate_redemption_id", "redemptions"),
    ("referrals_campaign_id_fkey", "referrals", "campaign_id", "referral_campaigns"),
    ("referrals_friend_id_fkey", "referrals", "friend_id", "customers"),
    ("referrals_friend_redemption_id_fkey", "referrals", "friend_redemption_id", "redemptions"),
    ("referrals_order_id_fkey", "referrals", "order_id", "orders"),
    ("tier_changes_customer_id_fkey", "tier_changes", "customer_id", "customers"),
    ("tier_changes_from_tier_id_fkey", "tier_changes", "from_tier_id", "tiers"),
    ("tier_changes_to_tier_id_fkey", "tier_changes", "to_tier_id", "tiers"),
    ("webhook_attempts_delivery_id_fkey", "webhook_attempts", "delivery_id", "webhook_deliveries"),
    ("webhook_deliveries_customer_id_fkey", "webhook_deliveries", "customer_id", "customers"),
    (
        "webhook_deliveries_endpoint_id_fkey",
        "webhook_deliveries",
        "endpoint_id",
        "webhook_endpoints",
    ),
    ("widget_use_days_customer_id_fkey", "widget_use_days", "customer_id", "customers"),
)

# The one unnamed unique key at 0026 (SQLite keeps it unnamed; PostgreSQL named it):
# batch mode finds it on SQLite through this convention.
_SQLITE_UQ_NAMES = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _is_postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if _is_postgresql():
        for name, table, _column, _target in TENANT_FKS:
            op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
        for table in KEYED_TABLES:
            op.execute(
                f"ALTER TABLE {table} DROP CONSTRAINT {table}_pkey, "
                f"ADD CONSTRAINT {table}_pkey PRIMARY KEY (id, shop_id)"
            )
        for name, table, column, target in TENANT_FKS:
            op.execute(
                f"ALTER TABLE {table} ADD CONSTRAINT {name} "
                f"FOREIGN KEY ({column}, shop_id) REFERENCES {target} (id, shop_id)"
            )
    with op.batch_alter_table("collection_products") as batch:
        batch.drop_constraint("uq_collection_products", type_="unique")
        batch.create_unique_constraint(
            "uq_collection_products", ["shop_id", "collection_id", "product_ref"]
        )
    old_delivery_key = (
        "webhook_deliveries_delivery_key_key"
        if _is_postgresql()
        else "uq_webhook_deliveries_delivery_key"
    )
    with op.batch_alter_table("webhook_deliveries", naming_convention=_SQLITE_UQ_NAMES) as batch:
        batch.drop_constraint("uq_webhook_deliveries_source", type_="unique")
        batch.drop_constraint(old_delivery_key, type_="unique")
        batch.create_unique_constraint(
            "uq_webhook_deliveries_source", ["shop_id", "endpoint_id", "source_key"]
        )
        # delivery_key first: deliveries are also looked up by their key alone.
        batch.create_unique_constraint(
            "uq_webhook_deliveries_delivery_key", ["delivery_key", "shop_id"]
        )


def downgrade() -> None:
    postgresql = _is_postgresql()
    # SQLite had the delivery key's unique key unnamed, as a column's `unique=True` makes it.
    unique_key = () if postgresql else (sa.Column("delivery_key", sa.String(36), unique=True),)
    with op.batch_alter_table("webhook_deliveries", reflect_args=unique_key) as batch:
        batch.drop_constraint("uq_webhook_deliveries_delivery_key", type_="unique")
        batch.drop_constraint("uq_webhook_deliveries_source", type_="unique")
        batch.create_unique_constraint(
            "uq_webhook_deliveries_source", ["endpoint_id", "source_key"]
        )
        if postgresql:
            batch.create_unique_constraint("webhook_deliveries_delivery_key_key", ["delivery_key"])
    with op.batch_alter_table("collection_products") as batch:
        batch.drop_constraint("uq_collection_products", type_="unique")
        batch.create_unique_constraint("uq_collection_products", ["collection_id", "product_ref"])
    if postgresql:
        for name, table, _column, _target in TENANT_FKS:
            op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
        for table in KEYED_TABLES:
            op.execute(
                f"ALTER TABLE {table} DROP CONSTRAINT {table}_pkey, "
                f"ADD CONSTRAINT {table}_pkey PRIMARY KEY (id)"
            )
        for name, table, column, target in TENANT_FKS:
            op.execute(
                f"ALTER TABLE {table} ADD CONSTRAINT {name} "
                f"FOREIGN KEY ({column}) REFERENCES {target} (id)"
            )
