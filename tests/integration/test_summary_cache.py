"""The storefront summary cache (services/summary_cache.py): served from memory while
nothing it shows changed, and never stale after a write the app makes, whatever the path.

Each write below goes through the app's real interfaces (webhooks, the admin and storefront
APIs, the scheduled passes, the privacy webhook); before it the member's summary is being
served from the cache, after it the served summary must equal one built fresh from the
database, and must differ from before (so the step really changed what the shopper sees).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from decimal import Decimal as D
from typing import Any
from urllib.parse import urlencode

import pytest
from flask.testing import FlaskClient
from redis import Redis

from plugin_server import create_app
from plugin_server.bootstrap import Container, bootstrap
from plugin_server.jobs import InlineDispatcher
from plugin_server.sandbox.storefront import proxy_signature
from plugin_server.services import expiry, storefront, summary_cache, tiers
from plugin_server.settings import Settings
from plugin_server.simulate import shopify_order, shopify_refund, sign_shopify
from tests.conftest import (
    REDIS_URL,
    REQUIRE_SERVICES,
    SHOPIFY_SECRET,
    FakeClock,
    ShopHandle,
    make_shop,
    post,
)

if not REDIS_URL and not REQUIRE_SERVICES:
    pytest.skip("LOYALTY_TEST_REDIS_URL is not set", allow_module_level=True)

DOMAIN = "cached-shop.myshopify.com"
MEMBER = "42"


@pytest.fixture
def cached(settings: Settings, clock: FakeClock, redis_conn: Redis) -> Iterator[Container]:
    c = bootstrap(settings.with_overrides(redis_url=REDIS_URL), redis=redis_conn, clock=clock)
    c.dispatcher = InlineDispatcher(c)  # webhooks applied within the request
    assert c.summary_cache is not None
    yield c
    c.engine.dispose()


@pytest.fixture
def web(cached: Container) -> FlaskClient:
    return create_app(container=cached).test_client()


@pytest.fixture
def shop(cached: Container, web: FlaskClient) -> ShopHandle:
    handle = make_shop(cached, "shopify", DOMAIN, access_token="shpat_cached")
    reward = {
        "name": "$5 off",
        "kind": "fixed_amount",
        "points_cost": 100,
        "amount": "5.00",
        "currency": "usd",
        "code_valid_days": 30,
    }
    assert web.post("/api/v1/rewards", headers=handle.auth, json=reward).status_code == 201
    order(web, 1, "300")
    return handle


def order(web: FlaskClient, order_id: int, amount: str) -> None:
    payload = shopify_order(
        order_id=order_id, email="ann@example.com", subtotal=D(amount), customer_id=int(MEMBER)
    )
    delivery = sign_shopify(payload, topic="orders/paid", shop_domain=DOMAIN, secret=SHOPIFY_SECRET)
    assert post(web, delivery).json["status"] == "accepted"


def proxied(path: str, customer: str = MEMBER) -> str:
    params = [
        ("shop", DOMAIN),
        ("logged_in_customer_id", customer),
        ("path_prefix", "/apps/loyalty"),
        ("timestamp", str(int(time.time()))),
    ]
    params.append(("signature", proxy_signature(params, SHOPIFY_SECRET)))
    return f"/storefront/v1/{path}?{urlencode(params)}"


def served(web: FlaskClient) -> dict[str, Any]:
    r = web.get(proxied("summary"))
    assert r.status_code == 200, r.json
    return json.loads(r.get_data())


def fresh(c: Container, shop: ShopHandle) -> dict[str, Any]:
    built = storefront.summary(c.engine, c.storefront_shops, shop.id, MEMBER, now=c.clock())
    return json.loads(json.dumps(built))


def warm(web: FlaskClient, c: Container) -> dict[str, Any]:
    """Until the member's summary is served from the cache; that summary."""
    assert c.summary_cache is not None
    for _ in range(4):
        before = c.summary_cache.hits
        body = served(web)
        if c.summary_cache.hits == before + 1:
            return body
    raise AssertionError("the summary was never served from the cache")


