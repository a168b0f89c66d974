"""Collections (Shopify) and categories (WooCommerce) in bonus campaigns and exclusions: the
clients against the sandbox (paging, errors), the shop's copy of each collection (sync on
save, refresh from the scheduler, failures), what orders earn under them, and scoping."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from flask.testing import FlaskClient

from plugin_server import cli, jobs
from plugin_server.bootstrap import Container
from plugin_server.platforms.base import (
    CollectionNotFound,
    PlatformUnavailable,
    ShopCredentials,
)
from plugin_server.platforms.shopify import ShopifyClient
from plugin_server.platforms.woocommerce import WooCommerceClient
from plugin_server.sandbox.server import RunningSandbox, Sandbox
from plugin_server.sandbox.shopify_admin import Fault
from plugin_server.services import collections, earning_rules
from plugin_server.settings import Settings
from plugin_server.simulate import sign_woocommerce
from tests.conftest import SHOPIFY_SECRET, WOO_SECRET, FakeClock, ShopHandle, make_shop, post
from tests.integration.test_bonus_campaigns import (
    campaign,
    deliver,
    history,
    iso,
    kinds,
    make_rule,
    order,
    refund,
)
from tests.integration.test_storefront_api import proxied
from tests.integration.test_webhook_intake import woo_order

SHOP = "test-shop.myshopify.com"  # the domain the storefront's signed requests name
OTHER_SHOP = "other-shop.myshopify.com"
TOKEN = "shpat_collections"
WOO_HOST = "woo-collections.example.com"
HATS, SCARVES = "411", "412"  # collection ids
HAT, CAP, SCARF, SHIRT = 501, 502, 503, 504


def no_sleep(_: float) -> None:
    """Throttle waits are recorded, not slept."""


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    state = Sandbox()
    state.shopify_shop(SHOP, access_token=TOKEN)
    state.shopify_shop(OTHER_SHOP, access_token=TOKEN)
    with RunningSandbox(state) as running:
        yield running


@pytest.fixture
def admin(sandbox: RunningSandbox) -> Any:
    """The sandbox shop's Admin API state (collections are seeded here)."""
    return sandbox.sandbox.shopify[SHOP]


@pytest.fixture
def shop(container: Container, sandbox: RunningSandbox) -> ShopHandle:
    return make_shop(container, "shopify", SHOP, access_token=TOKEN, api_base_url=sandbox.url)


@pytest.fixture
def creds(sandbox: RunningSandbox) -> ShopCredentials:
    return ShopCredentials(domain=SHOP, access_token=TOKEN, api_base_url=sandbox.url)


@pytest.fixture
def woo_creds(sandbox: RunningSandbox) -> ShopCredentials:
    key, secret = sandbox.sandbox.woo_store(WOO_HOST).add_key()
    return ShopCredentials(
        domain=f"https://{WOO_HOST}",
        consumer_key=key,
        consumer_secret=secret,
        api_base_url=f"{sandbox.url}/woo/{WOO_HOST}",
    )


@pytest.fixture
def woo_shop(container: Container, woo_creds: ShopCredentials) -> ShopHandle:
    return make_shop(
        container,
        "woocommerce",
        woo_creds.domain,
        webhook_secret=WOO_SECRET,
        consumer_key=woo_creds.consumer_key,
        consumer_secret=woo_creds.consumer_secret,
        api_base_url=woo_creds.api_base_url,
    )


def rule(client: FlaskClient, shop: ShopHandle, rule_id: int) -> dict[str, Any]:
    r = client.get(f"/api/v1/earning-rules/{rule_id}", headers=shop.auth)
    assert r.status_code == 200, r.json
    return r.json


# --- the clients, against the sandbox --------------------------------------------------------


def test_shopify_reads_a_collection_page_by_page(admin: Any, creds: ShopCredentials) -> None:
    admin.set_collection(HATS, "Hats", list(range(1000, 1600)))  # 600: three pages of 250
    before = admin.requests
    found = ShopifyClient(sleep=no_sleep).collection_products(creds, HATS)
    assert found.title == "Hats"
    assert found.product_ids == tuple(str(n) for n in range(1000, 1600))
    assert admin.requests - before == 3


def test_shopify_waits_out_a_throttled_page_and_goes_on(admin: Any, creds: ShopCredentials) -> None:
    admin.set_collection(HATS, "Hats", list(range(1000, 1300)))
    shopify = ShopifyClient(sleep=no_sleep)
    admin.faults.append(Fault("throttled"))
    found = shopify.collection_products(creds, f"gid://shopify/Collection/{HATS}")
    assert len(found.product_ids) == 300
    assert shopify.log.throttled == 1
    assert shopify.log.sleeps == [0.1]  # the query's cost over the restore rate


