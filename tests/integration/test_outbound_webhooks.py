"""Signed outbound webhooks, end to end against a real receiver on 127.0.0.1: events reach
the outbox in their own transaction, workers deliver with retries, leases and timeouts, and
the merchant sees (and replays) every attempt through the admin API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal as D
from typing import Any

import jsonschema
import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema.validators import Draft202012Validator
from sqlalchemy import select

from plugin_server import jobs
from plugin_server.api import contract
from plugin_server.bootstrap import Container, bootstrap
from plugin_server.db.models import WebhookDelivery
from plugin_server.services import outbound_webhooks
from plugin_server.settings import Settings
from plugin_server.simulate import shopify_order, sign_shopify
from tests.conftest import SHOPIFY_SECRET, FakeClock, ShopHandle, make_shop, post
from tests.webhook_receiver import Receiver

MAX_ATTEMPTS = 5


class CountingDispatcher(jobs.InlineDispatcher):
    """The embedded dispatcher, except that waking deliveries is only counted: the tests
    run the worker themselves, one step at a time."""

    def __init__(self, container: Container) -> None:
        super().__init__(container)
        self.delivery_wakes = 0

    def deliver_webhooks(self) -> None:
        self.delivery_wakes += 1


@pytest.fixture
def container(settings: Settings, clock: FakeClock) -> Iterator[Container]:
    c = bootstrap(
        settings.with_overrides(
            webhook_connect_timeout_s=0.5,
            webhook_read_timeout_s=0.5,
            webhook_max_attempts=MAX_ATTEMPTS,
            webhook_retry_base_s=10,
            webhook_retry_cap_s=60,
            webhook_lease_s=30,
        ),
        clock=clock,
    )
    c.dispatcher = CountingDispatcher(c)
    yield c
    c.close()


@pytest.fixture
def receiver(clock: FakeClock) -> Iterator[Receiver]:
    r = Receiver(clock, hang_s=1.5).start()
    yield r
    r.stop()


def wakes(c: Container) -> int:
    assert isinstance(c.dispatcher, CountingDispatcher)
    return c.dispatcher.delivery_wakes


def register(
    client: FlaskClient, shop: ShopHandle, receiver: Receiver, topics: list[str] | None = None
) -> dict[str, Any]:
    r = client.post(
        "/api/v1/webhook-endpoints",
        json={"url": receiver.url, "topics": topics or ["points.earned"], "description": "CRM"},
        headers=shop.auth,
    )
    assert r.status_code == 201, r.json
    receiver.secrets.append(r.json["secret"])
    return r.json


def order_paid(client: FlaskClient, shop: ShopHandle, order_id: int, subtotal: str = "70") -> None:
    order = shopify_order(
        order_id=order_id,
        email=f"c{order_id}@example.com",
        subtotal=D(subtotal),
        customer_id=order_id * 10,
    )
    delivery = sign_shopify(
        order, topic="orders/paid", shop_domain=shop.domain, secret=SHOPIFY_SECRET
    )
    assert post(client, delivery).status_code == 200


def deliver(c: Container) -> int:
    return jobs.run_deliveries(c)


def deliveries(c: Container) -> list[WebhookDelivery]:
    with c.session_factory() as s:
        return list(s.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def test_an_earned_event_is_signed_delivered_and_logged(
    app: Flask,
    client: FlaskClient,
    container: Container,
    shopify_shop: ShopHandle,
    receiver: Receiver,
) -> None:
    endpoint = register(client, shopify_shop, receiver)
    assert endpoint["secret"].startswith("whsec_")
    assert (
        "secret"
        not in client.get("/api/v1/webhook-endpoints", headers=shopify_shop.auth).json[
            "webhook_endpoints"
        ][0]
    )
    order_paid(client, shopify_shop, 7)
    # Queued in the transaction that wrote the points; the worker woken after its commit.
    assert [d.status for d in deliveries(container)] == ["pending"]
    assert wakes(container) == 1
    assert deliver(container) == 1

    [got] = receiver.received
    assert got.verified == {endpoint["secret"]: True}
    body = json.loads(got.body)
    assert body["topic"] == "points.earned"
    assert body["shop"] == {
        "id": shopify_shop.id,
        "platform": "shopify",
        "domain": shopify_shop.domain,
    }
    assert body["data"]["customer_id"] == "70"
    assert body["data"]["points"] == 70
    assert body["data"]["kind"] == "earn_order"
    assert got.headers["X-Loyalty-Topic"] == "points.earned"
    assert got.headers["X-Loyalty-Event"] == body["id"]
    assert got.headers["X-Loyalty-Attempt"] == "1"
    assert "X-Loyalty-Redelivery" not in got.headers
    # The body matches the schema the OpenAPI document publishes for the topic.
    doc = contract.document(app)
    assert "points.earned" in doc["webhooks"]
    jsonschema.validate(
        body,
        {"$ref": "#/components/schemas/PointsEarnedEvent", "components": doc["components"]},
        cls=Draft202012Validator,
    )

    log = client.get("/api/v1/webhook-deliveries", headers=shopify_shop.auth).json
    [d] = log["webhook_deliveries"]
    assert d["status"] == "succeeded"
    assert d["attempts"] == 1
    assert d["last_status_code"] == 204
    assert d["delivery_key"] == got.headers["X-Loyalty-Delivery"]
    detail = client.get(f"/api/v1/webhook-deliveries/{d['id']}", headers=shopify_shop.auth).json
    assert detail["payload"].encode() == got.body
    assert [(a["attempt"], a["status_code"], a["succeeded"]) for a in detail["attempt_log"]] == [
        (1, 204, True)
    ]


def test_failures_timeouts_and_refused_connections_are_retried_until_it_recovers(
    client: FlaskClient,
    container: Container,
    clock: FakeClock,
    shopify_shop: ShopHandle,
    receiver: Receiver,
) -> None:
    register(client, shopify_shop, receiver)
    receiver.script.extend([500, "hang"])
    order_paid(client, shopify_shop, 8)

    assert deliver(container) == 1  # 500
    [d] = deliveries(container)
    assert (d.status, d.attempts, d.last_status_code) == ("pending", 1, 500)
    # Backoff: the retry is not due yet, and the scheduler does not wake anything.
    assert deliver(container) == 0
    assert jobs.tick(container)["webhooks_woke"] == 0
    first_wait = d.next_attempt_at - d.updated_at
    assert 5 <= first_wait.total_seconds() <= 10

    clock.advance(seconds=61)
    assert jobs.tick(container)["webhooks_woke"] == 1  # the scheduler picks retries up
    assert deliver(container) == 1  # hangs past the read timeout
    [d] = deliveries(container)
    assert (d.status, d.attempts, d.last_status_code) == ("pending", 2, None)
    assert d.last_error == "timeout (read)"
    assert d.last_duration_ms is not None
    assert d.last_duration_ms < 1400  # the worker gave up; it did not wait for the receiver

    receiver.stop()  # nothing listens: connections are refused
    clock.advance(seconds=61)
    assert deliver(container) == 1
    [d] = deliveries(container)
    assert (d.status, d.attempts) == ("pending", 3)
    assert d.last_error is not None
    assert d.last_error.startswith("connection failed")

    receiver.start()  # the same port again
    clock.advance(seconds=61)
    assert deliver(container) == 1
    [d] = deliveries(container)
    assert (d.status, d.attempts, d.last_status_code) == ("succeeded", 4, 204)

    detail = client.get(f"/api/v1/webhook-deliveries/{d.id}", headers=shopify_shop.auth).json
    log = [(a["attempt"], a["status_code"], a["succeeded"]) for a in detail["attempt_log"]]
    assert log == [(1, 500, False), (2, None, False), (3, None, False), (4, 204, True)]
    # Every attempt carried the same delivery id and body, each with its attempt number.
    got = receiver.received
    assert len({r.headers["X-Loyalty-Delivery"] for r in got}) == 1
    assert len({r.body for r in got}) == 1
    assert [r.headers["X-Loyalty-Attempt"] for r in got] == ["1", "2", "4"]
    assert all(all(r.verified.values()) for r in got)


def test_gives_up_after_the_last_attempt_then_a_replay_sends_it_again(
    client: FlaskClient,
    container: Container,
    clock: FakeClock,
    shopify_shop: ShopHandle,
    receiver: Receiver,
) -> None:
    register(client, shopify_shop, receiver)
    receiver.script.extend([500] * MAX_ATTEMPTS)
    order_paid(client, shopify_shop, 9)
    for _ in range(MAX_ATTEMPTS):
        assert deliver(container) == 1
        clock.advance(seconds=61)
    assert deliver(container) == 0
    [d] = deliveries(container)
    assert (d.status, d.attempts) == ("failed", MAX_ATTEMPTS)
    failed = client.get("/api/v1/webhook-deliveries?status=failed", headers=shopify_shop.auth).json[
        "webhook_deliveries"
    ]
    assert [f["id"] for f in failed] == [d.id]

    before = wakes(container)
    r = client.post(f"/api/v1/webhook-deliveries/{d.id}/replay", headers=shopify_shop.auth)
    assert r.status_code == 202
    assert r.json["status"] == "pending"
    assert r.json["redelivery"] is True
    assert wakes(container) == before + 1
    # Replaying what is still pending is refused.
    again = client.post(f"/api/v1/webhook-deliveries/{d.id}/replay", headers=shopify_shop.auth)
    assert again.status_code == 409
    assert again.json["error"]["code"] == "webhook_delivery_in_progress"

    assert deliver(container) == 1
    last = receiver.received[-1]
    assert last.headers["X-Loyalty-Redelivery"] == "true"
    assert last.headers["X-Loyalty-Delivery"] == receiver.received[0].headers["X-Loyalty-Delivery"]
    assert last.body == receiver.received[0].body
    assert last.headers["X-Loyalty-Attempt"] == str(MAX_ATTEMPTS + 1)
    [d] = deliveries(container)
    assert (d.status, d.attempts) == ("succeeded", MAX_ATTEMPTS + 1)
    detail = client.get(f"/api/v1/webhook-deliveries/{d.id}", headers=shopify_shop.auth).json
    assert [a["redelivery"] for a in detail["attempt_log"]] == [False] * MAX_ATTEMPTS + [True]


def test_a_worker_that_dies_mid_delivery_loses_nothing(
    client: FlaskClient,
    container: Container,
    clock: FakeClock,
    shopify_shop: ShopHandle,
    receiver: Receiver,
) -> None:
    register(client, shopify_shop, receiver)
    order_paid(client, shopify_shop, 10)
    policy = outbound_webhooks.DeliveryPolicy.from_settings(container.settings)
    # A worker claims the delivery, then dies before (or while) posting it.
    dead = outbound_webhooks.claim_due(container.uow(), now=clock(), lease=policy.lease, limit=5)
    assert len(dead.ids) == 1
    assert [d.status for d in deliveries(container)] == ["delivering"]
    # While its lease holds, no other worker takes it.
    assert deliver(container) == 0
    assert jobs.tick(container)["webhooks_woke"] == 0
    clock.advance(seconds=policy.lease.total_seconds() + 1)
    assert jobs.tick(container)["webhooks_woke"] == 1
    assert deliver(container) == 1
    [d] = deliveries(container)
    assert (d.status, d.attempts) == ("succeeded", 1)
    assert len(receiver.received) == 1
    # Had the dead worker come back, its claim is gone: it sends nothing.
    assert (
        outbound_webhooks.deliver_one(
            container.uow, container.cipher, policy, d.id, dead.token, clock=clock
        )
        == "lost"
    )
    assert len(receiver.received) == 1


def test_the_lease_runs_from_each_attempt_so_a_slow_batch_is_not_sent_twice(
    client: FlaskClient,
    container: Container,
    clock: FakeClock,
    shopify_shop: ShopHandle,
    receiver: Receiver,
) -> None:
    register(client, shopify_shop, receiver)
    order_paid(client, shopify_shop, 11)
    order_paid(client, shopify_shop, 12)
    policy = outbound_webhooks.DeliveryPolicy.from_settings(container.settings)
    claim = outbound_webhooks.claim_due(container.uow(), now=clock(), lease=policy.lease, limit=5)
    first, second = claim.ids
    outbound_webhooks.deliver_one(
        container.uow, container.cipher, policy, first, claim.token, clock=clock
    )
    # The first receiver was slow: by now the batch's original lease is nearly over.
    clock.advance(seconds=policy.lease.total_seconds() - 1)
    outbound_webhooks.deliver_one(
        container.uow, container.cipher, policy, second, claim.token, clock=clock
    )
    clock.advance(seconds=2)
    assert deliver(container) == 0
    assert len(receiver.received) == 2


def test_secret_rotation_signs_with_both_secrets_for_the_overlap(
    client: FlaskClient,
    container: Container,
    clock: FakeClock,
    shopify_shop: ShopHandle,
    receiver: Receiver,
) -> None:
    endpoint = register(client, shopify_shop, receiver)
    old = endpoint["secret"]
    r = client.post(
        f"/api/v1/webhook-endpoints/{endpoint['id']}/rotate-secret",
        json={},
        headers=shopify_shop.auth,
    )
    assert r.status_code == 200
    new = r.json["secret"]
    assert new != old
    assert r.json["previous_secret_valid_until"] is not None
    receiver.secrets = [new, old]
    order_paid(client, shopify_shop, 13)
    deliver(container)
    assert receiver.received[-1].verified == {new: True, old: True}
    assert len(receiver.received[-1].headers["X-Loyalty-Signature"].split(",")) == 2

    # After the overlap only the new secret signs.
    clock.advance(hours=25)
    order_paid(client, shopify_shop, 14)
    deliver(container)
    assert receiver.received[-1].verified == {new: True, old: False}

    # Rotating with no overlap drops the previous secret at once.
    r = client.post(
        f"/api/v1/webhook-endpoints/{endpoint['id']}/rotate-secret",
        json={"previous_valid_hours": 0},
        headers=shopify_shop.auth,
    )
    newest = r.json["secret"]
    assert r.json["previous_secret_valid_until"] is None
    receiver.secrets = [newest, new]
    order_paid(client, shopify_shop, 15)
    deliver(container)
    assert receiver.received[-1].verified == {newest: True, new: False}
    # The secret is stored encrypted, never as itself.
    with container.engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT secret_enc FROM webhook_endpoints").scalar_one()
    assert newest.encode() not in bytes(stored)


def test_only_subscribed_topics_are_queued_and_nothing_without_endpoints(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle, receiver: Receiver
) -> None:
    order_paid(client, shopify_shop, 16)
    assert deliveries(container) == []
    assert wakes(container) == 0
    endpoint = register(client, shopify_shop, receiver, topics=["tier.changed"])
    order_paid(client, shopify_shop, 17)
    assert deliveries(container) == []
    r = client.patch(
        f"/api/v1/webhook-endpoints/{endpoint['id']}",
        json={"topics": ["points.earned", "tier.changed"]},
        headers=shopify_shop.auth,
    )
    assert r.json["topics"] == ["points.earned", "tier.changed"]
    order_paid(client, shopify_shop, 18)
    assert [d.topic for d in deliveries(container)] == ["points.earned"]
    # Switched off: nothing new is queued for it.
    client.patch(
        f"/api/v1/webhook-endpoints/{endpoint['id']}",
        json={"active": False},
        headers=shopify_shop.auth,
    )
    order_paid(client, shopify_shop, 19)
    assert len(deliveries(container)) == 1
    # ...and what was queued before fails without being sent.
    assert deliver(container) == 1
    assert [d.status for d in deliveries(container)] == ["failed"]
    assert receiver.received == []


def test_a_rolled_back_event_queues_nothing_and_wakes_no_one(
    container: Container,
    clock: FakeClock,
    shopify_shop: ShopHandle,
    client: FlaskClient,
    receiver: Receiver,
) -> None:
    from plugin_server.db import repositories
    from plugin_server.db.models import Customer, LedgerEntry

    register(client, shopify_shop, receiver)
    order_paid(client, shopify_shop, 20)
    before = (len(deliveries(container)), wakes(container))
    with container.uow() as uow:
        customer = uow.session.scalars(select(Customer)).first()
        assert customer is not None
        repositories.insert_ignoring_conflict(
            uow.session,
            LedgerEntry,
            {
                "shop_id": shopify_shop.id,
                "customer_id": customer.id,
                "points": 5,
                "kind": "adjustment",
                "reason": "never committed",
                "source_type": "merchant",
                "source_ref": "x",
                "order_id": None,
                "idempotency_key": "adjustment:rolled-back",
                "created_at": clock(),
                "available_at": clock(),
            },
            ("shop_id", "idempotency_key"),
        )
        # no commit: the unit of work rolls back
    assert (len(deliveries(container)), wakes(container)) == before


def test_a_merchant_never_sees_another_shops_endpoints_or_deliveries(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle, receiver: Receiver
) -> None:
    endpoint = register(client, shopify_shop, receiver)
    order_paid(client, shopify_shop, 21)
    deliver(container)
    [d] = deliveries(container)
    other = make_shop(container, "shopify", "other-shop.myshopify.com", access_token="shpat_y")
    assert client.get("/api/v1/webhook-endpoints", headers=other.auth).json == {
        "webhook_endpoints": []
    }
    assert (
        client.get("/api/v1/webhook-deliveries", headers=other.auth).json["webhook_deliveries"]
        == []
    )
    for method, path in (
        ("get", f"/api/v1/webhook-endpoints/{endpoint['id']}"),
        ("patch", f"/api/v1/webhook-endpoints/{endpoint['id']}"),
        ("delete", f"/api/v1/webhook-endpoints/{endpoint['id']}"),
        ("post", f"/api/v1/webhook-endpoints/{endpoint['id']}/rotate-secret"),
        ("post", f"/api/v1/webhook-endpoints/{endpoint['id']}/ping"),
        ("get", f"/api/v1/webhook-deliveries/{d.id}"),
        ("post", f"/api/v1/webhook-deliveries/{d.id}/replay"),
    ):
        kwargs: dict[str, Any] = {"headers": other.auth}
        if method == "patch" or path.endswith("rotate-secret"):
            kwargs["json"] = {}
        r = getattr(client, method)(path, **kwargs)
        assert r.status_code == 404, (method, path, r.json)
        assert r.json["error"]["code"] in (
            "webhook_endpoint_not_found",
            "webhook_delivery_not_found",
        )
    # The other shop's own events never go to this shop's endpoint.
    order_paid(client, other, 22)
    assert len(deliveries(container)) == 1


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"url": "ftp://example.com/x", "topics": ["points.earned"]}, "invalid_url", "url"),
        ({"url": "not a url", "topics": ["points.earned"]}, "invalid_url", "url"),
        (
            {"url": "https://user:pw@example.com/", "topics": ["points.earned"]},
            "invalid_url",
            "url",
        ),
        ({"url": "https://example.com/", "topics": ["points.spent"]}, "unknown_topic", "topics"),
        ({"url": "https://example.com/", "topics": []}, "validation_failed", "topics"),
        ({"url": "https://example.com/"}, "validation_failed", "topics"),
    ],
)
def test_bad_endpoints_are_refused_with_stable_codes(
    client: FlaskClient, shopify_shop: ShopHandle, body: dict[str, Any], code: str, field: str
) -> None:
    r = client.post("/api/v1/webhook-endpoints", json=body, headers=shopify_shop.auth)
    assert r.status_code == 400
    assert r.json["error"]["code"] == code
    assert field in r.json["error"]["fields"]


def test_private_addresses_are_refused_outside_development(
    settings: Settings, clock: FakeClock
) -> None:
    from plugin_server import create_app
    from tests.contract import ContractClient

    c = bootstrap(settings.with_overrides(webhook_allow_private=False), clock=clock)
    try:
        app = create_app(container=c)
        app.test_client_class = ContractClient
        client = app.test_client()
        shop = make_shop(c, "shopify", "prod-shop.myshopify.com", access_token="shpat_z")
        for url in ("http://127.0.0.1:8080/hook", "http://10.0.0.5/hook", "http://[::1]/"):
            r = client.post(
                "/api/v1/webhook-endpoints",
                json={"url": url, "topics": ["points.earned"]},
                headers=shop.auth,
            )
            assert r.status_code == 400, url
            assert r.json["error"]["code"] == "url_not_allowed"
        # At delivery time as well (DNS may change after registration): the attempt fails.
        policy = outbound_webhooks.DeliveryPolicy.from_settings(c.settings)
        outcome = outbound_webhooks.post("http://127.0.0.1:9/x", b"{}", {}, policy=policy)
        assert outcome.status_code is None
        assert outcome.error is not None
        assert outcome.error.startswith("url_not_allowed")
    finally:
        c.close()


def test_ping_get_update_and_delete_an_endpoint(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle, receiver: Receiver
) -> None:
    endpoint = register(client, shopify_shop, receiver, topics=["tier.changed"])
    path = f"/api/v1/webhook-endpoints/{endpoint['id']}"
    got = client.get(path, headers=shopify_shop.auth).json
    assert got["url"] == receiver.url
    assert got["description"] == "CRM"
    r = client.post(f"{path}/ping", headers=shopify_shop.auth)
    assert r.status_code == 202
    assert r.json["topic"] == "ping"
    deliver(container)
    [ping] = receiver.received
    assert json.loads(ping.body)["data"]["endpoint_id"] == endpoint["id"]
    assert all(ping.verified.values())
    log = client.get(
        f"/api/v1/webhook-deliveries?endpoint_id={endpoint['id']}", headers=shopify_shop.auth
    ).json["webhook_deliveries"]
    assert [(d["topic"], d["status"]) for d in log] == [("ping", "succeeded")]

    client.patch(path, json={"active": False}, headers=shopify_shop.auth)
    r = client.post(f"{path}/ping", headers=shopify_shop.auth)
    assert r.status_code == 409
    assert r.json["error"]["code"] == "webhook_endpoint_inactive"

    assert client.delete(path, headers=shopify_shop.auth).status_code == 204
    assert client.get(path, headers=shopify_shop.auth).status_code == 404
    assert client.get("/api/v1/webhook-endpoints", headers=shopify_shop.auth).json == {
        "webhook_endpoints": []
    }
    # The log outlives the endpoint.
    r = client.get(f"/api/v1/webhook-deliveries/{log[0]['id']}", headers=shopify_shop.auth)
    assert r.status_code == 200
    replay = client.post(
        f"/api/v1/webhook-deliveries/{log[0]['id']}/replay", headers=shopify_shop.auth
    )
    assert replay.status_code == 404
    assert replay.json["error"]["code"] == "webhook_endpoint_not_found"


def test_deliveries_page_newest_first(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle, receiver: Receiver
) -> None:
    register(client, shopify_shop, receiver)
    for n in range(30, 33):
        order_paid(client, shopify_shop, n)
    page = client.get("/api/v1/webhook-deliveries?limit=2", headers=shopify_shop.auth).json
    ids = [d["id"] for d in page["webhook_deliveries"]]
    assert ids == sorted(ids, reverse=True)
    rest = client.get(
        f"/api/v1/webhook-deliveries?limit=2&before={page['next_before']}",
        headers=shopify_shop.auth,
    ).json
    assert len(rest["webhook_deliveries"]) == 1
    assert (
        client.get("/api/v1/webhook-deliveries?status=bogus", headers=shopify_shop.auth).status_code
        == 400
    )


def test_the_embedded_worker_delivers_on_its_own_thread_after_the_commit(
    settings: Settings, clock: FakeClock, receiver: Receiver
) -> None:
    """No test double: the embedded default's dispatcher wakes a delivery thread."""
    from plugin_server import create_app

    c = bootstrap(settings, clock=clock)
    try:
        assert isinstance(c.dispatcher, jobs.InlineDispatcher)
        client = create_app(container=c).test_client()
        shop = make_shop(c, "shopify", "inline-shop.myshopify.com", access_token="shpat_i")
        register(client, shop, receiver)
        order_paid(client, shop, 40)
        c.dispatcher.join_webhooks(timeout=10)
        assert [d.status for d in deliveries(c)] == ["succeeded"]
        assert len(receiver.received) == 1
    finally:
        c.close()


