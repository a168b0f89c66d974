"""The RQ path against a real Redis: enqueue after commit, a worker drains, retries are safe."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal as D

import pytest
from flask.testing import FlaskClient
from redis import Redis
from rq import Queue, SimpleWorker
from sqlalchemy import func, select

from plugin_server import create_app, jobs
from plugin_server.bootstrap import Container, bootstrap
from plugin_server.db.models import LedgerEntry, WebhookReceipt
from plugin_server.sandbox.shopify_admin import Fault
from plugin_server.services import order_points
from plugin_server.settings import Settings
from plugin_server.simulate import shopify_order, sign_shopify
from tests.conftest import REDIS_URL, REQUIRE_SERVICES, SHOPIFY_SECRET, ShopHandle, make_shop, post

if not REDIS_URL and not REQUIRE_SERVICES:
    pytest.skip("LOYALTY_TEST_REDIS_URL is not set", allow_module_level=True)


@pytest.fixture
def rq_container(settings: Settings, clock, redis_conn: Redis) -> Iterator[Container]:  # type: ignore[no-untyped-def]
    c = bootstrap(settings.with_overrides(redis_url=REDIS_URL), redis=redis_conn, clock=clock)
    jobs.set_worker_container(c)
    yield c
    jobs.set_worker_container(None)
    c.engine.dispose()


def drain(c: Container) -> None:
    assert c.redis is not None
    queues = [Queue(name, connection=c.redis) for name in jobs.QUEUES]
    SimpleWorker(queues, connection=c.redis).work(burst=True)


def entries(c: Container) -> int:
    with c.session_factory() as s:
        return s.scalar(select(func.count()).select_from(LedgerEntry)) or 0


def statuses(c: Container) -> list[str]:
    with c.session_factory() as s:
        return list(s.scalars(select(WebhookReceipt.status).order_by(WebhookReceipt.id)))


def order_delivery(shop: ShopHandle, order_id: int):  # type: ignore[no-untyped-def]
    payload = shopify_order(
        order_id=order_id, email="r@example.com", subtotal=D("42.00"), customer_id=7
    )
    return sign_shopify(
        payload, topic="orders/paid", shop_domain=shop.domain, secret=SHOPIFY_SECRET
    )


def test_request_only_stores_and_wakes_a_worker_that_applies(rq_container: Container) -> None:
    shop = make_shop(rq_container, "shopify", "rq-shop.myshopify.com")
    client: FlaskClient = create_app(container=rq_container).test_client()
    for order_id in (1, 2, 3):
        assert post(client, order_delivery(shop, order_id)).json["status"] == "accepted"
    # Nothing applied in the request; one drain job covers all three receipts.
    assert statuses(rq_container) == ["pending"] * 3
    assert entries(rq_container) == 0
    assert Queue(jobs.QUEUE_WEBHOOKS, connection=rq_container.redis).count == 1
    drain(rq_container)
    assert statuses(rq_container) == ["processed"] * 3
    assert entries(rq_container) == 3
    # The drain released its flag: the next delivery wakes a new one.
    post(client, order_delivery(shop, 4))
    assert Queue(jobs.QUEUE_WEBHOOKS, connection=rq_container.redis).count == 1
    drain(rq_container)
    assert entries(rq_container) == 4


def test_a_backlog_is_shared_by_several_drains(rq_container: Container) -> None:
    shop = make_shop(rq_container, "shopify", "rq-shop.myshopify.com")
    client = create_app(container=rq_container).test_client()
    for order_id in range(jobs.DRAIN_BATCH + 5):
        post(client, order_delivery(shop, 1000 + order_id))
    drain(rq_container)
    assert statuses(rq_container) == ["processed"] * (jobs.DRAIN_BATCH + 5)
    assert entries(rq_container) == jobs.DRAIN_BATCH + 5


def test_a_failing_attempt_is_retried_without_double_awarding(
    rq_container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = make_shop(rq_container, "shopify", "rq-shop.myshopify.com")
    client = create_app(container=rq_container).test_client()
    real_reverse = order_points._reverse
    calls = {"n": 0}

    def crash_after_earning(*args, **kwargs):  # type: ignore[no-untyped-def]
        # The earn entry has been written in this transaction; the crash must roll it back.
        # Call 1 is the batched attempt, call 2 the same receipt applied on its own (whose
        # failure is recorded and retried), call 3 the retry.
        calls["n"] += 1
        if calls["n"] <= 2:
            raise ConnectionError("database connection lost mid-transaction")
        return real_reverse(*args, **kwargs)

    monkeypatch.setattr(order_points, "_reverse", crash_after_earning)
    post(client, order_delivery(shop, 2))
    drain(rq_container)
    assert calls["n"] == 3
    assert statuses(rq_container) == ["processed"]
    assert entries(rq_container) == 1
    with rq_container.session_factory() as s:
        receipt = s.scalars(select(WebhookReceipt)).one()
    assert receipt.attempts == 2
    assert "connection lost" in (receipt.last_error or "") or receipt.last_error is None


def test_a_receipt_that_keeps_failing_ends_failed_and_can_be_replayed(
    rq_container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = make_shop(rq_container, "shopify", "rq-shop.myshopify.com")
    client = create_app(container=rq_container).test_client()

    def always_fail(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise ConnectionError("still down")

    monkeypatch.setattr(order_points, "apply_order_event", always_fail)
    post(client, order_delivery(shop, 3))
    drain(rq_container)
    assert statuses(rq_container) == ["failed"]
    assert entries(rq_container) == 0

    monkeypatch.undo()
    # An operator fixes the cause and replays it.
    from plugin_server.services import webhook_receipts

    [failed] = webhook_receipts.list_receipts(rq_container.uow(), status="failed")
    assert "still down" in failed["last_error"]
    assert failed["attempts"] == len(rq_container.settings.job_retry_intervals) + 1
    webhook_receipts.reset_for_replay(rq_container.uow(), failed["id"], now=rq_container.clock())
    rq_container.dispatcher.wake()
    drain(rq_container)
    assert statuses(rq_container) == ["processed"]
    assert entries(rq_container) == 1


def test_lost_jobs_and_dead_drains_are_recovered_by_the_scheduler_tick(
    rq_container: Container,
    clock,  # type: ignore[no-untyped-def]
) -> None:
    from plugin_server.services import webhook_receipts

    shop = make_shop(rq_container, "shopify", "rq-shop.myshopify.com")
    client = create_app(container=rq_container).test_client()
    post(client, order_delivery(shop, 4))
    post(client, order_delivery(shop, 5))
    assert rq_container.redis is not None
    rq_container.redis.flushdb()  # Redis restarted empty: the drain job and its flag are gone
    # A drain claimed one receipt and was killed before applying it.
    [claimed] = webhook_receipts.claim_receipts(rq_container.uow(), now=clock(), limit=1)
    assert jobs.tick(rq_container) == {
        "released_claims": 0,
        "woke": 1,
        "redemptions_retried": 0,
        "redemptions_expired": 0,
        "points_expired": 0,
        "tier_changes": 0,
        "birthday_bonuses": 0,
        "referrals_rewarded": 0,
        "imports_resumed": 0,
        "collections_due": 0,
        "webhooks_woke": 0,
        "emails_woke": 0,
        "analytics_shops_built": 1,
        "reconciles_queued": 0,
        "backfills_resumed": 0,
        "scores_shops_computed": 1,
    }
    drain(rq_container)
    assert statuses(rq_container) == ["processing", "processed"]
    clock.advance(minutes=6)
    assert jobs.tick(rq_container)["released_claims"] == 1
    drain(rq_container)
    assert statuses(rq_container) == ["processed", "processed"]
    assert entries(rq_container) == 2
    assert claimed


def test_the_loyalty_worker_command_drains_in_its_own_process(
    rq_container: Container, settings: Settings
) -> None:
    """The Procfile's worker: a separate process, configured only by the environment."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    shop = make_shop(rq_container, "shopify", "rq-shop.myshopify.com")
    client = create_app(container=rq_container).test_client()
    for order_id in (11, 12):
        post(client, order_delivery(shop, order_id))
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": REDIS_URL or "",
        "LOYALTY_SECRET_KEY": settings.secret_key,
        "SHOPIFY_API_SECRET": SHOPIFY_SECRET,
        "LOYALTY_INSTANCE_PATH": str(settings.instance_path),
    }
    loyalty = Path(sys.executable).parent / "loyalty"
    done = subprocess.run(
        [str(loyalty), "worker", "--burst"], env=env, timeout=60, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert statuses(rq_container) == ["processed", "processed"]
    assert entries(rq_container) == 2


def test_a_pending_redemption_is_finished_by_an_rq_job(rq_container: Container) -> None:
    """The platform was down while the shopper waited: a job issues the code later."""
    from plugin_server.sandbox.server import RunningSandbox, Sandbox
    from plugin_server.services import adjustments, redemptions

    state = Sandbox()
    admin = state.shopify_shop("rq-redeem.myshopify.com", access_token="shpat_rq")
    with RunningSandbox(state) as sandbox:
        shop = make_shop(
            rq_container,
            "shopify",
            "rq-redeem.myshopify.com",
            access_token="shpat_rq",
            api_base_url=sandbox.url,
        )
        client = create_app(container=rq_container).test_client()
        post(client, order_delivery(shop, 1))
        drain(rq_container)
        adjustments.adjust_points(
            rq_container.uow(),
            shop.id,
            "7",
            points=500,
            reason="gift",
            idempotency_key=None,
            now=rq_container.clock(),
        )
        reward = client.post(
            "/api/v1/rewards",
            headers=shop.auth,
            json={"name": "Ship", "kind": "free_shipping", "points_cost": 300},
        ).json
        admin.faults.extend([Fault(kind="http_503")])
        r = client.post(
            "/api/v1/customers/7/redemptions",
            headers=shop.auth,
            json={"reward_id": reward["id"]},
        )
        assert r.json["status"] == "pending"
        assert rq_container.redis is not None
        assert Queue(jobs.QUEUE_REDEMPTIONS, connection=rq_container.redis).count == 1
        drain(rq_container)
        got = redemptions.get_redemption(rq_container.uow(), shop.id, r.json["id"])
        assert got["status"] == "issued"
        assert list(admin.discounts) == [got["code"].lower()]


def test_storefront_rate_limits_are_shared_through_redis(redis_conn: Redis) -> None:
    """Two web processes (two limiters) count one shopper's requests together."""
    from plugin_server.api.errors import ApiError
    from storefront_widget.auth import RateLimits, Shopper

    one = RateLimits(redis_conn, per_shopper="3/minute", per_address="100/minute")
    two = RateLimits(
        Redis(connection_pool=redis_conn.connection_pool),
        per_shopper="3/minute",
        per_address="100/minute",
    )
    shopper = Shopper(1, "shopify", "s.myshopify.com", "42", "app_proxy")
    one.check(shopper, "10.0.0.1")
    two.check(shopper, "10.0.0.2")
    one.check(shopper, "10.0.0.3")
    with pytest.raises(ApiError) as refused:
        two.check(shopper, "10.0.0.4")
    assert refused.value.status == 429
    assert refused.value.headers["Retry-After"].isdigit()
    assert redis_conn.keys("loyalty:rl:shopper:1:42:*")


def test_an_import_runs_on_a_worker_and_resumes_from_the_tick(
    rq_container: Container,
    clock,  # type: ignore[no-untyped-def]
) -> None:
    shop = make_shop(rq_container, "shopify", "rq-import.myshopify.com")
    client: FlaskClient = create_app(container=rq_container).test_client()
    r = client.post(
        "/api/v1/imports",
        data=b"email,points\na@example.com,5\nb@example.com,7\n",
        content_type="text/csv",
        headers=shop.auth,
    )
    # Recorded and queued in the request; a worker applies it.
    assert (r.status_code, r.json["status"]) == (202, "pending")
    assert Queue(jobs.QUEUE_IMPORTS, connection=rq_container.redis).count == 1
    drain(rq_container)
    done = client.get(f"/api/v1/imports/{r.json['id']}", headers=shop.auth).json
    assert (done["status"], done["rows_imported"]) == ("completed", 2)
    # A job lost before it ran (Redis flushed): the tick queues the import again once stale.
    again = client.post(
        "/api/v1/imports",
        data=b"email,points\nc@example.com,1\n",
        content_type="text/csv",
        headers=shop.auth,
    ).json
    assert rq_container.redis is not None
    rq_container.redis.flushdb()
    assert jobs.tick(rq_container)["imports_resumed"] == 0
    clock.advance(minutes=11)
    assert jobs.tick(rq_container)["imports_resumed"] == 1
    drain(rq_container)
    status = client.get(f"/api/v1/imports/{again['id']}", headers=shop.auth).json["status"]
    assert status == "completed"


def test_a_collection_the_quick_sync_missed_is_synced_by_an_rq_job(
    rq_container: Container,
    clock,  # type: ignore[no-untyped-def]
) -> None:
    from datetime import timedelta

    from plugin_server.sandbox.server import RunningSandbox, Sandbox

    state = Sandbox()
    admin = state.shopify_shop("rq-shop.myshopify.com", access_token="shpat_rq")
    admin.set_collection(411, "Hats", [501, 502])
    with RunningSandbox(state) as sandbox:
        shop = make_shop(
            rq_container,
            "shopify",
            "rq-shop.myshopify.com",
            access_token="shpat_rq",
            api_base_url=sandbox.url,
        )
        client = create_app(container=rq_container).test_client()
        admin.faults.append(Fault("http_503"))  # the store hiccups while the merchant waits
        now = clock()
        r = client.post(
            "/api/v1/earning-rules",
            headers={"Authorization": f"Bearer {shop.api_key}"},
            json={"kind": "bonus", "key": "hats", "name": "Hats", "multiplier": "2",
                  "collection_ids": ["411"], "ends_at": (now + timedelta(days=7)).isoformat()},
        )  # fmt: skip
        assert r.status_code == 201, r.json
        assert r.json["collections"][0]["status"] == "pending"
        assert Queue(jobs.QUEUE_SYNC, connection=rq_container.redis).count == 1
        drain(rq_container)
        view = client.get(
            f"/api/v1/earning-rules/{r.json['id']}",
            headers={"Authorization": f"Bearer {shop.api_key}"},
        ).json
        assert (view["collections"][0]["status"], view["collections"][0]["product_count"]) == (
            "synced",
            2,
        )
        # Hours later the scheduler's tick enqueues the refresh; a worker runs it.
        admin.set_collection(411, "Hats", [501])
        clock.advance(hours=7)
        assert jobs.tick(rq_container)["collections_due"] == 1
        drain(rq_container)
        view = client.get(
            f"/api/v1/earning-rules/{r.json['id']}",
            headers={"Authorization": f"Bearer {shop.api_key}"},
        ).json
        assert view["collections"][0]["product_count"] == 1
        # The merchant's "sync again" while the store hiccups: 202, the copy as it was,
        # and a job that finishes it.
        admin.set_collection(411, "Hats", [501, 502, 503])
        admin.faults.append(Fault("http_503"))
        r = client.post(
            "/api/v1/collections/411/sync", headers={"Authorization": f"Bearer {shop.api_key}"}
        )
        assert r.status_code == 202, r.json
        assert (r.json["status"], r.json["product_count"]) == ("synced", 1)
        drain(rq_container)
        r = client.get("/api/v1/collections", headers={"Authorization": f"Bearer {shop.api_key}"})
        assert r.json["collections"][0]["product_count"] == 3
