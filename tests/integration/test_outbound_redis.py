"""Outbound webhooks through RQ and a real Redis: the commit that queued a delivery
enqueues one job on the `outbound` queue, and a worker delivers it to a real receiver."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rq import Queue
from sqlalchemy import select

from plugin_server import create_app, jobs
from plugin_server.bootstrap import Container
from plugin_server.db.models import WebhookDelivery
from tests.conftest import FakeClock, make_shop, post
from tests.integration import test_jobs_redis as rq_fixtures
from tests.integration.test_jobs_redis import drain, order_delivery
from tests.webhook_receiver import Receiver

# The RQ fixtures (a flushed Redis db, a container wired to it) of the receipt tests.
rq_container = rq_fixtures.rq_container


@pytest.fixture
def receiver(clock: FakeClock) -> Iterator[Receiver]:
    r = Receiver(clock).start()
    yield r
    r.stop()


def statuses(c: Container) -> list[str]:
    with c.session_factory() as s:
        return list(s.scalars(select(WebhookDelivery.status).order_by(WebhookDelivery.id)))


def test_a_worker_delivers_what_the_commit_queued(
    rq_container: Container, receiver: Receiver
) -> None:
    assert rq_container.redis is not None
    shop = make_shop(rq_container, "shopify", "rq-shop.myshopify.com")
    client = create_app(container=rq_container).test_client()
    r = client.post(
        "/api/v1/webhook-endpoints",
        json={"url": receiver.url, "topics": ["points.earned"]},
        headers=shop.auth,
    )
    receiver.secrets.append(r.json["secret"])
    outbound = Queue(jobs.QUEUE_OUTBOUND, connection=rq_container.redis)
    post(client, order_delivery(shop, 1))
    assert outbound.count == 0  # nothing queued until the receipt is applied
    # One burst: the drain applies the order (queuing the delivery in its transaction),
    # its commit enqueues the outbound job, and the same worker delivers it.
    drain(rq_container)
    assert statuses(rq_container) == ["succeeded"]
    assert len(receiver.received) == 1
    assert all(receiver.received[0].verified.values())
    # The job released its flag: the next delivery wakes a new job.
    assert rq_container.redis.get(jobs.OUTBOUND_FLAG) is None
    post(client, order_delivery(shop, 2))
    drain(rq_container)
    assert statuses(rq_container) == ["succeeded", "succeeded"]
    assert len(receiver.received) == 2


def test_the_scheduler_wakes_a_worker_for_a_delivery_whose_wake_up_was_lost(
    rq_container: Container, receiver: Receiver
) -> None:
    assert rq_container.redis is not None
    shop = make_shop(rq_container, "shopify", "rq-shop.myshopify.com")
    client = create_app(container=rq_container).test_client()
    r = client.post(
        "/api/v1/webhook-endpoints",
        json={"url": receiver.url, "topics": ["points.earned"]},
        headers=shop.auth,
    )
    receiver.secrets.append(r.json["secret"])
    post(client, order_delivery(shop, 3))
    drain(rq_container)
    assert len(receiver.received) == 1
    ping = client.post(f"/api/v1/webhook-endpoints/{r.json['id']}/ping", headers=shop.auth)
    assert ping.status_code == 202
    rq_container.redis.flushdb()  # Redis lost the job (and its flag)
    assert jobs.tick(rq_container)["webhooks_woke"] == 1
    drain(rq_container)
    assert statuses(rq_container) == ["succeeded", "succeeded"]
    assert len(receiver.received) == 2