def test_delivery_rows_survive_a_restart(
    settings: Settings,
    clock: FakeClock,
    client: FlaskClient,
    container: Container,
    shopify_shop: ShopHandle,
    receiver: Receiver,
) -> None:
    register(client, shopify_shop, receiver)
    order_paid(client, shopify_shop, 41)
    container.close()  # the process goes away with the delivery still queued
    fresh = bootstrap(settings, clock=clock)
    try:
        fresh.dispatcher = CountingDispatcher(fresh)
        assert jobs.tick(fresh)["webhooks_woke"] == 1
        assert jobs.run_deliveries(fresh) == 1
        assert len(receiver.received) == 1
    finally:
        fresh.close()


def test_finished_deliveries_leave_the_log_after_the_retention(
    client: FlaskClient,
    container: Container,
    clock: FakeClock,
    shopify_shop: ShopHandle,
    receiver: Receiver,
) -> None:
    register(client, shopify_shop, receiver)
    order_paid(client, shopify_shop, 50)
    deliver(container)
    clock.advance(days=container.settings.webhook_log_days + 1)
    order_paid(client, shopify_shop, 51)  # still pending: never purged
    jobs.tick(container)
    assert [d.source_key.startswith("ledger:") for d in deliveries(container)] == [True]
    [kept] = deliveries(container)
    assert kept.status == "pending"