def test_shopify_unknown_collection_and_the_quick_budget(
    admin: Any, creds: ShopCredentials
) -> None:
    with pytest.raises(CollectionNotFound):
        ShopifyClient().collection_products(creds, "999")
    admin.set_collection(HATS, "Hats", list(range(1000, 1600)))
    with pytest.raises(PlatformUnavailable) as caught:
        ShopifyClient().collection_products(creds, HATS, max_pages=2)
    assert caught.value.code == "more_pages"
    assert caught.value.retryable


def test_the_sandbox_serves_shopifys_collection_query(sandbox: RunningSandbox, admin: Any) -> None:
    admin.set_collection(HATS, "Hats", [3, 1, 2])
    query = """
    query Page($id: ID!, $after: String) {
      collection(id: $id) {
        title
        products(first: 2, after: $after, sortKey: ID) {
          pageInfo { hasNextPage endCursor }
          edges { cursor node { id } }
        }
      }
    }
    """

    def page(after: str | None) -> dict[str, Any]:
        r = requests.post(
            f"{sandbox.url}/admin/api/2026-07/graphql.json?shop={SHOP}",
            json={"query": query, "variables": {"id": f"gid://shopify/Collection/{HATS}",
                                                "after": after}},
            headers={"X-Shopify-Access-Token": TOKEN},
            timeout=5,
        )  # fmt: skip
        assert r.status_code == 200, r.text
        return r.json()["data"]["collection"]["products"]

    first = page(None)
    assert [e["node"]["id"] for e in first["edges"]] == [
        "gid://shopify/Product/1",
        "gid://shopify/Product/2",
    ]
    assert first["pageInfo"]["hasNextPage"] is True
    second = page(first["pageInfo"]["endCursor"])
    assert [e["node"]["id"] for e in second["edges"]] == ["gid://shopify/Product/3"]
    assert second["pageInfo"]["hasNextPage"] is False
    # A field the real schema lacks is refused, as Shopify refuses it.
    bad = requests.post(
        f"{sandbox.url}/admin/api/2026-07/graphql.json?shop={SHOP}",
        json={"query": '{ collection(id: "x") { productCount } }'},
        headers={"X-Shopify-Access-Token": TOKEN},
        timeout=5,
    )
    assert "productCount" in bad.json()["errors"][0]["message"]


def test_woocommerce_reads_a_category_page_by_page(
    sandbox: RunningSandbox, woo_creds: ShopCredentials
) -> None:
    store = sandbox.sandbox.woo_store(WOO_HOST)
    store.set_category(15, "Hats", list(range(2000, 2250)))  # 250: pages of 100, 100, 50
    store.set_category(16, "Other", [1, 2])
    before = store.requests
    woo = WooCommerceClient(sleep=no_sleep)
    found = woo.collection_products(woo_creds, "15")
    assert found.title == "Hats"
    assert found.product_ids == tuple(str(n) for n in range(2000, 2250))
    assert store.requests - before == 4  # the category, then three pages
    store.faults.append(Fault("http_503"))  # a 5xx mid-way is retried
    assert len(woo.collection_products(woo_creds, "15").product_ids) == 250
    with pytest.raises(CollectionNotFound):
        woo.collection_products(woo_creds, "99")
    with pytest.raises(PlatformUnavailable) as caught:
        woo.collection_products(woo_creds, "15", max_pages=1)
    assert caught.value.code == "more_pages"


# --- the shop's copy, through the admin API -----------------------------------------------------


def test_a_campaign_on_a_collection_pays_on_its_products_only(
    client: FlaskClient, clock: FakeClock, shop: ShopHandle, admin: Any
) -> None:
    admin.set_collection(HATS, "Summer hats", [HAT, CAP])
    made = campaign(client, shop, clock, multiplier="3", collection_ids=[HATS])
    assert made["collection_ids"] == [HATS]
    [state] = made["collections"]
    assert (state["id"], state["title"], state["status"]) == (HATS, "Summer hats", "synced")
    assert (state["product_count"], state["error"]) == (2, None)
    assert state["synced_at"] is not None
    deliver(client, shop, "orders/paid", order(1, [(HAT, "30.00"), (SHIRT, "20.00")]))
    assert kinds(client, shop) == [("earn_order", 50), ("campaign_bonus", 60)]
    # Products and collections together: either one qualifies a line.
    client.post(f"/api/v1/earning-rules/{made['id']}/archive", headers=shop.auth)
    campaign(client, shop, clock, key="mixed", multiplier="2", product_ids=[SHIRT],
             collection_ids=[HATS])  # fmt: skip
    deliver(client, shop, "orders/paid", order(2, [(CAP, "10.00"), (SHIRT, "5.00"), (SCARF, "7")]))
    assert kinds(client, shop)[-1] == ("campaign_bonus", 15)


