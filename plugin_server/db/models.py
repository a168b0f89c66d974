"""Tables. Every tenant-owned row carries `shop_id`; every query filters on it.

Citus-compatible (migration 0027, tests/integration/test_citus_compatible.py): every key of
a tenant table includes shop_id. On PostgreSQL the surrogate primary keys are (id, shop_id)
and keys between tenant tables are (x_id, shop_id) -> t (id, shop_id); the models keep `id`
alone as the primary key (the ORM's identity, and SQLite's auto-numbered rowid, which is
why SQLite keeps single-column keys) and declare each foreign key per dialect (tenant_fk).
So PostgreSQL schemas come from the migrations only: `create_all` there would lack the
(id, shop_id) keys the foreign keys point at (SQLite's `create_all`, used by a benchmark,
is fine).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, deferred, mapped_column

from plugin_server.db.types import ExactDecimal, UTCDateTime

# 64-bit keys on PostgreSQL; SQLite only auto-increments a column declared INTEGER.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    pass


def tenant_fk(
    table: str, column: str, target: str, *, name: str | None = None
) -> tuple[ForeignKeyConstraint, ForeignKeyConstraint]:
    """A foreign key from one tenant table to another, in each database's form.

    PostgreSQL: (column, shop_id) -> target (id, shop_id), so Citus can co-locate both
    tables by shop (migration 0027). SQLite: column -> target (id). Each is created only on
    its own dialect (`ddl_if`), and migrate.include_object compares only that one.
    """
    return (
        ForeignKeyConstraint(
            [column, "shop_id"],
            [f"{target}.id", f"{target}.shop_id"],
            name=name or f"{table}_{column}_fkey",
        ).ddl_if(dialect="postgresql"),
        ForeignKeyConstraint([column], [f"{target}.id"], name=name).ddl_if(dialect="sqlite"),
    )


class Shop(Base):
    __tablename__ = "shops"
    __table_args__ = (UniqueConstraint("platform", "domain", name="uq_shops_platform_domain"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    platform: Mapped[str] = mapped_column(String(20))
    domain: Mapped[str] = mapped_column(String(255))
    api_key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    access_token_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Expiring offline tokens (Shopify): refreshed shortly before they run out.
    access_token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    refresh_token_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    refresh_token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    installed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    widget_settings: Mapped[str | None] = mapped_column(Text)  # JSON
    token_public_key: Mapped[str | None] = mapped_column(String(64))
    webhook_secret_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    consumer_key_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    consumer_secret_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    api_base_url: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Program settings (earning rules).
    points_per_unit: Mapped[Decimal] = mapped_column(ExactDecimal, default=Decimal("1"))
    include_shipping: Mapped[bool] = mapped_column(Boolean, default=False)
    include_tax: Mapped[bool] = mapped_column(Boolean, default=False)
    pending_days: Mapped[int] = mapped_column(Integer, default=0)
    award_statuses: Mapped[str] = mapped_column(String(200))  # comma-separated
    guests_earn: Mapped[bool] = mapped_column(Boolean, default=False)
    # A redeemed code that expires unused gives its points back.
    return_points_on_expiry: Mapped[bool] = mapped_column(Boolean, default=True)
    # Points expiry (plugin_server.domain.expiry): never, inactivity or batch.
    expiry_policy: Mapped[str] = mapped_column(String(20), default="never")
    expiry_months: Mapped[int] = mapped_column(Integer, default=12)
    expiry_reminder_days: Mapped[int] = mapped_column(Integer, default=14)
    # VIP tiers (plugin_server.domain.tiers): what qualifies, over which period, and
    # whether members ever move down.
    tier_measure: Mapped[str] = mapped_column(String(20), default="points_earned")
    tier_period: Mapped[str] = mapped_column(String(20), default="lifetime")
    tier_downgrade: Mapped[str] = mapped_column(String(20), default="never")
    # Tiers or how members qualify changed at; everyone recalculated up to.
    tiers_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    tiers_recalculated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    uninstalled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (
        UniqueConstraint("shop_id", "customer_ref", name="uq_customers_shop_ref"),
        Index("ix_customers_shop_email", "shop_id", "email"),
        Index("ix_customers_birthday", "shop_id", "birth_month", "birth_day"),
        UniqueConstraint("shop_id", "referral_code", name="uq_customers_referral_code"),
        Index("ix_customers_created", "shop_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    # The platform's customer id, or "guest:<email>" for a guest who earns by email.
    customer_ref: Mapped[str] = mapped_column(String(400))
    email: Mapped[str | None] = mapped_column(String(320))
    first_name: Mapped[str | None] = mapped_column(String(255))
    last_name: Mapped[str | None] = mapped_column(String(255))
    # Set by the shopper (storefront); no year is asked for or kept.
    birth_month: Mapped[int | None] = mapped_column(SmallInteger)
    birth_day: Mapped[int | None] = mapped_column(SmallInteger)
    birthday_set_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The member's own code for referring friends; given the first time it is asked for.
    referral_code: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Order(Base):
    """What we know about one platform order, and the earning snapshot once it was paid."""

    __tablename__ = "orders"
    __table_args__ = (
        *tenant_fk(__tablename__, "customer_id", "customers"),
        UniqueConstraint("shop_id", "order_ref", name="uq_orders_shop_ref"),
        Index("ix_orders_email_key", "shop_id", "email_key"),
        Index("ix_orders_customer", "shop_id", "customer_id"),
        # Analytics: orders by the day they were paid, and those changed since a build.
        Index("ix_orders_paid", "shop_id", "paid_at"),
        Index("ix_orders_updated", "shop_id", "updated_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    order_ref: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(64))
    customer_id: Mapped[int | None] = mapped_column(BigId)
    status: Mapped[str | None] = mapped_column(String(40))
    discount_codes: Mapped[str | None] = mapped_column(Text)  # newline-separated
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)
    fully_refunded: Mapped[bool] = mapped_column(Boolean, default=False)
    refund_count: Mapped[int] = mapped_column(Integer, default=0)
    # Earning snapshot: NULL until the order reached a state that awards points.
    earned_points: Mapped[int | None] = mapped_column(Integer)
    earn_skipped_reason: Mapped[str | None] = mapped_column(String(100))
    earning_base: Mapped[Decimal | None] = mapped_column(ExactDecimal)
    earning_rate: Mapped[Decimal | None] = mapped_column(ExactDecimal)
    earn_includes_shipping: Mapped[bool | None] = mapped_column(Boolean)
    earn_includes_tax: Mapped[bool | None] = mapped_column(Boolean)
    taxes_included: Mapped[bool | None] = mapped_column(Boolean)
    currency: Mapped[str | None] = mapped_column(String(3))
    order_total: Mapped[Decimal | None] = mapped_column(ExactDecimal)
    presentment_currency: Mapped[str | None] = mapped_column(String(3))
    presentment_total: Mapped[Decimal | None] = mapped_column(ExactDecimal)
    earn_available_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the platform says the order was paid (NULL until then): analytics' order day.
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Digests of the buyer's normalised email and shipping address: referrals compare them
    # (a friend who is not new, a self-referral) without keeping the address itself.
    email_key: Mapped[str | None] = mapped_column(String(64))
    shipping_key: Mapped[str | None] = mapped_column(String(64))
    # Line refs that earned nothing (excluded products), JSON; NULL: none.
    excluded_lines: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OrderBonus(Base):
    """The bonus campaign an order got, and on what: refunds take it back from this
    snapshot, as they take the order's own points back from the order's."""

    __tablename__ = "order_bonuses"
    __table_args__ = (
        *tenant_fk(__tablename__, "order_id", "orders"),
        *tenant_fk(__tablename__, "rule_id", "earning_rules"),
        UniqueConstraint("shop_id", "order_id", "rule_id", name="uq_order_bonuses_rule"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    order_id: Mapped[int] = mapped_column(BigId)
    rule_id: Mapped[int] = mapped_column(BigId)
    base: Mapped[Decimal] = mapped_column(ExactDecimal)
    points: Mapped[int] = mapped_column(Integer)
    includes_shipping: Mapped[bool] = mapped_column(Boolean)
    # The qualifying line refs, JSON; NULL: every line that earned.
    line_refs: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OrderLine(Base):
    """One product line of a paid order, as the order's webhook (or, for an order placed
    before the install, the store's order history) described it: what the offers
    recommender reads. Written once per line, never changed: refunds stay in
    `order_refunds`."""

    __tablename__ = "order_lines"
    __table_args__ = (
        *tenant_fk(__tablename__, "customer_id", "customers"),
        *tenant_fk(__tablename__, "order_id", "orders"),
        UniqueConstraint("shop_id", "order_ref", "line_ref", name="uq_order_lines_line"),
        # A member's own purchases, newest first; who else bought a product; recent lines.
        Index("ix_order_lines_customer", "shop_id", "customer_id", "ordered_at"),
        Index("ix_order_lines_product", "shop_id", "product_ref", "customer_id"),
        Index("ix_order_lines_ordered", "shop_id", "ordered_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    order_ref: Mapped[str] = mapped_column(String(64))
    # NULL: an order known only from the store's history (placed before the install).
    order_id: Mapped[int | None] = mapped_column(BigId)
    customer_id: Mapped[int | None] = mapped_column(BigId)
    line_ref: Mapped[str] = mapped_column(String(64))
    product_ref: Mapped[str] = mapped_column(String(64))
    variant_ref: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(255))
    quantity: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(ExactDecimal)  # the line's subtotal
    currency: Mapped[str] = mapped_column(String(3))
    ordered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OrderRefund(Base):
    """A refund's facts, kept even when it arrives before the order it belongs to."""

    __tablename__ = "order_refunds"
    __table_args__ = (
        *tenant_fk(__tablename__, "order_id", "orders"),
        UniqueConstraint("shop_id", "order_id", "refund_ref", name="uq_order_refunds_ref"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    order_id: Mapped[int] = mapped_column(BigId)
    refund_ref: Mapped[str] = mapped_column(String(64))
    lines_subtotal: Mapped[Decimal] = mapped_column(ExactDecimal)
    shipping: Mapped[Decimal] = mapped_column(ExactDecimal)
    tax: Mapped[Decimal] = mapped_column(ExactDecimal)
    amount: Mapped[Decimal] = mapped_column(ExactDecimal)
    amount_currency: Mapped[str | None] = mapped_column(String(3))
    has_line_items: Mapped[bool] = mapped_column(Boolean)
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The refunded lines, JSON [[line_ref, subtotal, tax], ...]; NULL: not known one by one.
    lines: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LedgerEntry(Base):
    """Append-only: a database trigger refuses UPDATE and DELETE on this table."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        *tenant_fk(__tablename__, "customer_id", "customers"),
        *tenant_fk(__tablename__, "order_id", "orders"),
        UniqueConstraint("shop_id", "idempotency_key", name="uq_ledger_entries_idempotency"),
        # Covers the per-member aggregates (balance, expiry, tiers) on PostgreSQL.
        Index(
            "ix_ledger_entries_customer",
            "shop_id",
            "customer_id",
            "id",
            postgresql_include=["kind", "points", "available_at", "created_at", "order_id"],
        ),
        Index("ix_ledger_entries_order", "order_id"),
        Index("ix_ledger_entries_source", "shop_id", "customer_id", "source_type", "source_ref"),
        # Analytics: one day's entries (rebuilding a day), and points still pending at a time.
        Index("ix_ledger_entries_created", "shop_id", "created_at"),
        Index("ix_ledger_entries_available", "shop_id", "available_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    customer_id: Mapped[int] = mapped_column(BigId)
    points: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(30))
    reason: Mapped[str] = mapped_column(String(255))
    source_type: Mapped[str] = mapped_column(String(30))
    source_ref: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[int | None] = mapped_column(BigId)
    idempotency_key: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    available_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WebhookReceipt(Base):
    """A verified delivery, stored before we answer the platform."""

    __tablename__ = "webhook_receipts"
    __table_args__ = (
        UniqueConstraint("shop_id", "delivery_id", name="uq_webhook_receipts_delivery"),
        Index("ix_webhook_receipts_status", "status", "next_attempt_at", "id"),
        Index("ix_webhook_receipts_subject", "shop_id", "customer_ref"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    platform: Mapped[str] = mapped_column(String(20))
    topic: Mapped[str] = mapped_column(String(100))
    delivery_id: Mapped[str] = mapped_column(String(255))
    event_id: Mapped[str | None] = mapped_column(String(255))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    # pending -> processing (claimed by a drain) -> processed | ignored | failed
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    triggered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Whom the delivery was about, noted when applied, so a redaction can find its bodies.
    order_ref: Mapped[str | None] = mapped_column(String(64))
    customer_ref: Mapped[str | None] = mapped_column(String(400))


class Reward(Base):
    """A catalog entry: what a shopper can turn points into. Archived, never deleted."""

    __tablename__ = "rewards"
    __table_args__ = (
        Index("ix_rewards_shop", "shop_id", "archived_at"),
        *tenant_fk(__tablename__, "min_tier_id", "tiers", name="fk_rewards_min_tier"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(30))
    points_cost: Mapped[int | None] = mapped_column(Integer)
    amount: Mapped[Decimal | None] = mapped_column(ExactDecimal)
    percent: Mapped[Decimal | None] = mapped_column(ExactDecimal)
    currency: Mapped[str | None] = mapped_column(String(3))
    points_per_step: Mapped[int | None] = mapped_column(Integer)
    min_points: Mapped[int | None] = mapped_column(Integer)
    max_points: Mapped[int | None] = mapped_column(Integer)
    min_order_subtotal: Mapped[Decimal | None] = mapped_column(ExactDecimal)
    product_ids: Mapped[str] = mapped_column(Text)  # JSON list
    collection_ids: Mapped[str] = mapped_column(Text)  # JSON list
    code_valid_days: Mapped[int] = mapped_column(Integer)
    # Only members at this tier or above may redeem it (NULL: everyone).
    min_tier_id: Mapped[int | None] = mapped_column(BigId)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DataExport(Base):
    """What we held on a customer when the platform asked (customers/data_request)."""

    __tablename__ = "data_exports"
    __table_args__ = (UniqueConstraint("shop_id", "request_ref", name="uq_data_exports_request"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    request_ref: Mapped[str] = mapped_column(String(64))
    customer_ref: Mapped[str] = mapped_column(String(400))
    payload: Mapped[str] = mapped_column(Text)  # JSON
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LedgerPurge(Base):
    """Present only inside the transaction that deletes a redacted shop's ledger."""

    __tablename__ = "ledger_purges"

    shop_id: Mapped[int] = mapped_column(BigId, primary_key=True)


class Redemption(Base):
    """Points turned into a single-use discount code at the platform.

    pending (points taken, code not yet confirmed by the platform) -> issued -> used |
    expired; or pending -> failed (the platform refused: the points came back).
    """

    __tablename__ = "redemptions"
    __table_args__ = (
        *tenant_fk(__tablename__, "customer_id", "customers"),
        *tenant_fk(__tablename__, "reward_id", "rewards"),
        UniqueConstraint("shop_id", "code", name="uq_redemptions_code"),
        UniqueConstraint("shop_id", "idempotency_key", name="uq_redemptions_idempotency"),
        Index("ix_redemptions_customer", "shop_id", "customer_id"),
        Index("ix_redemptions_status", "status", "updated_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    customer_id: Mapped[int] = mapped_column(BigId)
    reward_id: Mapped[int | None] = mapped_column(BigId)
    points: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    discount: Mapped[str] = mapped_column(Text)  # JSON: what the code gives, fixed at redemption
    platform_ref: Mapped[str | None] = mapped_column(String(255))
    idempotency_key: Mapped[str | None] = mapped_column(String(100))
    request_fingerprint: Mapped[str] = mapped_column(String(64))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_order_ref: Mapped[str | None] = mapped_column(String(64))


class InstallState(Base):
    """A single-use nonce for one install attempt (Shopify `state`, WooCommerce `user_id`)."""

    __tablename__ = "install_states"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    platform: Mapped[str] = mapped_column(String(20))
    nonce_hash: Mapped[str] = mapped_column(String(64), unique=True)
    shop_domain: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoyaltyEvent(Base):
    """Something a shopper should hear about (e.g. points about to expire), written once
    per `dedupe_key`; the notifications work delivers them."""

    __tablename__ = "loyalty_events"
    __table_args__ = (
        *tenant_fk(__tablename__, "customer_id", "customers"),
        UniqueConstraint("shop_id", "dedupe_key", name="uq_loyalty_events_dedupe"),
        Index("ix_loyalty_events_customer", "shop_id", "customer_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    customer_id: Mapped[int] = mapped_column(BigId)
    kind: Mapped[str] = mapped_column(String(40))
    payload: Mapped[str] = mapped_column(Text)  # JSON
    dedupe_key: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PeriodicRun(Base):
    """A scheduled duty's claim on one period ("points-expiry:2026-12-03T08"): the first
    scheduler to insert it runs the duty, any other finds it taken."""

    __tablename__ = "periodic_runs"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)


class EarningRule(Base):
    """A way to earn besides orders (sign-up, activities), a bonus campaign on orders, or
    products that never earn. Archived, never deleted: the ledger entries it made keep
    naming it."""

    __tablename__ = "earning_rules"
    __table_args__ = (UniqueConstraint("shop_id", "key", name="uq_earning_rules_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    kind: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(50))
    name: Mapped[str] = mapped_column(String(100))
    points: Mapped[int | None] = mapped_column(Integer)  # NULL: a multiplier or exclusion
    limit_count: Mapped[int | None] = mapped_column(Integer)
    limit_period: Mapped[str | None] = mapped_column(String(10))
    # Bonus campaigns: orders paid in [starts_at, ends_at) earn `multiplier` times their
    # points or `points` more; exclusions and campaigns name platform product ids.
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    multiplier: Mapped[Decimal | None] = mapped_column(ExactDecimal)
    min_subtotal: Mapped[Decimal | None] = mapped_column(ExactDecimal)
    product_ids: Mapped[str | None] = mapped_column(Text)  # JSON list of strings
    # Collections (WooCommerce: categories) whose products the rule names too; JSON list.
    collection_ids: Mapped[str | None] = mapped_column(Text)
    # Bonus campaigns: only members in these segments (plugin_server.domain.segments) as
    # last computed get the bonus; JSON list; NULL: every member.
    segments: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Collection(Base):
    """The shop's copy of one collection (Shopify) or product category (WooCommerce) that an
    order rule names: its sync state here, its products in `collection_products`. A failed
    sync leaves the products of the last successful one in place."""

    __tablename__ = "collections"
    __table_args__ = (UniqueConstraint("shop_id", "collection_ref", name="uq_collections_ref"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    collection_ref: Mapped[str] = mapped_column(String(64))  # the platform's id
    title: Mapped[str | None] = mapped_column(String(255))
    product_count: Mapped[int] = mapped_column(Integer, default=0)
    synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # last success
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)  # of the last attempt; NULL: it worked
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CollectionProduct(Base):
    """One product of a collection, as of the collection's last successful sync."""

    __tablename__ = "collection_products"
    __table_args__ = (
        *tenant_fk(__tablename__, "collection_id", "collections"),
        UniqueConstraint("shop_id", "collection_id", "product_ref", name="uq_collection_products"),
        # The collections a product is in (offers: collections a member buys from).
        Index("ix_collection_products_product", "shop_id", "product_ref"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    collection_id: Mapped[int] = mapped_column(BigId)
    product_ref: Mapped[str] = mapped_column(String(64))


class Tier(Base):
    """A VIP tier: reached at `threshold` of the shop's measure. Archived, never deleted."""

    __tablename__ = "tiers"
    __table_args__ = (Index("ix_tiers_shop", "shop_id", "archived_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    name: Mapped[str] = mapped_column(String(50))
    threshold: Mapped[Decimal] = mapped_column(ExactDecimal)
    multiplier: Mapped[Decimal] = mapped_column(ExactDecimal)
    entry_points: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MemberTier(Base):
    """A member's current tier (NULL: none yet) and since when."""

    __tablename__ = "member_tiers"
    __table_args__ = (
        UniqueConstraint("shop_id", "customer_id", name="uq_member_tiers_customer"),
        *tenant_fk(__tablename__, "customer_id", "customers"),
        *tenant_fk(__tablename__, "tier_id", "tiers"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    customer_id: Mapped[int] = mapped_column(BigId)
    tier_id: Mapped[int | None] = mapped_column(BigId)
    reached_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TierChange(Base):
    """Append-only history of tier changes: the events, and the tier held at any moment."""

    __tablename__ = "tier_changes"
    __table_args__ = (
        Index("ix_tier_changes_customer", "shop_id", "customer_id", "changed_at"),
        *tenant_fk(__tablename__, "customer_id", "customers"),
        *tenant_fk(__tablename__, "from_tier_id", "tiers"),
        *tenant_fk(__tablename__, "to_tier_id", "tiers"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    customer_id: Mapped[int] = mapped_column(BigId)
    from_tier_id: Mapped[int | None] = mapped_column(BigId)
    to_tier_id: Mapped[int | None] = mapped_column(BigId)
    reason: Mapped[str] = mapped_column(String(40))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReferralCampaign(Base):
    """What a referral gives the friend (a discount code) and the advocate (points or a
    code), when, and how often. Archived, never deleted: referrals keep naming it."""

    __tablename__ = "referral_campaigns"
    __table_args__ = (Index("ix_referral_campaigns_shop", "shop_id", "starts_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    name: Mapped[str] = mapped_column(String(100))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    friend_discount_kind: Mapped[str] = mapped_column(String(20))
    friend_discount_value: Mapped[Decimal] = mapped_column(ExactDecimal)
    currency: Mapped[str | None] = mapped_column(String(3))  # of fixed amounts
    friend_code_valid_days: Mapped[int] = mapped_column(Integer)
    advocate_reward_kind: Mapped[str] = mapped_column(String(20))
    advocate_points: Mapped[int | None] = mapped_column(Integer)
    advocate_discount_kind: Mapped[str | None] = mapped_column(String(20))
    advocate_discount_value: Mapped[Decimal | None] = mapped_column(ExactDecimal)
    min_order_subtotal: Mapped[Decimal] = mapped_column(ExactDecimal)
    advocate_limit: Mapped[int | None] = mapped_column(Integer)
    advocate_period_limit: Mapped[int | None] = mapped_column(Integer)
    advocate_limit_period: Mapped[str | None] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Referral(Base):
    """One friend referred by one advocate.

    claimed (the friend has a code) -> pending (first qualifying order paid; its pending
    period runs) -> rewarded; or -> flagged (held for review) -> pending | rejected; or
    pending/flagged -> voided (the order was refunded or cancelled within the period).
    """

    __tablename__ = "referrals"
    __table_args__ = (
        *tenant_fk(__tablename__, "advocate_id", "customers"),
        *tenant_fk(__tablename__, "advocate_redemption_id", "redemptions"),
        *tenant_fk(__tablename__, "campaign_id", "referral_campaigns"),
        *tenant_fk(__tablename__, "friend_id", "customers"),
        *tenant_fk(__tablename__, "friend_redemption_id", "redemptions"),
        *tenant_fk(__tablename__, "order_id", "orders"),
        UniqueConstraint("shop_id", "friend_email_key", name="uq_referrals_friend_email"),
        UniqueConstraint("shop_id", "friend_id", name="uq_referrals_friend"),
        UniqueConstraint("shop_id", "order_id", name="uq_referrals_order"),
        UniqueConstraint("shop_id", "friend_code", name="uq_referrals_friend_code"),
        Index("ix_referrals_advocate", "shop_id", "advocate_id", "created_at"),
        Index("ix_referrals_status", "status", "qualifies_at"),
        Index("ix_referrals_claims", "shop_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    campaign_id: Mapped[int] = mapped_column(BigId)
    advocate_id: Mapped[int] = mapped_column(BigId)
    friend_id: Mapped[int | None] = mapped_column(BigId)
    friend_email_key: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    flags: Mapped[str] = mapped_column(String(200))  # comma-separated
    attributed_by: Mapped[str | None] = mapped_column(String(20))
    friend_redemption_id: Mapped[int | None] = mapped_column(BigId)
    friend_code: Mapped[str | None] = mapped_column(String(64))
    order_id: Mapped[int | None] = mapped_column(BigId)
    order_subtotal: Mapped[Decimal | None] = mapped_column(ExactDecimal)
    qualifies_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claim_address_key: Mapped[str | None] = mapped_column(String(64))
    claim_device_key: Mapped[str | None] = mapped_column(String(64))
    advocate_redemption_id: Mapped[int | None] = mapped_column(BigId)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    review_note: Mapped[str | None] = mapped_column(String(500))
    rewarded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    void_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Import(Base):
    """A CSV import of members and points, and how far it got.

    pending -> running (batches committed one by one; `last_line` is the last file line
    whose row is committed) -> completed. A run that stopped stays running and resumes
    after `last_line`. The file is kept until the import completes, then dropped: the
    ledger entries (one per row, keyed by the import's fingerprint and line) remain.
    """

    __tablename__ = "imports"
    __table_args__ = (
        UniqueConstraint("shop_id", "fingerprint", name="uq_imports_fingerprint"),
        Index("ix_imports_shop", "shop_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    name: Mapped[str] = mapped_column(String(255))
    layout: Mapped[str] = mapped_column(String(20))
    mode: Mapped[str] = mapped_column(String(10))
    # SHA-256 of the mode and the file: the same file imported again is the same import.
    fingerprint: Mapped[str] = mapped_column(String(64))
    skip_invalid: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(16))
    content: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    total_rows: Mapped[int] = mapped_column(Integer)
    problem_count: Mapped[int] = mapped_column(Integer)
    problems: Mapped[str] = mapped_column(Text)  # JSON: the first problems found
    last_line: Mapped[int] = mapped_column(Integer)
    rows_imported: Mapped[int] = mapped_column(Integer)
    rows_unchanged: Mapped[int] = mapped_column(Integer)
    rows_skipped: Mapped[int] = mapped_column(Integer)
    members_created: Mapped[int] = mapped_column(Integer)
    points_added: Mapped[int] = mapped_column(BigInteger)
    points_removed: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebhookEndpoint(Base):
    """A URL of the merchant's own systems that receives signed events on its topics.
    Deleting one keeps the row (its delivery log still names it) with `deleted_at` set."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index("ix_webhook_endpoints_shop", "shop_id", "active"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str | None] = mapped_column(String(255))
    topics: Mapped[str] = mapped_column(Text)  # comma-separated
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Encrypted with the credential cipher; shown to the merchant only when made.
    secret_enc: Mapped[bytes] = mapped_column(LargeBinary)
    # After a rotation deliveries are signed with both until this one stops being honoured.
    previous_secret_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebhookDelivery(Base):
    """The outbox: one event for one endpoint, written in the transaction that wrote the
    event, and its delivery state.

    pending -> delivering (claimed by a worker until `lease_expires_at`) -> succeeded |
    pending (retry at `next_attempt_at`) | failed (attempts used up, or the endpoint went
    away). A claim whose lease ran out (the worker died) is taken again as if pending.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        *tenant_fk(__tablename__, "customer_id", "customers"),
        *tenant_fk(__tablename__, "endpoint_id", "webhook_endpoints"),
        # One delivery per endpoint and source row: publishing twice adds nothing.
        UniqueConstraint(
            "shop_id", "endpoint_id", "source_key", name="uq_webhook_deliveries_source"
        ),
        # delivery_key first: deliveries are also looked up by their key alone.
        UniqueConstraint("delivery_key", "shop_id", name="uq_webhook_deliveries_delivery_key"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_shop", "shop_id", "endpoint_id", "id"),
        Index("ix_webhook_deliveries_customer", "shop_id", "customer_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    endpoint_id: Mapped[int] = mapped_column(BigId)
    # The same for every endpoint that gets the event (the envelope's `id`).
    event_id: Mapped[str] = mapped_column(String(36))
    # This delivery's own id (`X-Loyalty-Delivery`), kept across retries and replays.
    delivery_key: Mapped[str] = mapped_column(String(36))
    topic: Mapped[str] = mapped_column(String(40))
    source_key: Mapped[str] = mapped_column(String(100))
    # Whom the event is about (NULL: a ping), so a customer's redaction can remove it.
    customer_id: Mapped[int | None] = mapped_column(BigId)
    body: Mapped[str] = mapped_column(Text)  # the exact JSON text that is signed
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # `attempts` when the merchant last replayed it: each replay grants a new round of
    # retries, counted from here.
    attempts_at_replay: Mapped[int] = mapped_column(Integer, default=0)
    redelivery: Mapped[bool] = mapped_column(Boolean, default=False)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claim_token: Mapped[str | None] = mapped_column(String(32))
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_duration_ms: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebhookAttempt(Base):
    """Append-only log of each HTTP attempt of a delivery."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (
        Index("ix_webhook_attempts_delivery", "delivery_id", "attempt"),
        *tenant_fk(__tablename__, "delivery_id", "webhook_deliveries"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    delivery_id: Mapped[int] = mapped_column(BigId)
    attempt: Mapped[int] = mapped_column(Integer)
    redelivery: Mapped[bool] = mapped_column(Boolean)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_ms: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    succeeded: Mapped[bool] = mapped_column(Boolean)


class EmailSettings(Base):
    """A shop's shopper emails: sender, language, and which kinds are on (no row: defaults)."""

    __tablename__ = "email_settings"

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), primary_key=True)
    sender_name: Mapped[str | None] = mapped_column(String(100))
    sender_address: Mapped[str | None] = mapped_column(String(320))
    locale: Mapped[str] = mapped_column(String(5))
    enabled_types: Mapped[str] = mapped_column(Text)  # comma-separated
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class EmailTemplate(Base):
    """The merchant's own version of one email in one language (none: the default text)."""

    __tablename__ = "email_templates"
    __table_args__ = (
        UniqueConstraint("shop_id", "type", "locale", name="uq_email_templates_type_locale"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    type: Mapped[str] = mapped_column(String(30))
    locale: Mapped[str] = mapped_column(String(5))
    subject: Mapped[str] = mapped_column(Text)
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class EmailUnsubscribe(Base):
    """A shopper who asked for no more emails from this shop (through the signed link)."""

    __tablename__ = "email_unsubscribes"
    __table_args__ = (
        *tenant_fk(__tablename__, "customer_id", "customers"),
        UniqueConstraint("shop_id", "customer_id", name="uq_email_unsubscribes_customer"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    customer_id: Mapped[int] = mapped_column(BigId)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class EmailMessage(Base):
    """The email outbox: one email about one event to one shopper, written in the
    transaction that wrote the event, and its sending state.

    pending -> sending (claimed; committed before the SMTP conversation) -> sent |
    pending (retry at `next_attempt_at`) | failed (attempts used up, or a claim that never
    finished: it may have gone out, so it is not sent again) | skipped (unsubscribed, no
    address, or the kind was switched off before it went out).
    """

    __tablename__ = "email_messages"
    __table_args__ = (
        *tenant_fk(__tablename__, "customer_id", "customers"),
        # One email per event and shopper: publishing twice adds nothing.
        UniqueConstraint(
            "shop_id", "customer_id", "type", "source_key", name="uq_email_messages_source"
        ),
        Index("ix_email_messages_due", "status", "next_attempt_at"),
        Index("ix_email_messages_shop", "shop_id", "id"),
        Index("ix_email_messages_customer", "shop_id", "customer_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    customer_id: Mapped[int] = mapped_column(BigId)
    type: Mapped[str] = mapped_column(String(30))
    source_key: Mapped[str] = mapped_column(String(100))
    data: Mapped[str] = mapped_column(Text)  # JSON: the event's facts for the template
    # Filled when it is rendered for sending.
    locale: Mapped[str | None] = mapped_column(String(5))
    to_address: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AdminLinkNonce(Base):
    """The `jti` of each signed admin-app link a WooCommerce store has used: a link opens
    the admin app once. Rows past `expires_at` prove nothing any more and are deleted."""

    __tablename__ = "admin_link_nonces"
    __table_args__ = (Index("ix_admin_link_nonces_expires", "expires_at"),)

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), primary_key=True)
    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime] = mapped_column(UTCDateTime)


# --- analytics (plugin_server.services.analytics) ---------------------------------------
# Daily aggregates, each row a pure function of the source rows of its (shop, day): the
# scheduler deletes and recomputes whole days, so building incrementally and rebuilding
# from scratch write the same rows. Money is in integer millionths of the currency unit
# (ExactDecimal keeps 6 places), so sums are exact integer sums on both databases.


class AnalyticsDay(Base):
    """Per shop and UTC day: members who joined, points by kind (by the day the entry was
    written), and tier moves."""

    __tablename__ = "analytics_days"

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    new_members: Mapped[int] = mapped_column(BigInteger)
    points_issued: Mapped[int] = mapped_column(BigInteger)
    points_reversed: Mapped[int] = mapped_column(BigInteger)
    points_redeemed: Mapped[int] = mapped_column(BigInteger)
    points_returned: Mapped[int] = mapped_column(BigInteger)
    points_expired: Mapped[int] = mapped_column(BigInteger)
    points_removed: Mapped[int] = mapped_column(BigInteger)
    points_net: Mapped[int] = mapped_column(BigInteger)
    tier_ups: Mapped[int] = mapped_column(BigInteger)
    tier_downs: Mapped[int] = mapped_column(BigInteger)


class AnalyticsMemberDay(Base):
    """A member who earned or redeemed points on a day."""

    __tablename__ = "analytics_member_days"

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    earned: Mapped[bool] = mapped_column(Boolean)
    redeemed: Mapped[bool] = mapped_column(Boolean)


class AnalyticsOrderDay(Base):
    """One buyer's paid orders of a day in one currency. `buyer`: "m:<customer id>" for a
    member, "g:<email key>" for a guest, "o:<order id>" for a guest without an email."""

    __tablename__ = "analytics_order_days"

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    buyer: Mapped[str] = mapped_column(String(80), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    member: Mapped[bool] = mapped_column(Boolean)
    orders: Mapped[int] = mapped_column(BigInteger)
    gross_micros: Mapped[int] = mapped_column(BigInteger)
    refunded_micros: Mapped[int] = mapped_column(BigInteger)
    reward_orders: Mapped[int] = mapped_column(BigInteger)
    reward_micros: Mapped[int] = mapped_column(BigInteger)
    referred_orders: Mapped[int] = mapped_column(BigInteger)
    referred_micros: Mapped[int] = mapped_column(BigInteger)


class AnalyticsReferralDay(Base):
    """Referrals claimed on a day, by their status now."""

    __tablename__ = "analytics_referral_days"

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    referrals: Mapped[int] = mapped_column(BigInteger)
    signed_up: Mapped[int] = mapped_column(BigInteger)
    ordered: Mapped[int] = mapped_column(BigInteger)
    flagged: Mapped[int] = mapped_column(BigInteger)
    approved: Mapped[int] = mapped_column(BigInteger)


class AnalyticsState(Base):
    """How far a shop's aggregates are built: changes at or after `changes_since` are still
    to be looked at (the next build starts there, less a safety margin)."""

    __tablename__ = "analytics_state"

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), primary_key=True)
    changes_since: Mapped[datetime] = mapped_column(UTCDateTime)
    built_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OrderHistory(Base):
    """Every order the store reported when its orders were read (history backfill and
    reconciliation polls), for scoring members on their whole purchase history.

    Never a source of points: orders placed before the install (`before_install`) exist
    only here; later ones are applied through the webhook receipts like any delivery."""

    __tablename__ = "order_history"
    __table_args__ = (
        UniqueConstraint("shop_id", "order_ref", name="uq_order_history_shop_ref"),
        Index("ix_order_history_customer", "shop_id", "customer_ref"),
        Index("ix_order_history_email", "shop_id", "email_key"),
        Index("ix_order_history_placed", "shop_id", "placed_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    order_ref: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(64))
    customer_ref: Mapped[str | None] = mapped_column(String(64))  # NULL: a guest checkout
    email_key: Mapped[str | None] = mapped_column(String(64))  # digest, as on orders
    status: Mapped[str | None] = mapped_column(String(40))
    currency: Mapped[str] = mapped_column(String(3))
    subtotal: Mapped[Decimal] = mapped_column(ExactDecimal)
    total: Mapped[Decimal] = mapped_column(ExactDecimal)
    refunded: Mapped[Decimal] = mapped_column(ExactDecimal)
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    platform_updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    before_install: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OrderSync(Base):
    """Where a shop's order reading got to: the history backfill's cursor (resumed after a
    crash) and the reconciliation poll's watermark and schedule."""

    __tablename__ = "order_syncs"

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # backfill | reconcile
    # idle -> running -> completed | failed (a failed backfill resumes from `cursor`)
    status: Mapped[str] = mapped_column(String(16))
    cursor: Mapped[str | None] = mapped_column(Text)  # Shopify endCursor, WooCommerce page
    watermark: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pages: Mapped[int] = mapped_column(Integer, default=0)
    orders_read: Mapped[int] = mapped_column(Integer, default=0)
    before_install: Mapped[int] = mapped_column(Integer, default=0)
    receipts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CustomerScore(Base):
    """A member's RFM scores and segment, and the inputs of a Buy-Till-You-Die model, as
    the last recompute (plugin_server.services.scores) found them. Days are whole UTC
    calendar days; money is in minor units of `currency` (the shop's currency)."""

    __tablename__ = "customer_scores"
    __table_args__ = (
        Index("ix_customer_scores_segment", "shop_id", "segment", "customer_id"),
        *tenant_fk(__tablename__, "customer_id", "customers"),
    )

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    currency: Mapped[str | None] = mapped_column(String(3))
    # Counted orders: paid, not cancelled, not fully refunded.
    frequency: Mapped[int] = mapped_column(Integer)
    recency_days: Mapped[int | None] = mapped_column(Integer)  # NULL: no counted order
    # Net of refunds, orders in `currency` only.
    monetary_minor: Mapped[int] = mapped_column(BigInteger)
    r_score: Mapped[int | None] = mapped_column(SmallInteger)
    f_score: Mapped[int | None] = mapped_column(SmallInteger)
    m_score: Mapped[int | None] = mapped_column(SmallInteger)
    segment: Mapped[str | None] = mapped_column(String(30))
    tenure_days: Mapped[int] = mapped_column(Integer)
    activities: Mapped[int] = mapped_column(Integer)
    redemptions: Mapped[int] = mapped_column(Integer)
    engagement: Mapped[int] = mapped_column(Integer)
    # Days the member opened the widget in the last 90 (part of engagement).
    widget_days: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    advocacy: Mapped[int] = mapped_column(Integer)
    first_order_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_order_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Buy-Till-You-Die inputs (one purchase a day at most): repeat days, the first to the
    # last purchase day, the first purchase day to the computation's day.
    btyd_x: Mapped[int | None] = mapped_column(Integer)
    btyd_t_x: Mapped[int | None] = mapped_column(Integer)
    btyd_t: Mapped[int | None] = mapped_column(Integer)
    mean_repeat_value_minor: Mapped[int | None] = mapped_column(BigInteger)
    # Written by the prediction step (plugin_server.domain.clv); NULL until then.
    p_alive: Mapped[Decimal | None] = mapped_column(ExactDecimal)
    expected_purchases_30: Mapped[Decimal | None] = mapped_column(ExactDecimal)
    expected_purchases_90: Mapped[Decimal | None] = mapped_column(ExactDecimal)
    predicted_clv_minor: Mapped[int | None] = mapped_column(BigInteger)
    prediction_status: Mapped[str] = mapped_column(String(20))
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PredictionModel(Base):
    """The shop's Buy-Till-You-Die model as the last prediction pass fitted it
    (plugin_server.services.predictions): status ok or not_enough_history with the reason.
    Time in weeks (alpha is per week); Gamma-Gamma's gamma in minor units of `currency`."""

    __tablename__ = "prediction_models"

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
    fitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    currency: Mapped[str | None] = mapped_column(String(3))
    members: Mapped[int] = mapped_column(Integer)  # with a counted order
    members_used: Mapped[int] = mapped_column(Integer)  # in the BG/NBD fit (a sample)
    repeat_members_used: Mapped[int] = mapped_column(Integer)
    bgnbd_r: Mapped[float | None] = mapped_column(Float)
    bgnbd_alpha: Mapped[float | None] = mapped_column(Float)
    bgnbd_a: Mapped[float | None] = mapped_column(Float)
    bgnbd_b: Mapped[float | None] = mapped_column(Float)
    bgnbd_log_likelihood: Mapped[float | None] = mapped_column(Float)
    spend_status: Mapped[str] = mapped_column(String(20))
    spend_reason: Mapped[str | None] = mapped_column(Text)
    spend_members_used: Mapped[int] = mapped_column(Integer)
    gg_p: Mapped[float | None] = mapped_column(Float)
    gg_q: Mapped[float | None] = mapped_column(Float)
    gg_gamma: Mapped[float | None] = mapped_column(Float)
    gg_log_likelihood: Mapped[float | None] = mapped_column(Float)
    frequency_spend_correlation: Mapped[float | None] = mapped_column(Float)
    clv_months: Mapped[int] = mapped_column(Integer)
    monthly_discount_rate: Mapped[str] = mapped_column(String(12))  # decimal text


class WidgetUseDay(Base):
    """A day on which a member looked at their points in the storefront widget: at most
    one row per member and UTC day, written by the widget's summary request (deduplicated
    in each web process, so the busiest read pays one INSERT per member per day)."""

    __tablename__ = "widget_use_days"
    __table_args__ = (*tenant_fk(__tablename__, "customer_id", "customers"),)

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