def test_a_customers_redaction_removes_the_deliveries_about_them(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle, receiver: Receiver
) -> None:
    register(client, shopify_shop, receiver)
    order_paid(client, shopify_shop, 52)  # customer 520
    order_paid(client, shopify_shop, 53)  # customer 530
    deliver(container)
    assert len(deliveries(container)) == 2
    payload = {
        "shop_id": 1,
        "shop_domain": shopify_shop.domain,
        "customer": {"id": 520, "email": "c52@example.com"},
        "orders_to_redact": [52],
    }
    delivery = sign_shopify(
        payload, topic="customers/redact", shop_domain=shopify_shop.domain, secret=SHOPIFY_SECRET
    )
    assert post(client, delivery).json["status"] == "accepted"
    [left] = deliveries(container)
    assert json.loads(left.body)["data"]["customer_id"] == "530"


def test_deleting_an_endpoint_mid_delivery_fails_what_was_queued(
    client: FlaskClient,
    container: Container,
    clock: FakeClock,
    shopify_shop: ShopHandle,
    receiver: Receiver,
) -> None:
    endpoint = register(client, shopify_shop, receiver)
    order_paid(client, shopify_shop, 60)
    order_paid(client, shopify_shop, 61)
    policy = outbound_webhooks.DeliveryPolicy.from_settings(container.settings)
    claim = outbound_webhooks.claim_due(container.uow(), now=clock(), lease=policy.lease, limit=1)
    path = f"/api/v1/webhook-endpoints/{endpoint['id']}"
    assert client.delete(path, headers=shopify_shop.auth).status_code == 204
    # The worker holding a claim finds it withdrawn; the other delivery is not sent either.
    assert (
        outbound_webhooks.deliver_one(
            container.uow, container.cipher, policy, claim.ids[0], claim.token, clock=clock
        )
        == "lost"
    )
    assert deliver(container) == 0
    assert [(d.status, d.last_error) for d in deliveries(container)] == [
        ("failed", "endpoint deleted"),
        ("failed", "endpoint deleted"),
    ]
    assert receiver.received == []