def test_an_exclusion_by_category_woocommerce(
    client: FlaskClient, sandbox: RunningSandbox, woo_shop: ShopHandle
) -> None:
    sandbox.sandbox.woo_store(WOO_HOST).set_category(31, "Gift cards", [93])
    made = make_rule(client, woo_shop, kind="exclusion", key="gifts", name="Gift cards",
                     collection_ids=["31"])  # fmt: skip
    assert made["product_ids"] == []
    assert [(c["status"], c["product_count"]) for c in made["collections"]] == [("synced", 1)]
    payload = woo_order(order_id=900, total="40.00")  # product 93: a gift card
    payload["line_items"].append(
        {"id": 316, "name": "Shirt", "product_id": 94, "quantity": 1, "subtotal": "25.00",
         "total": "25.00", "total_tax": "0.00"}
    )  # fmt: skip
    payload["total"] = "76.35"
    delivery = sign_woocommerce(
        payload, topic="order.updated", source=woo_shop.domain, secret=WOO_SECRET
    )
    assert post(client, delivery).status_code == 200
    r = client.get("/api/v1/customers/25", headers=woo_shop.auth)
    assert r.json["balance"] == 25  # the shirt only


def test_the_scheduler_refreshes_and_a_removed_product_stops_counting(
    client: FlaskClient, container: Container, clock: FakeClock, shop: ShopHandle, admin: Any
) -> None:
    admin.set_collection(HATS, "Hats", [HAT, CAP])
    made = campaign(
        client, shop, clock, collection_ids=[HATS], ends_at=iso(clock() + timedelta(days=30))
    )
    first_sync = made["collections"][0]["synced_at"]
    assert jobs.tick(container)["collections_due"] == 0  # fresh: nothing to do
    admin.set_collection(HATS, "Hats", [HAT])  # the cap leaves the collection
    clock.advance(hours=7)
    assert jobs.tick(container)["collections_due"] == 1
    assert jobs.tick(container)["collections_due"] == 0  # claimed once, synced once
    [state] = rule(client, shop, made["id"])["collections"]
    assert state["product_count"] == 1
    assert state["synced_at"] > first_sync
    paid = clock()
    deliver(client, shop, "orders/paid", order(1, [(CAP, "10.00")], paid_at=paid))
    deliver(client, shop, "orders/paid", order(2, [(HAT, "10.00")], paid_at=paid))
    bonuses = [t["reason"] for t in history(client, shop) if t["kind"] == "campaign_bonus"]
    assert bonuses == ["Double points week (2x): bonus on order #2"]


def test_a_failed_sync_keeps_the_products_it_had(
    client: FlaskClient, container: Container, clock: FakeClock, shop: ShopHandle, admin: Any
) -> None:
    admin.set_collection(HATS, "Hats", [HAT, CAP])
    made = campaign(
        client, shop, clock, collection_ids=[HATS], ends_at=iso(clock() + timedelta(days=30))
    )
    admin.set_collection(HATS, "Hats", [])  # would empty the copy, if it were read
    admin.access_tokens.clear()
    admin.access_tokens.add("rotated")  # the store refuses our token from now on
    clock.advance(hours=7)
    assert jobs.tick(container)["collections_due"] == 1
    [state] = rule(client, shop, made["id"])["collections"]
    assert state["status"] == "failed"
    assert state["error"].startswith("unauthorized")
    assert state["product_count"] == 2
    deliver(client, shop, "orders/paid", order(1, [(CAP, "10.00")], paid_at=clock()))
    assert kinds(client, shop) == [("earn_order", 10), ("campaign_bonus", 10)]
    # The store answers again: a retry comes RETRY_AFTER later, not on every tick.
    admin.access_tokens.add(TOKEN)
    assert jobs.tick(container)["collections_due"] == 0
    clock.advance(minutes=31)
    assert jobs.tick(container)["collections_due"] == 1
    [state] = rule(client, shop, made["id"])["collections"]
    assert (state["status"], state["error"], state["product_count"]) == ("synced", None, 0)


