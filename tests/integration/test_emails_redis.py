"""Shopper emails through RQ and a real Redis: the commit that queued an email enqueues
one job on the `outbound` queue, and a worker sends it through a real SMTP server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from redis import Redis
from sqlalchemy import select

from plugin_server import create_app, jobs
from plugin_server.bootstrap import Container, bootstrap
from plugin_server.db.models import EmailMessage
from plugin_server.sandbox.smtp_sink import SmtpSink
from plugin_server.settings import Settings
from tests.conftest import FakeClock, make_shop, post
from tests.integration.test_jobs_redis import REDIS_URL, drain, order_delivery


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as running:
        yield running


@pytest.fixture
def rq_container(
    settings: Settings, clock: FakeClock, redis_conn: Redis, sink: SmtpSink
) -> Iterator[Container]:
    c = bootstrap(
        settings.with_overrides(redis_url=REDIS_URL, smtp_url=sink.url),
        redis=redis_conn,
        clock=clock,
    )
    jobs.set_worker_container(c)
    yield c
    jobs.set_worker_container(None)
    c.engine.dispose()


def statuses(c: Container) -> list[str]:
    with c.session_factory() as s:
        return list(s.scalars(select(EmailMessage.status).order_by(EmailMessage.id)))


def test_a_worker_sends_what_the_commit_queued_once(
    rq_container: Container, sink: SmtpSink
) -> None:
    assert rq_container.redis is not None
    shop = make_shop(rq_container, "shopify", "rq-shop.myshopify.com")
    client = create_app(container=rq_container).test_client()
    r = client.patch(
        "/api/v1/email-settings", json={"types": {"points_earned": True}}, headers=shop.auth
    )
    assert r.status_code == 200
    post(client, order_delivery(shop, 1))
    # One burst: the drain applies the order (queuing the email in its transaction), its
    # commit enqueues the email job, and the same worker sends it.
    drain(rq_container)
    assert statuses(rq_container) == ["sent"]
    assert [m["To"] for m in sink.messages] == ["r@example.com"]
    assert rq_container.redis.get(jobs.EMAILS_FLAG) is None
    # The same order delivered again and a second worker run send nothing more.
    post(client, order_delivery(shop, 1))
    drain(rq_container)
    rq_container.dispatcher.send_emails()
    drain(rq_container)
    assert statuses(rq_container) == ["sent"]
    assert len(sink.messages) == 1