def test_concurrent_workers_claim_disjoint_deliveries(
    client: FlaskClient,
    container: Container,
    clock: FakeClock,
    shopify_shop: ShopHandle,
    receiver: Receiver,
) -> None:
    import threading

    endpoint = register(client, shopify_shop, receiver)
    for _ in range(12):
        client.post(f"/api/v1/webhook-endpoints/{endpoint['id']}/ping", headers=shopify_shop.auth)
    policy = outbound_webhooks.DeliveryPolicy.from_settings(container.settings)
    claims: list[list[int]] = []
    start = threading.Barrier(3)

    def work() -> None:
        start.wait()
        claim = outbound_webhooks.claim_due(
            container.uow(), now=clock(), lease=policy.lease, limit=5
        )
        claims.append(claim.ids)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    claimed = [i for ids in claims for i in ids]
    assert len(claimed) == len(set(claimed)) == 12


def test_a_shop_has_at_most_ten_endpoints(
    client: FlaskClient, shopify_shop: ShopHandle, receiver: Receiver
) -> None:
    made = [register(client, shopify_shop, receiver) for _ in range(10)]
    r = client.post(
        "/api/v1/webhook-endpoints",
        json={"url": receiver.url, "topics": ["points.earned"]},
        headers=shopify_shop.auth,
    )
    assert r.status_code == 409
    assert r.json["error"]["code"] == "webhook_endpoint_limit"
    client.delete(f"/api/v1/webhook-endpoints/{made[0]['id']}", headers=shopify_shop.auth)
    register(client, shopify_shop, receiver)