def test_a_refund_of_a_collection_bonus_line_takes_its_bonus_back(
    client: FlaskClient, clock: FakeClock, shop: ShopHandle, admin: Any
) -> None:
    admin.set_collection(HATS, "Hats", [HAT])
    made = campaign(client, shop, clock, multiplier="3", collection_ids=[HATS])
    deliver(client, shop, "orders/paid", order(7, [(HAT, "30.00"), (SHIRT, "20.00")]))
    assert kinds(client, shop) == [("earn_order", 50), ("campaign_bonus", 60)]
    # The hat leaving the collection later changes nothing about this order's bonus.
    admin.set_collection(HATS, "Hats", [])
    r = client.post(f"/api/v1/collections/{HATS}/sync", headers=shop.auth)
    assert r.status_code == 200, r.json
    assert r.json["product_count"] == 0
    deliver(client, shop, "refunds/create", refund(7, 72, [(2, "20.00")]))  # the shirt
    assert kinds(client, shop)[2:] == [("reverse_order", -20)]
    deliver(client, shop, "refunds/create", refund(7, 71, [(1, "30.00")]))  # the hat
    assert sorted(kinds(client, shop)[3:]) == [
        ("reverse_campaign_bonus", -60),
        ("reverse_order", -30),
    ]
    assert rule(client, shop, made["id"])["collections"][0]["product_count"] == 0


def test_a_collection_never_synced_matches_nothing_and_says_so(
    client: FlaskClient, container: Container, clock: FakeClock, shop: ShopHandle, admin: Any
) -> None:
    admin.set_collection(HATS, "Hats", [HAT])
    # Saved without the quick sync (as if the store had been down while the merchant saved).
    now = clock()
    earning_rules.create_rule(
        container.uow(),
        shop.id,
        {"kind": "bonus", "key": "hats", "name": "Hats", "multiplier": "2",
         "product_ids": [str(SCARF)], "collection_ids": [HATS],
         "starts_at": now - timedelta(hours=1), "ends_at": now + timedelta(days=1)},
        now=now,
    )  # fmt: skip
    [listed] = client.get("/api/v1/earning-rules", headers=shop.auth).json["earning_rules"]
    assert listed["collections"] == [
        {"id": HATS, "title": None, "status": "pending", "product_count": 0,
         "synced_at": None, "last_attempt_at": None, "error": None}
    ]  # fmt: skip
    # Pending: the hat earns no bonus yet, the rule's own product still does; never "all".
    deliver(client, shop, "orders/paid", order(1, [(HAT, "10.00"), (SHIRT, "10.00")]))
    deliver(client, shop, "orders/paid", order(2, [(SCARF, "10.00")]))
    assert kinds(client, shop) == [("earn_order", 20), ("earn_order", 10), ("campaign_bonus", 10)]
    # A collection the store does not have fails at once, on save, with a stable code.
    made = campaign(client, shop, clock, key="typo", collection_ids=["999"])
    [state] = made["collections"]
    assert (state["status"], state["error"].split(":")[0]) == ("failed", "collection_not_found")


def test_one_shop_never_sees_anothers_collections(
    client: FlaskClient,
    container: Container,
    clock: FakeClock,
    sandbox: RunningSandbox,
    shop: ShopHandle,
    admin: Any,
) -> None:
    other = make_shop(
        container, "shopify", OTHER_SHOP, access_token=TOKEN, api_base_url=sandbox.url
    )
    admin.set_collection(HATS, "Hats", [HAT])
    sandbox.sandbox.shopify[OTHER_SHOP].set_collection(HATS, "Their hats", [SCARF])
    campaign(client, shop, clock, collection_ids=[HATS])
    assert [c["title"] for c in client.get("/api/v1/collections", headers=shop.auth).json[
        "collections"]] == ["Hats"]  # fmt: skip
    assert client.get("/api/v1/collections", headers=other.auth).json == {"collections": []}
    r = client.post(f"/api/v1/collections/{HATS}/sync", headers=other.auth)
    assert r.status_code == 404
    assert r.json["error"]["code"] == "collection_not_found"
    r = client.post("/api/v1/collections/not-an-id/sync", headers=shop.auth)
    assert r.status_code == 400
    assert r.json["error"]["code"] == "validation_failed"
    # The other shop's campaign on "the same" collection id reads its own store's copy.
    campaign(client, other, clock, collection_ids=[HATS])
    deliver(client, other, "orders/paid", order(1, [(HAT, "10.00")]))
    deliver(client, other, "orders/paid", order(2, [(SCARF, "10.00")]))
    bonuses = [t["reason"] for t in history(client, other) if t["kind"] == "campaign_bonus"]
    assert bonuses == ["Double points week (2x): bonus on order #2"]
    with container.session_factory() as session:
        assert collections.members(session, shop.id, [HATS], [str(HAT), str(SCARF)]) == {
            HATS: frozenset({str(HAT)})
        }