def untracked(c: Container, sql: str) -> None:
    """A write the app is not told of: on the driver's own cursor, which the tracker's
    engine listeners never see."""
    with c.engine.connect() as conn:
        driver: Any = conn.connection.driver_connection
        driver.cursor().execute(sql)
        driver.commit()


def test_no_write_leaves_a_stale_summary(
    cached: Container, web: FlaskClient, shop: ShopHandle, clock: FakeClock
) -> None:
    auth = shop.auth

    def adjust() -> None:
        r = web.post(
            f"/api/v1/customers/{MEMBER}/adjustments",
            headers={**auth, "Idempotency-Key": "adj-1"},
            json={"points": 40, "reason": "goodwill"},
        )
        assert r.status_code == 201, r.json

    def redeem() -> None:
        r = web.post(proxied("redemptions"), json={"reward_id": 1})
        assert r.status_code in (201, 202), r.json

    def refund() -> None:
        payload = shopify_refund(refund_id=9, order_id=2, line_item_id=None, subtotal=D("50"))
        delivery = sign_shopify(
            payload, topic="refunds/create", shop_domain=DOMAIN, secret=SHOPIFY_SECRET
        )
        assert post(web, delivery).json["status"] == "accepted"

    def birthday() -> None:
        r = web.post(proxied("birthday"), json={"month": 7, "day": 14})
        assert r.status_code == 200, r.json

    def gold_tier() -> None:
        r = web.post(
            "/api/v1/tiers",
            headers=auth,
            json={"name": "Gold", "threshold": "100"},
        )
        assert r.status_code == 201, r.json
        tiers.recalculate_shop(cached.uow, shop.id, now=cached.clock())

    def expire() -> None:
        r = web.patch(
            "/api/v1/program",
            headers=auth,
            json={"expiry_policy": "batch", "expiry_months": 1},
        )
        assert r.status_code == 200, r.json
        warm(web, cached)  # the program changed the page; serve from the cache again
        clock.advance(days=70)
        expiry.expire_all(cached.uow, now=cached.clock())

    r = web.patch("/api/v1/program", headers=auth, json={"pending_days": 14})
    assert r.status_code == 200, r.json
    steps: list[tuple[str, Callable[[], None]]] = [
        ("an order", lambda: order(web, 2, "120")),
        ("its pending points become spendable", lambda: clock.advance(days=15)),
        ("an adjustment", adjust),
        ("a redemption", redeem),
        ("a refund", refund),
        ("a birthday", birthday),
        ("a tier pass", gold_tier),
        ("an expiry pass", expire),
    ]
    for name, step in steps:
        before = warm(web, cached)
        step()
        after = served(web)
        assert after == fresh(cached, shop), f"stale after {name}"
        assert after != before, f"{name} changed nothing the shopper sees"


def test_the_privacy_webhook_ends_the_members_summary(
    cached: Container, web: FlaskClient, shop: ShopHandle
) -> None:
    assert warm(web, cached)["member"]["history"] != []
    payload = {
        "shop_id": 1,
        "shop_domain": DOMAIN,
        "customer": {"id": int(MEMBER), "email": "ann@example.com"},
        "orders_to_redact": [1],
    }
    delivery = sign_shopify(
        payload, topic="customers/redact", shop_domain=DOMAIN, secret=SHOPIFY_SECRET
    )
    assert post(web, delivery).status_code == 200
    assert served(web) == fresh(cached, shop)
    assert served(web)["member"]["history"] == []


def test_a_write_outside_the_app_shows_within_the_time_to_live(
    cached: Container, web: FlaskClient, shop: ShopHandle, clock: FakeClock
) -> None:
    """The control: the cache really serves from memory, so a write it is not told of
    (an operator's hand-made UPDATE on another connection) shows only when the entry ends."""
    before = warm(web, cached)
    untracked(cached, "UPDATE customers SET first_name = 'Hand Made'")
    assert served(web) == before
    assert cached.summary_cache is not None
    clock.advance(seconds=cached.summary_cache.ttl.total_seconds() + 1)
    assert served(web)["member"]["first_name"] == "Hand Made"


