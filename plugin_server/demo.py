"""The demo shop a newcomer meets: rewards to redeem and a signed-in shopper with history,
with the platform sandbox standing in for Shopify (Admin API, storefront, app proxy)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from plugin_server.bootstrap import Container
from plugin_server.db.repositories import shop_by_domain
from plugin_server.services import earning_rules, program, referrals, rewards, tiers
from plugin_server.services import shops as shop_service

DEMO_DOMAIN = "demo-store.myshopify.com"
DEMO_CUSTOMER_ID = "1001"
DEMO_REWARDS = (
    {
        "name": "$5 off",
        "kind": "fixed_amount",
        "points_cost": 50,
        "amount": "5.00",
        "currency": "USD",
    },
    {"name": "Free shipping", "kind": "free_shipping", "points_cost": 100},
    {"name": "10% off your order", "kind": "percentage", "points_cost": 150, "percent": "10"},
    {
        "name": "Tote bag voucher",
        "kind": "fixed_amount",
        "points_cost": 400,
        "amount": "24.00",
        "currency": "USD",
    },
)
DEMO_ORDERS = ((9001, Decimal("59.90")), (9002, Decimal("120.00")))
# Ann's 179 points make her Silver, 121 points from Gold.
DEMO_TIERS = (
    {"name": "Silver", "threshold": 100, "multiplier": Decimal("1.25")},
    {"name": "Gold", "threshold": 300, "multiplier": Decimal("1.5"), "entry_points": 50},
)
# `loyalty simulate order --product 2` buys sunglasses, `--product 3` a gift card.
DEMO_CAMPAIGN: dict[str, object] = {
    "kind": "bonus",
    "key": "sunglasses-week",
    "name": "Double points on sunglasses",
    "multiplier": Decimal(2),
    "product_ids": ["2"],
}
DEMO_EXCLUSION: dict[str, object] = {
    "kind": "exclusion",
    "key": "gift-cards",
    "name": "Gift cards",
    "product_ids": ["3"],
}
DEMO_RULES = (
    {"kind": "signup", "key": "welcome", "name": "Welcome bonus", "points": 50},
    {"kind": "birthday", "key": "birthday", "name": "Birthday treat", "points": 100},
    {
        "kind": "activity",
        "key": "product_review",
        "name": "Product review",
        "points": 20,
        "limit_count": 2,
        "limit_period": "month",
    },
)


# A friend gets 10% off a first order of 30.00 or more; Ann gets 200 points for each friend
# once the friend's order has passed the shop's 14-day pending period.
DEMO_REFERRALS = {
    "name": "Give 10%, get 200 points",
    "starts_at": datetime(2026, 1, 1, tzinfo=UTC),
    "friend_discount_kind": "percentage",
    "friend_discount_value": Decimal("10"),
    "advocate_reward_kind": "points",
    "advocate_points": 200,
    "min_order_subtotal": Decimal("30"),
    "advocate_period_limit": 10,
    "advocate_limit_period": "month",
}
DEMO_PENDING_DAYS = 14


@dataclass(frozen=True)
class Demo:
    shop_id: int
    api_key: str
    access_token: str  # the shop's token at the (in-memory) sandbox, new on every run
    customer_id: str


def set_up(container: Container, *, sandbox_url: str, showcase: bool = True) -> Demo:
    """Create (or refresh) the demo shop and its shopper. Safe to run again.

    `showcase` also sets up what a newcomer should see: expiry, tiers, ways to earn (the
    browser tests start without them and add what each test is about)."""
    with container.session_factory() as session:
        existing = shop_by_domain(session, "shopify", DEMO_DOMAIN)
        shop_id = existing.id if existing else None
    if shop_id is None:
        created = shop_service.create_shop(
            container.uow(),
            container.cipher,
            platform="shopify",
            domain=DEMO_DOMAIN,
            now=container.clock(),
        )
        shop_id, api_key = created.id, created.api_key
        made = [
            rewards.create_reward(container.uow(), shop_id, dict(reward), now=container.clock())
            for reward in DEMO_REWARDS
        ]
        if showcase:
            _showcase(container, shop_id, tote_bag=made[-1]["id"])
    else:
        api_key = shop_service.rotate_api_key(container.uow(), shop_id)
    token = "shpat_demo_" + secrets.token_hex(8)
    shop_service.set_api_access(
        container.uow(), container.cipher, shop_id, access_token=token, api_base_url=sandbox_url
    )
    _orders(container)
    if existing is None and showcase:
        # After Ann's history, which is spendable already: new orders (and the referral
        # they may complete) wait 14 days, as a real shop's returns window would.
        program.update_program(
            container.uow(), shop_id, {"pending_days": DEMO_PENDING_DAYS}, now=container.clock()
        )
    return Demo(shop_id, api_key, token, DEMO_CUSTOMER_ID)


def subscribe_webhooks(container: Container, demo: Demo, *, sandbox_url: str) -> None:
    """Subscribe the demo shop's webhooks at the running sandbox, as an install does.

    The sandbox keeps nothing between runs; without this the first reconciliation pass
    would find every subscription missing and re-create them with a warning."""
    from plugin_server.platforms.base import ShopCredentials
    from plugin_server.platforms.shopify import ShopifyClient
    from plugin_server.platforms.shopify_auth import subscribe_webhooks as subscribe

    client = container.platforms.get("shopify")
    creds = ShopCredentials(
        domain=DEMO_DOMAIN, access_token=demo.access_token, api_base_url=sandbox_url
    )
    subscribe(
        client if isinstance(client, ShopifyClient) else ShopifyClient(),
        creds,
        container.settings.webhook_url("shopify"),
    )


def _showcase(container: Container, shop_id: int, *, tote_bag: int) -> None:
    # Points expire a year after they are earned: the widget shows Ann when hers do.
    program.update_program(
        container.uow(),
        shop_id,
        {"expiry_policy": "batch", "expiry_months": 12},
        now=container.clock(),
    )
    made = [
        tiers.create_tier(container.uow(), shop_id, dict(tier), now=container.clock())
        for tier in DEMO_TIERS
    ]
    # The tote bag is for Gold members: Ann (Silver) sees "Gold only" on it.
    rewards.update_reward(
        container.uow(), shop_id, tote_bag, {"min_tier_id": made[-1]["id"]}, now=container.clock()
    )
    for rule in DEMO_RULES:
        earning_rules.create_rule(container.uow(), shop_id, dict(rule), now=container.clock())
    # A bonus campaign running this week, and a product that never earns.
    now = container.clock()
    start = now.replace(minute=0, second=0, microsecond=0)
    campaign = {**DEMO_CAMPAIGN, "starts_at": start, "ends_at": start + timedelta(days=7)}
    earning_rules.create_rule(container.uow(), shop_id, campaign, now=now)
    earning_rules.create_rule(container.uow(), shop_id, dict(DEMO_EXCLUSION), now=now)
    referrals.create_campaign(container.uow(), shop_id, DEMO_REFERRALS, now=container.clock())


def _orders(container: Container) -> None:
    """The demo shopper's orders, delivered as signed webhooks (once: repeats are no-ops)."""
    from plugin_server import create_app
    from plugin_server.simulate import shopify_order, sign_shopify

    client = create_app(container=container).test_client()
    for order_id, total in DEMO_ORDERS:
        payload = shopify_order(
            order_id=order_id,
            email="ann@example.com",
            subtotal=total,
            customer_id=int(DEMO_CUSTOMER_ID),
        )
        payload["customer"]["first_name"] = "Ann"
        delivery = sign_shopify(
            payload,
            topic="orders/paid",
            shop_domain=DEMO_DOMAIN,
            secret=container.settings.shopify_api_secret,
        )
        client.post(delivery.path, data=delivery.body, headers=delivery.headers)