def test_shoppers_see_a_collection_campaign_by_its_collections(
    client: FlaskClient, clock: FakeClock, shop: ShopHandle, admin: Any
) -> None:
    admin.set_collection(HATS, "Summer hats", [HAT])
    admin.set_collection(SCARVES, "Scarves", [SCARF])
    campaign(client, shop, clock, collection_ids=[HATS])
    make_rule(client, shop, kind="exclusion", key="scarves", name="Scarves",
              collection_ids=[SCARVES])  # fmt: skip
    program = client.get(proxied("program", shop=SHOP)).json["program"]
    [way] = program["ways_to_earn"]
    assert (way["product_ids"], way["collections"]) == ([], [{"id": HATS, "title": "Summer hats"}])
    assert program["never_earn"] == [
        {"key": "scarves", "name": "Scarves", "product_ids": [],
         "collections": [{"id": SCARVES, "title": "Scarves"}]}
    ]  # fmt: skip


def test_operators_sync_from_the_command_line(
    client: FlaskClient,
    settings: Settings,
    clock: FakeClock,
    shop: ShopHandle,
    admin: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("LOYALTY_SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("SHOPIFY_API_SECRET", SHOPIFY_SECRET)
    monkeypatch.setenv("LOYALTY_INSTANCE_PATH", str(settings.instance_path))
    monkeypatch.delenv("REDIS_URL", raising=False)
    admin.set_collection(HATS, "Hats", [HAT])
    campaign(client, shop, clock, collection_ids=[HATS])
    admin.set_collection(HATS, "Hats", [HAT, CAP, SCARF])
    runner = CliRunner()
    result = runner.invoke(cli.main, ["collections", "sync", "--shop", str(shop.id)])
    assert result.exit_code == 0, result.output
    [state] = json.loads(result.output)
    assert (state["id"], state["product_count"], state["status"]) == (HATS, 3, "synced")
    listed = runner.invoke(cli.main, ["collections", "list", "--shop", str(shop.id)])
    assert json.loads(listed.output)[0]["product_count"] == 3
    failed = runner.invoke(
        cli.main, ["collections", "sync", "--shop", str(shop.id), "--collection", "999"]
    )
    assert failed.exit_code == 1
    assert json.loads(failed.output)[0]["error"].startswith("collection_not_found")


def test_shop_redact_erases_the_shops_collections_and_campaign_bonuses(
    client: FlaskClient, container: Container, clock: FakeClock, shop: ShopHandle, admin: Any
) -> None:
    from sqlalchemy import func, select

    from plugin_server.db.models import Collection, CollectionProduct, OrderBonus
    from tests.integration.test_privacy import sample

    admin.set_collection(HATS, "Hats", [HAT, CAP])
    campaign(client, shop, clock, collection_ids=[HATS])
    deliver(client, shop, "orders/paid", order(1, [(HAT, "10.00")]))

    def rows() -> list[int]:
        with container.session_factory() as s:
            return [
                s.scalar(select(func.count()).select_from(m).where(m.shop_id == shop.id)) or 0
                for m in (Collection, CollectionProduct, OrderBonus)
            ]

    assert rows() == [1, 2, 1]
    deliver(client, shop, "app/uninstalled", {"id": 1, "domain": shop.domain})
    # Uninstalled: no more calls to the store, and the scheduler leaves its collections be.
    requests_before = admin.requests
    assert jobs.run_collection_sync(container, shop.id, [HATS]) == 0
    assert collections.get_collection(container.uow(), shop.id, HATS)["error"].startswith(
        "shop_inactive"
    )
    clock.advance(hours=7)
    assert jobs.tick(container)["collections_due"] == 0
    assert admin.requests == requests_before
    deliver(client, shop, "shop/redact", sample("shop_redact", shop))
    assert rows() == [0, 0, 0]
    assert jobs.run_collection_sync(container, shop.id, [HATS]) == 0  # a job queued before
