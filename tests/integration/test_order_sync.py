"""Reconciliation polls and history backfills against the sandbox platforms (real clients,
real sockets on 127.0.0.1): paging, throttling, crash and resume, dropped webhooks found
and applied once, refunds only the poll saw, webhook subscriptions repaired."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal as D
from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import func, select

from plugin_server import cli, create_app, jobs
from plugin_server.bootstrap import Container, bootstrap
from plugin_server.db.models import LedgerEntry, OrderHistory
from plugin_server.platforms.base import PlatformUnavailable
from plugin_server.platforms.shopify import ShopifyClient
from plugin_server.platforms.woocommerce import WooCommerceClient
from plugin_server.sandbox import shopify_admin, woocommerce_store
from plugin_server.sandbox.server import RunningSandbox, Sandbox
from plugin_server.sandbox.shopify_admin import Fault
from plugin_server.services import order_sync
from plugin_server.settings import Settings
from plugin_server.simulate import shopify_order, sign_shopify, sign_woocommerce
from tests.conftest import SHOPIFY_SECRET, WOO_SECRET, FakeClock, ShopHandle, make_shop, post

SHOP_A, SHOP_B, TOKEN = "poll-a.myshopify.com", "poll-b.myshopify.com", "shpat_poll"
WOO_HOST = "woo-poll.example"
ORDER_TOPICS = {"ORDERS_CREATE", "ORDERS_PAID", "ORDERS_CANCELLED", "REFUNDS_CREATE"}


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with RunningSandbox(Sandbox()) as running:
        yield running


@pytest.fixture
def polling(settings: Settings, clock: FakeClock) -> Iterator[Container]:
    """A container whose tick polls every shop hourly (off in the other tests)."""
    c = bootstrap(settings.with_overrides(reconcile_minutes=60), clock=clock)
    yield c
    c.close()


def shopify(c: Container, sandbox: RunningSandbox, domain: str = SHOP_A) -> ShopHandle:
    sandbox.sandbox.shopify_shop(domain, access_token=TOKEN)
    return make_shop(c, "shopify", domain, access_token=TOKEN, api_base_url=sandbox.url)


def woo(c: Container, sandbox: RunningSandbox) -> ShopHandle:
    key, secret = sandbox.sandbox.woo_store(WOO_HOST).add_key()
    return make_shop(
        c,
        "woocommerce",
        f"https://{WOO_HOST}",
        webhook_secret=WOO_SECRET,
        consumer_key=key,
        consumer_secret=secret,
        api_base_url=f"{sandbox.url}/woo/{WOO_HOST}",
    )


def points(c: Container, shop_id: int) -> tuple[int, int]:
    """(ledger entries, points) of a shop."""
    with c.session_factory() as s:
        count, total = s.execute(
            select(func.count(LedgerEntry.id), func.coalesce(func.sum(LedgerEntry.points), 0))
            .where(LedgerEntry.shop_id == shop_id)
        ).one()  # fmt: skip
    return int(count), int(total)


def history(c: Container, shop_id: int) -> list[tuple[str, bool]]:
    with c.session_factory() as s:
        return [
            (r.order_ref, r.before_install)
            for r in s.scalars(
                select(OrderHistory)
                .where(OrderHistory.shop_id == shop_id)
                .order_by(OrderHistory.id)
            )
        ]


def run_backfill(c: Container, shop_id: int) -> dict[str, Any]:
    order_sync.start_backfill(c.uow(), shop_id, now=c.clock())
    return jobs.run_backfill(c, shop_id)


def test_shopify_backfill_pages_waits_out_throttling_and_awards_only_orders_since_install(
    container: Container, sandbox: RunningSandbox, clock: FakeClock
) -> None:
    shop = shopify(container, sandbox)
    admin = sandbox.sandbox.shopify[SHOP_A]
    now = clock()
    for n in range(1, 13):  # 12 orders: 8 from before the install, 4 since
        placed = now - timedelta(days=40 - n) if n <= 8 else now + timedelta(minutes=n)
        admin.put_order(
            shopify_admin.sample_order(
                1000 + n, subtotal="10.00", created_at=placed, customer_id=70 + n % 3
            )
        )
    admin.faults.extend([Fault("throttled"), Fault("http_429", retry_after_s=0.01)])
    client = container.platforms["shopify"]
    assert isinstance(client, ShopifyClient)

    progress = run_backfill(container, shop.id)

    assert (progress["status"], progress["pages"], progress["orders_read"]) == ("completed", 3, 12)
    assert (progress["before_install"], progress["new_order_states"]) == (8, 4)
    assert (progress["history_orders"], progress["history_before_install"]) == (12, 8)
    assert client.log.throttled >= 1  # THROTTLED waited out, then the page read
    assert [before for _, before in history(container, shop.id)] == [True] * 8 + [False] * 4
    assert points(container, shop.id) == (4, 40)  # only the 4 orders since the install
    # Started again once completed, it reads everything again and changes nothing.
    assert run_backfill(container, shop.id)["history_orders"] == 12
    assert points(container, shop.id) == (4, 40)


def test_a_backfill_that_crashes_resumes_from_its_page_without_duplicates(
    container: Container, sandbox: RunningSandbox, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = woo(container, sandbox)
    store = sandbox.sandbox.woo_store(WOO_HOST)
    now = clock()
    for n in range(1, 121):  # 3 pages of 50; the last 20 placed since the install
        placed = now - timedelta(days=200 - n) if n <= 100 else now + timedelta(minutes=n)
        store.put_order(
            woocommerce_store.sample_order(
                n, total="5.00", created_at=placed, customer_id=n % 7 + 1
            )
        )
    # Crash 1: the process dies while storing page 2 (its transaction never commits).
    real_store = order_sync.store_orders
    calls = {"n": 0}

    def dies_on_second_page(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # like a SIGKILL: nothing after this line runs
        return real_store(*args, **kwargs)

    monkeypatch.setattr(order_sync, "store_orders", dies_on_second_page)
    with pytest.raises(KeyboardInterrupt):
        run_backfill(container, shop.id)
    progress = order_sync.backfill_progress(container.uow(), shop.id)
    assert (progress["status"], progress["pages"], progress["resumable"]) == ("running", 1, True)
    monkeypatch.setattr(order_sync, "store_orders", real_store)
    # Crash 2: resumed by the tick (the run is stale), then the store fails for good.
    clock.advance(minutes=11)
    client = container.platforms["woocommerce"]
    assert isinstance(client, WooCommerceClient)
    monkeypatch.setattr(client, "backoff_s", 0.01)
    store.faults.extend([Fault("http_500")] * 3)
    stalled = order_sync.stalled_backfills(
        container.uow(), now=clock(), older_than=jobs.STALE_BACKFILL
    )
    assert stalled == [shop.id]
    with pytest.raises(PlatformUnavailable):
        jobs.run_backfill(container, shop.id)
    progress = order_sync.backfill_progress(container.uow(), shop.id)
    assert (progress["status"], progress["pages"]) == ("failed", 1)
    assert progress["error"].startswith("internal_server_error")
    requests_before = store.requests
    # Resumed: page 2 then 3, never page 1 again.
    progress = run_backfill(container, shop.id)
    assert store.requests - requests_before == 2
    assert (progress["status"], progress["pages"], progress["orders_read"]) == ("completed", 3, 120)
    refs = [ref for ref, _ in history(container, shop.id)]
    assert sorted(refs, key=int) == [str(n) for n in range(1, 121)]  # each order once
    assert progress["history_before_install"] == 100
    assert points(container, shop.id) == (20, 100)


def test_a_dropped_webhook_is_found_by_the_tick_and_applied_once(
    polling: Container, sandbox: RunningSandbox, clock: FakeClock
) -> None:
    shop = shopify(polling, sandbox)
    other = shopify(polling, sandbox, SHOP_B)
    admin = sandbox.sandbox.shopify[SHOP_A]
    placed = clock() + timedelta(seconds=5)
    # Paid, but its orders/paid webhook never arrived.
    admin.put_order(
        shopify_admin.sample_order(2001, subtotal="42.00", created_at=placed, customer_id=7)
    )
    sandbox.sandbox.shopify[SHOP_B].put_order(
        shopify_admin.sample_order(2001, subtotal="99.00", created_at=placed, customer_id=7)
    )

    report = jobs.tick(polling)
    assert report["reconciles_queued"] == 2  # both shops, each in its own poll
    assert points(polling, shop.id) == (1, 42)
    assert points(polling, other.id) == (1, 99)
    # Not due again within the hour; due after it, the overlapping window reads the order
    # again and applies nothing twice.
    assert jobs.tick(polling)["reconciles_queued"] == 0
    clock.advance(minutes=61)
    assert jobs.tick(polling)["reconciles_queued"] == 2
    assert points(polling, shop.id) == (1, 42)
    assert points(polling, other.id) == (1, 99)


def test_one_order_via_webhook_and_poll_counts_once_and_a_refund_only_the_poll_saw_reverses(
    container: Container, client: FlaskClient, sandbox: RunningSandbox, clock: FakeClock
) -> None:
    shop = shopify(container, sandbox)
    other = shopify(container, sandbox, SHOP_B)
    admin = sandbox.sandbox.shopify[SHOP_A]
    placed = clock() + timedelta(seconds=5)
    paid = shopify_order(order_id=3001, email="w@example.com", subtotal=D("42.00"), customer_id=7)
    post(client, sign_shopify(paid, topic="orders/paid", shop_domain=SHOP_A, secret=SHOPIFY_SECRET))
    assert points(container, shop.id) == (1, 42)
    admin.put_order(
        shopify_admin.sample_order(3001, subtotal="42.00", created_at=placed, customer_id=7)
    )

    out = jobs.run_reconcile(container, shop.id)
    assert (out["orders_found"], out["new_order_states"], out["ledger_entries"]) == (1, 1, 0)
    assert points(container, shop.id) == (1, 42)  # the webhook's award, once
    # A refund of half the order whose refunds/create webhook was dropped.
    admin.put_order(
        shopify_admin.sample_order(
            3001, subtotal="42.00", created_at=placed, updated_at=placed + timedelta(minutes=3),
            customer_id=7, financial_status="PARTIALLY_REFUNDED", refunds=[(8801, "21.00")],
        )
    )  # fmt: skip
    out = jobs.run_reconcile(container, shop.id)
    assert (out["new_order_states"], out["ledger_entries"]) == (1, 1)
    assert points(container, shop.id) == (2, 21)
    # The poll again (nothing new), and the late refunds/create webhook: still once.
    assert jobs.run_reconcile(container, shop.id)["ledger_entries"] == 0
    assert points(container, shop.id) == (2, 21)
    assert points(container, other.id) == (0, 0)
    assert history(container, other.id) == []


def test_a_deleted_shopify_subscription_is_created_again_for_that_shop_only(
    container: Container, sandbox: RunningSandbox, runner: CliRunner
) -> None:
    shop = shopify(container, sandbox)
    shopify(container, sandbox, SHOP_B)
    admin, admin_b = sandbox.sandbox.shopify[SHOP_A], sandbox.sandbox.shopify[SHOP_B]
    first = jobs.run_reconcile(container, shop.id)
    assert set(first["webhooks_recreated"]) >= ORDER_TOPICS  # none existed in the sandbox
    admin.drop_webhook("ORDERS_PAID")  # deleted by Shopify after 8 failed deliveries
    result = runner.invoke(cli.main, ["reconcile", "--shop", str(shop.id)])
    assert result.exit_code == 0, result.output
    [report] = json.loads(result.output)
    assert report["webhooks_recreated"] == ["ORDERS_PAID"]
    assert sorted(w["topic"] for w in admin.webhooks.values()).count("ORDERS_PAID") == 1
    assert admin_b.webhooks == {}  # the other shop was not touched


def test_the_demo_shop_is_subscribed_like_an_install_so_reconciliation_finds_nothing_missing(
    container: Container, sandbox: RunningSandbox
) -> None:
    from plugin_server import demo
    from plugin_server.platforms.shopify_auth import WEBHOOK_TOPICS

    shop = demo.set_up(container, sandbox_url=sandbox.url, showcase=False)
    sandbox.sandbox.shopify_shop(demo.DEMO_DOMAIN, access_token=shop.access_token)
    demo.subscribe_webhooks(container, shop, sandbox_url=sandbox.url)
    held = sandbox.sandbox.shopify[demo.DEMO_DOMAIN].webhooks.values()
    url = f"{container.settings.public_url}/webhooks/shopify"
    assert sorted(w["topic"] for w in held if w["uri"] == url) == sorted(WEBHOOK_TOPICS)
    assert jobs.run_reconcile(container, shop.shop_id)["webhooks_recreated"] == []


@pytest.fixture
def runner(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("LOYALTY_SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("SHOPIFY_API_SECRET", SHOPIFY_SECRET)
    monkeypatch.setenv("LOYALTY_INSTANCE_PATH", str(settings.instance_path))
    monkeypatch.delenv("REDIS_URL", raising=False)
    return CliRunner()


def test_woocommerce_poll_waits_out_429_applies_a_refund_once_and_reactivates_webhooks(
    container: Container, client: FlaskClient, sandbox: RunningSandbox, clock: FakeClock
) -> None:
    shop = woo(container, sandbox)
    store = sandbox.sandbox.woo_store(WOO_HOST)
    placed = clock() + timedelta(seconds=5)
    order = woocommerce_store.sample_order(
        501, total="30.00", created_at=placed, customer_id=12, email="w@example.com"
    )
    delivery = sign_woocommerce(
        order, topic="order.updated", source=f"https://{WOO_HOST}/", secret=WOO_SECRET
    )
    post(client, delivery)
    assert points(container, shop.id) == (1, 30)
    # The store refunds 10.00; the order.updated delivery fails and WooCommerce disables
    # the webhook. One order.deleted webhook is gone altogether.
    jobs.run_reconcile(container, shop.id)  # creates the four webhooks in the sandbox
    store.disable_webhook("order.updated")
    [deleted] = [k for k, w in store.webhooks.items() if w["topic"] == "order.deleted"]
    del store.webhooks[deleted]
    store.put_order(
        woocommerce_store.sample_order(
            501, total="30.00", created_at=placed, modified_at=placed + timedelta(minutes=2),
            customer_id=12, email="w@example.com", refunds=[(9001, "10.00")],
        )
    )  # fmt: skip
    store.faults.append(Fault("http_429", retry_after_s=0.01))

    out = jobs.run_reconcile(container, shop.id)

    assert (out["orders_found"], out["ledger_entries"]) == (1, 1)
    assert points(container, shop.id) == (2, 20)
    assert out["webhooks_reactivated"] == ["order.updated"]
    assert out["webhooks_recreated"] == ["order.deleted"]
    assert {w["topic"]: w["status"] for w in store.webhooks.values()} == {
        "order.created": "active",
        "order.updated": "active",
        "order.deleted": "active",
        "customer.created": "active",
    }
    assert all(w["secret"] == WOO_SECRET for w in store.webhooks.values())
    # The late webhook with the same refund, and the poll again: nothing more.
    post(client, sign_woocommerce(
        store.orders[501], topic="order.updated", source=f"https://{WOO_HOST}/", secret=WOO_SECRET
    ))  # fmt: skip
    assert jobs.run_reconcile(container, shop.id)["ledger_entries"] == 0
    assert points(container, shop.id) == (2, 20)


class SyncBackfills(jobs.InlineDispatcher):
    """Runs a started backfill before the request answers (the inline one uses a thread)."""

    def backfill(self, shop_id: int) -> None:
        self._backfill(shop_id)


def test_the_admin_api_starts_a_backfill_and_reports_its_progress(
    container: Container, sandbox: RunningSandbox, clock: FakeClock
) -> None:
    shop = shopify(container, sandbox)
    admin = sandbox.sandbox.shopify[SHOP_A]
    for n in range(1, 8):
        admin.put_order(
            shopify_admin.sample_order(
                4000 + n, subtotal="5.00", created_at=clock() - timedelta(days=n), customer_id=9
            )
        )
    container.dispatcher = SyncBackfills(container)  # type: ignore[misc]
    app = create_app(container=container)
    from tests.contract import ContractClient

    app.test_client_class = ContractClient
    api = app.test_client()
    before = api.get("/api/v1/orders/backfill", headers=shop.auth)
    assert before.status_code == 200
    assert (before.json["status"], before.json["history_orders"]) == ("idle", 0)
    started = api.post("/api/v1/orders/backfill", headers=shop.auth)
    assert started.status_code == 202
    done = api.get("/api/v1/orders/backfill", headers=shop.auth).json
    assert (done["status"], done["pages"], done["history_before_install"]) == ("completed", 2, 7)
    assert points(container, shop.id) == (0, 0)  # all placed before the install
    assert api.get("/api/v1/orders/backfill").status_code == 401