def test_redis_starting_empty_serves_nothing_from_before(
    cached: Container, web: FlaskClient, shop: ShopHandle, redis_conn: Redis
) -> None:
    warm(web, cached)
    untracked(cached, "UPDATE customers SET first_name = 'After Restart'")
    redis_conn.flushdb()  # a restart without persistence: the versions are gone
    assert served(web)["member"]["first_name"] == "After Restart"


def test_other_members_and_shops_keep_their_entries(
    cached: Container, web: FlaskClient, shop: ShopHandle
) -> None:
    assert cached.summary_cache is not None
    warm(web, cached)
    other = make_shop(cached, "shopify", "other-cached.myshopify.com", access_token="x")
    before = cached.summary_cache.hits
    # Another member's order, in another shop: this member's entry stands.
    payload = shopify_order(order_id=7, email="bo@example.com", subtotal=D("10"), customer_id=7)
    post(
        web,
        sign_shopify(payload, topic="orders/paid", shop_domain=other.domain, secret=SHOPIFY_SECRET),
    )
    served(web)
    assert cached.summary_cache.hits == before + 1


# --- what a statement says it changed ---------------------------------------------------------


@pytest.mark.parametrize(
    ("statement", "parameters", "members", "shops", "everything"),
    [
        (
            "INSERT INTO ledger_entries (shop_id, customer_id, points) VALUES (...)",
            [{"shop_id": 1, "customer_id": 5, "points": 3}, {"shop_id": 1, "customer_id": 6}],
            {(1, 5), (1, 6)},
            set(),
            False,
        ),
        (
            "UPDATE ledger_entries SET customer_id=%(customer_id)s WHERE "
            "ledger_entries.shop_id = %(shop_id_1)s AND customer_id = %(customer_id_1)s",
            {"customer_id": 9, "shop_id_1": 2, "customer_id_1": 8},
            {(2, 9), (2, 8)},
            set(),
            False,
        ),
        (
            "INSERT INTO ledger_entries (...) SELECT ... WHERE shop_id = %(shop_id_1)s",
            {"shop_id_1": 3, "now": "x"},
            set(),
            {3},
            False,
        ),
        (
            "UPDATE referrals SET status=%(status)s WHERE friend_id = %(friend_id_1)s "
            "AND shop_id = %(shop_id_1)s",
            {"status": "void", "friend_id_1": 4, "shop_id_1": 1},
            set(),
            {1},
            False,
        ),
        (
            "UPDATE redemptions SET status=%(status)s WHERE redemptions.id = %(id_1)s",
            {"status": "issued", "id_1": 77},
            set(),
            set(),
            True,
        ),
        (
            "UPDATE webhook_receipts SET status='processed' WHERE id = %(id_1)s",
            {"id_1": 1},
            set(),
            set(),
            False,
        ),
        ("DELETE FROM customers WHERE id = ?", (5,), set(), set(), True),
    ],
)
def test_what_a_statement_changed(
    statement: str,
    parameters: Any,
    members: set[tuple[int, int]],
    shops: set[int],
    everything: bool,
) -> None:
    found = summary_cache._Changes(set(), set())
    summary_cache._changes(statement, parameters, found)
    assert (found.members, found.shops, found.everything) == (members, shops, everything)


def test_a_customer_upsert_names_the_member_by_the_stores_id() -> None:
    found = summary_cache._Changes(set(), set())
    summary_cache._changes(
        "INSERT INTO customers (shop_id, customer_ref, email) VALUES (...) "
        "ON CONFLICT (shop_id, customer_ref) DO UPDATE SET email = excluded.email",
        [{"shop_id": 4, "customer_ref": "42", "email": "a@example.com"}],
        found,
    )
    assert (found.refs, found.members, found.shops, found.everything) == (
        {(4, "42")},
        set(),
        set(),
        False,
    )
