"""Shopper emails end to end: events queue emails in their own transaction, settings and
templates through the admin API, sending through a real SMTP server on 127.0.0.1 (with
retries), unsubscribing through the signed link, and redaction."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal as D
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from plugin_server import jobs
from plugin_server.bootstrap import Container, bootstrap
from plugin_server.db import email_outbox, repositories
from plugin_server.db.models import (
    Customer,
    EmailMessage,
    EmailUnsubscribe,
    LedgerEntry,
    LoyaltyEvent,
)
from plugin_server.domain import emails as rules
from plugin_server.sandbox.smtp_sink import SmtpSink
from plugin_server.services import emails
from plugin_server.settings import Settings
from plugin_server.simulate import shopify_order, sign_shopify
from tests.conftest import SHOPIFY_SECRET, FakeClock, ShopHandle, make_shop, post

ANN = 501


class CountingDispatcher(jobs.InlineDispatcher):
    """Waking the email sender is only counted: the tests send, one step at a time."""

    def __init__(self, container: Container) -> None:
        super().__init__(container)
        self.email_wakes = 0

    def send_emails(self) -> None:
        self.email_wakes += 1


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as running:
        yield running


@pytest.fixture
def container(settings: Settings, clock: FakeClock) -> Iterator[Container]:
    c = bootstrap(
        settings.with_overrides(
            email_max_attempts=3, email_retry_base_s=60, email_retry_cap_s=600, email_lease_s=60
        ),
        clock=clock,
    )
    c.dispatcher = CountingDispatcher(c)
    yield c
    c.close()


def send(container: Container, sink: SmtpSink) -> dict[str, int]:
    """What `loyalty emails send-due` does, with SMTP_URL pointing at the sink."""
    c = container
    return emails.send_due(
        c.uow,
        emails.SmtpMailer.from_url(sink.url, timeout_s=5),
        emails.SendPolicy.from_settings(c.settings),
        clock=c.clock,
    )


def order(
    client: FlaskClient,
    shop: ShopHandle,
    order_id: int,
    subtotal: str,
    *,
    customer: int = ANN,
    email: str | None = "ann@example.com",
) -> None:
    r = post(
        client,
        sign_shopify(
            shopify_order(
                order_id=order_id, email=email, subtotal=D(subtotal), customer_id=customer
            ),
            topic="orders/paid",
            shop_domain=shop.domain,
            secret=SHOPIFY_SECRET,
        ),
    )
    assert r.status_code == 200, r.json


def switch(client: FlaskClient, shop: ShopHandle, **types: bool) -> dict[str, Any]:
    r = client.patch("/api/v1/email-settings", json={"types": types}, headers=shop.auth)
    assert r.status_code == 200, r.json
    return r.json


def outbox(c: Container) -> list[EmailMessage]:
    with c.session_factory() as s:
        return list(s.scalars(select(EmailMessage).order_by(EmailMessage.id)))


def customer_id(c: Container, shop: ShopHandle, ref: int = ANN) -> int:
    with c.session_factory() as s:
        found = s.scalar(
            select(Customer.id).where(
                Customer.shop_id == shop.id, Customer.customer_ref == str(ref)
            )
        )
        assert found is not None
        return found


def test_settings_default_sensibly_and_change(
    client: FlaskClient, shopify_shop: ShopHandle
) -> None:
    r = client.get("/api/v1/email-settings", headers=shopify_shop.auth)
    assert r.json == {
        "sender_name": None,
        "sender_address": None,
        "locale": "en",
        "types": {t: t != "points_earned" for t in rules.TYPES},
        "smtp_configured": False,
    }
    r = client.patch(
        "/api/v1/email-settings",
        json={
            "sender_name": "Ann's Teas",
            "sender_address": "hello@anns.example",
            "locale": "vi",
            "types": {"points_earned": True, "tier_changed": False},
        },
        headers=shopify_shop.auth,
    )
    assert r.status_code == 200, r.json
    assert r.json["types"]["points_earned"] is True
    assert r.json["types"]["tier_changed"] is False
    assert r.json["types"]["birthday_bonus"] is True
    assert r.json["locale"] == "vi"
    bad = client.patch(
        "/api/v1/email-settings",
        json={"sender_address": "not an address"},
        headers=shopify_shop.auth,
    )
    assert bad.status_code == 400
    assert bad.json["error"]["fields"] == {"sender_address": "not an email address"}
    assert (
        client.patch(
            "/api/v1/email-settings", json={"types": {"spam": True}}, headers=shopify_shop.auth
        ).status_code
        == 400
    )


def test_templates_list_get_update_reset_and_preview(
    client: FlaskClient, shopify_shop: ShopHandle
) -> None:
    auth = shopify_shop.auth
    listed = client.get("/api/v1/email-templates", headers=auth).json["email_templates"]
    assert len(listed) == len(rules.TYPES) * 3
    assert not any(t["customized"] for t in listed)

    got = client.get("/api/v1/email-templates/tier_changed?locale=th", headers=auth).json
    assert got["locale"] == "th"
    assert "ระดับ" in got["subject"]

    r = client.patch(
        "/api/v1/email-templates/points_earned?locale=vi",
        json={"subject": "{{ points }} điểm mới!", "body_html": "<p>Chào {{ customer_name }}</p>"},
        headers=auth,
    )
    assert r.status_code == 200, r.json
    assert r.json["customized"] is True
    assert r.json["body_text"] == rules.default_template("points_earned", "vi").body_text

    preview = client.post(
        "/api/v1/email-templates/points_earned/preview?locale=vi", json={}, headers=auth
    )
    assert preview.status_code == 200, preview.json
    assert preview.json["subject"] == "120 điểm mới!"
    assert preview.json["body_html"].startswith("<p>Chào Linh</p>")
    draft = client.post(
        "/api/v1/email-templates/points_earned/preview?locale=vi",
        json={"subject": "Nháp {{ points }}"},
        headers=auth,
    )
    assert draft.json["subject"] == "Nháp 120"  # not saved:
    saved = client.get("/api/v1/email-templates/points_earned?locale=vi", headers=auth).json
    assert saved["subject"] == "{{ points }} điểm mới!"

    reset = client.post("/api/v1/email-templates/points_earned/reset?locale=vi", headers=auth)
    assert reset.status_code == 200
    assert reset.json["customized"] is False
    assert reset.json["subject"] == rules.default_template("points_earned", "vi").subject

    assert client.get("/api/v1/email-templates/nope", headers=auth).status_code == 404
    assert (
        client.get("/api/v1/email-templates/tier_changed?locale=fr", headers=auth).status_code
        == 400
    )


def test_invalid_template_syntax_is_refused_naming_field_and_line(
    client: FlaskClient, shopify_shop: ShopHandle
) -> None:
    r = client.patch(
        "/api/v1/email-templates/tier_changed?locale=en",
        json={"body_text": "Hello\n{% if tier_name %}\nno end"},
        headers=shopify_shop.auth,
    )
    assert r.status_code == 400
    assert r.json["error"]["code"] == "invalid_template"
    assert list(r.json["error"]["fields"]) == ["body_text"]
    assert r.json["error"]["fields"]["body_text"].startswith("line ")
    sneaky = client.post(
        "/api/v1/email-templates/tier_changed/preview",
        json={"subject": "{{ ''.__class__.__mro__ }}"},
        headers=shopify_shop.auth,
    )
    assert sneaky.status_code == 400
    assert sneaky.json["error"]["code"] == "invalid_template"
    # Nothing was saved.
    got = client.get("/api/v1/email-templates/tier_changed", headers=shopify_shop.auth).json
    assert got["customized"] is False


def test_templates_and_emails_are_scoped_to_the_shop(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle
) -> None:
    other = make_shop(container, "shopify", "other.myshopify.com", access_token="shpat_y")
    switch(client, shopify_shop, points_earned=True)
    order(client, shopify_shop, 1, "30.00")
    client.patch(
        "/api/v1/email-templates/points_earned",
        json={"subject": "Mine"},
        headers=shopify_shop.auth,
    )
    assert client.get("/api/v1/emails", headers=other.auth).json["emails"] == []
    theirs = client.get("/api/v1/email-templates/points_earned", headers=other.auth).json
    assert theirs["customized"] is False
    mine = client.get("/api/v1/emails", headers=shopify_shop.auth).json["emails"]
    assert len(mine) == 1
    assert client.get(f"/api/v1/emails/{mine[0]['id']}", headers=other.auth).status_code == 404


def test_points_earned_is_kept_in_the_outbox_without_smtp_then_sent_once(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle, sink: SmtpSink
) -> None:
    order(client, shopify_shop, 1, "30.00")
    assert outbox(container) == []  # points_earned is off by default
    switch(client, shopify_shop, points_earned=True)
    order(client, shopify_shop, 2, "40.00")
    assert container.dispatcher.email_wakes == 1  # after the commit that queued it
    # The embedded default: no SMTP_URL, nothing is sent, the email is listed.
    assert jobs.run_emails(container)["sent"] == 0
    listed = client.get("/api/v1/emails", headers=shopify_shop.auth).json["emails"]
    assert [(e["type"], e["status"], e["customer_id"]) for e in listed] == [
        ("points_earned", "pending", str(ANN))
    ]

    assert send(container, sink)["sent"] == 1
    assert send(container, sink)["sent"] == 0  # a second run sends nothing again
    (message,) = sink.messages
    assert message["To"] == "ann@example.com"
    assert message["Subject"] == "You earned 40 points at test-shop.myshopify.com"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = message["List-Unsubscribe"].strip("<>")
    assert link.startswith(container.settings.public_url + "/email/unsubscribe?token=")
    text = message.get_body(("plain",)).get_content()
    assert "Hi Demo," in text
    assert "Your balance is now 70 points." in text
    assert link in text
    logged = client.get("/api/v1/emails?status=sent", headers=shopify_shop.auth).json["emails"]
    assert logged[0]["to"] == "ann@example.com"
    assert logged[0]["attempts"] == 1
    assert logged[0]["sent_at"] is not None


def test_an_event_written_twice_queues_one_email(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle, sink: SmtpSink
) -> None:
    switch(client, shopify_shop, points_earned=True)
    order(client, shopify_shop, 7, "25.00")
    order(client, shopify_shop, 7, "25.00")  # the same webhook again (a new delivery id)
    assert len(outbox(container)) == 1
    with container.uow() as uow:
        ids = list(uow.session.scalars(select(LedgerEntry.id)))
        # Publishing the same rows again (a replayed bulk path) adds nothing.
        assert email_outbox.publish(uow.session, LedgerEntry, ids) == 0
        uow.commit()
    assert send(container, sink)["sent"] == 1
    assert send(container, sink)["sent"] == 0
    assert len(sink.messages) == 1


def test_switched_off_nothing_is_queued_or_sent(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle, sink: SmtpSink
) -> None:
    switch(client, shopify_shop, points_earned=True)
    order(client, shopify_shop, 1, "30.00")
    switch(client, shopify_shop, points_earned=False)
    order(client, shopify_shop, 2, "30.00")
    assert len(outbox(container)) == 1  # the second order queued nothing
    counts = send(container, sink)
    assert counts["skipped"] == 1
    assert sink.messages == []
    (row,) = outbox(container)
    assert (row.status, row.last_error) == ("skipped", "switched off")


def test_a_refusing_server_is_retried_with_backoff_until_it_recovers(
    client: FlaskClient,
    container: Container,
    shopify_shop: ShopHandle,
    sink: SmtpSink,
    clock: FakeClock,
) -> None:
    switch(client, shopify_shop, points_earned=True)
    order(client, shopify_shop, 1, "30.00")
    sink.refuse(2)
    assert send(container, sink)["retry"] == 1
    (row,) = outbox(container)
    assert (row.status, row.attempts) == ("pending", 1)
    assert "451" in (row.last_error or "")
    assert row.next_attempt_at >= clock() + timedelta(seconds=29)  # backoff, with jitter
    assert send(container, sink)["sent"] == 0  # not due yet
    clock.advance(seconds=61)
    assert send(container, sink)["retry"] == 1
    clock.advance(seconds=121)
    assert send(container, sink)["sent"] == 1
    (row,) = outbox(container)
    assert (row.status, row.attempts, row.last_error) == ("sent", 3, None)
    assert len(sink.messages) == 1


def test_attempts_run_out_and_a_dead_server_fails_the_email(
    client: FlaskClient,
    container: Container,
    shopify_shop: ShopHandle,
    sink: SmtpSink,
    clock: FakeClock,
) -> None:
    switch(client, shopify_shop, points_earned=True)
    order(client, shopify_shop, 1, "30.00")
    sink.refuse(10)
    for _ in range(3):
        send(container, sink)
        clock.advance(seconds=700)
    (row,) = outbox(container)
    assert (row.status, row.attempts) == ("failed", 3)
    sink.refuse(0)
    assert send(container, sink)["sent"] == 0
    assert sink.messages == []


def test_a_send_interrupted_midway_is_never_sent_again(
    client: FlaskClient,
    container: Container,
    shopify_shop: ShopHandle,
    sink: SmtpSink,
    clock: FakeClock,
) -> None:
    switch(client, shopify_shop, points_earned=True)
    order(client, shopify_shop, 1, "30.00")
    # A worker claimed it and died before recording the outcome.
    claimed = emails._claim(container.uow(), now=clock(), lease=timedelta(seconds=60), limit=5)
    assert len(claimed) == 1
    assert send(container, sink)["sent"] == 0  # still leased
    clock.advance(seconds=61)
    assert send(container, sink)["interrupted"] == 1
    (row,) = outbox(container)
    assert row.status == "failed"
    assert sink.messages == []


def test_unsubscribe_link_works_and_stops_every_later_email(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle, sink: SmtpSink
) -> None:
    switch(client, shopify_shop, points_earned=True)
    order(client, shopify_shop, 1, "30.00")
    send(container, sink)
    link = sink.messages[0]["List-Unsubscribe"].strip("<>")
    url = urlsplit(link)
    path = f"{url.path}?{url.query}"

    page = client.get(path)
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    assert 'method="post"' in page.get_data(as_text=True)
    with container.session_factory() as s:  # a GET changes nothing (link scanners)
        assert s.scalar(select(func.count()).select_from(EmailUnsubscribe)) == 0

    # RFC 8058 one-click: the mail client POSTs this body to the link.
    done = client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    assert "unsubscribed" in done.get_data(as_text=True)
    assert client.post(path).status_code == 200  # idempotent
    with container.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(EmailUnsubscribe)) == 1

    order(client, shopify_shop, 2, "30.00")
    counts = send(container, sink)
    assert counts == {"sent": 0, "retry": 0, "failed": 0, "skipped": 1, "interrupted": 0}
    assert len(sink.messages) == 1
    assert outbox(container)[-1].last_error == "unsubscribed"


def test_forged_expired_and_other_shop_tokens_are_refused(
    client: FlaskClient,
    container: Container,
    shopify_shop: ShopHandle,
    clock: FakeClock,
) -> None:
    order(client, shopify_shop, 1, "30.00")
    other = make_shop(container, "shopify", "other.myshopify.com", access_token="shpat_y")
    order(client, other, 2, "30.00", customer=ANN + 1, email="bob@example.com")
    ann = customer_id(container, shopify_shop)
    secret = container.settings.secret_key
    later = clock() + timedelta(days=30)

    def status(token: str) -> int:
        return client.post(f"/email/unsubscribe?token={token}").status_code

    good = rules.unsubscribe_token(secret, shopify_shop.id, ann, expires_at=later)
    forged_shop = good.replace(f"{shopify_shop.id}.{ann}.", f"{other.id}.{ann}.", 1)
    assert status(forged_shop) == 400
    assert status(good[:-2] + ("AA" if not good.endswith("AA") else "BB")) == 400
    assert (
        status(
            rules.unsubscribe_token("another-secret-123", shopify_shop.id, ann, expires_at=later)
        )
        == 400
    )
    # Signed by us, but Ann is not a customer of the other shop.
    assert status(rules.unsubscribe_token(secret, other.id, ann, expires_at=later)) == 400
    assert status("") == 400
    expired = rules.unsubscribe_token(
        secret, shopify_shop.id, ann, expires_at=clock() - timedelta(seconds=1)
    )
    r = client.get(f"/email/unsubscribe?token={expired}")
    assert r.status_code == 400
    assert "expired" in r.get_data(as_text=True)
    with container.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(EmailUnsubscribe)) == 0
    assert status(good) == 200


def test_the_public_route_is_rate_limited(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle
) -> None:
    answers = [client.get("/email/unsubscribe?token=x").status_code for _ in range(31)]
    assert answers[:30] == [400] * 30
    limited = client.get("/email/unsubscribe?token=x")
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1


def test_each_event_kind_becomes_its_email(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle, clock: FakeClock
) -> None:
    r = client.post(
        "/api/v1/rewards",
        json={
            "name": "$5 off <b>now</b>",
            "kind": "fixed_amount",
            "points_cost": 50,
            "amount": "5.00",
            "currency": "usd",
            "code_valid_days": 30,
        },
        headers=shopify_shop.auth,
    )
    assert r.status_code == 201, r.json
    order(client, shopify_shop, 1, "30.00")  # 30 points: not yet
    order(client, shopify_shop, 2, "30.00")  # 60 points: the reward is unlocked
    order(client, shopify_shop, 3, "30.00")  # 90: still unlocked, no new email
    ann = customer_id(container, shopify_shop)
    now = clock()
    with container.uow() as uow:
        s = uow.session
        for kind, payload, key in (
            ("tier_changed", {"from": None, "to": "Gold", "direction": "up"}, "t1"),
            ("tier_changed", {"from": "Gold", "to": None, "direction": "down"}, "t2"),
            ("points_expiring", {"points": 40, "expires_at": "2027-01-31T00:00:00+00:00"}, "x1"),
            ("referral_rewarded", {"referral_id": 9}, "r1"),
        ):
            repositories.insert_ignoring_conflict(
                s,
                LoyaltyEvent,
                {
                    "shop_id": shopify_shop.id,
                    "customer_id": ann,
                    "kind": kind,
                    "payload": json.dumps(payload),
                    "dedupe_key": key,
                    "created_at": now,
                },
                ("shop_id", "dedupe_key"),
            )
        repositories.insert_ignoring_conflict(
            s,
            LedgerEntry,
            {
                "shop_id": shopify_shop.id,
                "customer_id": ann,
                "points": 25,
                "kind": "rule_bonus",
                "reason": "Points for Birthday",
                "source_type": "rule",
                "source_ref": "birthday",
                "order_id": None,
                "idempotency_key": f"rule:birthday:{ann}:2026",
                "created_at": now,
                "available_at": now,
            },
            ("shop_id", "idempotency_key"),
        )
        uow.commit()
    rows = outbox(container)
    assert [(m.type, json.loads(m.data)) for m in rows] == [
        ("reward_unlocked", {"reward_name": "$5 off <b>now</b>", "reward_cost": 50}),
        ("tier_changed", {"tier_name": "Gold", "previous_tier": "", "direction": "up"}),
        ("points_expiring", {"points": 40, "expires_on": "2027-01-31"}),
        ("referral_rewarded", {}),
        ("birthday_bonus", {"points": 25}),
    ]


def test_emails_follow_the_shop_language(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle, sink: SmtpSink
) -> None:
    client.patch(
        "/api/v1/email-settings",
        json={"locale": "th", "sender_name": "ร้านชา", "types": {"points_earned": True}},
        headers=shopify_shop.auth,
    )
    order(client, shopify_shop, 1, "30.00")
    assert send(container, sink)["sent"] == 1
    (message,) = sink.messages
    assert message["Subject"] == "คุณได้รับ 30 คะแนนจาก ร้านชา"
    assert "ร้านชา" in message["From"]
    assert "ยกเลิกการรับอีเมล" in message.get_body(("plain",)).get_content()
    (row,) = outbox(container)
    assert row.locale == "th"


def test_redaction_removes_the_customers_emails(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle, sink: SmtpSink
) -> None:
    from tests.integration.test_privacy import CUSTOMER, sample
    from tests.integration.test_privacy import send as send_webhook

    switch(client, shopify_shop, points_earned=True)
    order(client, shopify_shop, 1, "30.00", customer=CUSTOMER, email="john@example.com")
    order(client, shopify_shop, 2, "30.00", customer=ANN)
    send(container, sink)
    order(client, shopify_shop, 3, "30.00", customer=CUSTOMER, email="john@example.com")
    assert len(outbox(container)) == 3
    r = send_webhook(
        client, shopify_shop, "customers/redact", sample("customers_redact", shopify_shop)
    )
    assert r.status_code == 200
    left = outbox(container)
    assert [(m.customer_id, m.to_address) for m in left] == [
        (customer_id(container, shopify_shop, ANN), "ann@example.com")
    ]
    with container.session_factory() as s:
        stored = " ".join(
            str(v)
            for m in s.scalars(select(EmailMessage))
            for v in (m.data, m.subject, m.to_address)
        )
    assert "john" not in stored
    assert re.search(r"john@example\.com", stored) is None


def test_cli_lists_previews_and_sends(
    client: FlaskClient,
    container: Container,
    shopify_shop: ShopHandle,
    sink: SmtpSink,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from click.testing import CliRunner

    from plugin_server import cli

    settings = container.settings
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("LOYALTY_SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("SHOPIFY_API_SECRET", SHOPIFY_SECRET)
    monkeypatch.setenv("LOYALTY_INSTANCE_PATH", str(settings.instance_path))
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("SMTP_URL", raising=False)
    runner = CliRunner()
    switch(client, shopify_shop, points_earned=True)
    order(client, shopify_shop, 1, "30.00")

    listed = runner.invoke(cli.main, ["emails", "list", "--shop", str(shopify_shop.id)])
    assert listed.exit_code == 0, listed.output
    assert [e["status"] for e in json.loads(listed.output)] == ["pending"]

    held = runner.invoke(cli.main, ["emails", "send-due"])
    assert held.exit_code == 1
    assert "SMTP_URL is not set: 1 pending email(s) kept in the outbox" in held.output

    preview = runner.invoke(
        cli.main,
        ["emails", "preview", "--shop", str(shopify_shop.id), "--locale", "vi", "points_earned"],
    )
    assert preview.exit_code == 0, preview.output
    assert preview.output.startswith("Subject: Bạn vừa nhận được 120 điểm")

    monkeypatch.setenv("SMTP_URL", sink.url)
    sent = runner.invoke(cli.main, ["emails", "send-due"])
    assert sent.exit_code == 0, sent.output
    assert json.loads(sent.output)["sent"] == 1
    assert len(sink.messages) == 1


def _all_off(c: Container, shop_id: int) -> None:
    emails.update_settings(
        c.uow(), shop_id, {"types": dict.fromkeys(rules.TYPES, False)}, smtp=False, now=c.clock()
    )


def _events(c: Container, shop_id: int, kind: str) -> list[LoyaltyEvent]:
    with c.session_factory() as s:
        return list(
            s.scalars(
                select(LoyaltyEvent).where(
                    LoyaltyEvent.shop_id == shop_id, LoyaltyEvent.kind == kind
                )
            )
        )


def _emails_of(c: Container, shop_id: int, type_: str) -> list[EmailMessage]:
    return [m for m in outbox(c) if m.shop_id == shop_id and m.type == type_]


def test_bulk_expiry_queues_one_reminder_email_per_reminder(
    container: Container, shopify_shop: ShopHandle
) -> None:
    from plugin_server.services import expiry
    from tests.integration import test_expiry_bulk

    quiet = make_shop(container, "shopify", "quiet.myshopify.com", access_token="shpat_q")
    _all_off(container, quiet.id)
    for shop in (shopify_shop, quiet):
        test_expiry_bulk.populate(container, shop.id, 4)
        test_expiry_bulk.set_policy(container, shop.id, "inactivity", 14)
    before = {e.id for e in _events(container, shopify_shop.id, "points_expiring")}
    now = test_expiry_bulk.NOW
    run = expiry.expire_shop(container.uow, shopify_shop.id, now=now, chunk=7)
    quiet_run = expiry.expire_shop(container.uow, quiet.id, now=now, chunk=7)
    new = [e for e in _events(container, shopify_shop.id, "points_expiring") if e.id not in before]
    assert run["reminders"] == len(new) > 0
    queued = _emails_of(container, shopify_shop.id, "points_expiring")
    assert sorted(m.source_key for m in queued) == sorted(f"event:{e.id}" for e in new)
    assert all(json.loads(m.data)["points"] > 0 for m in queued)
    # Emails off: the same work, no email.
    assert quiet_run["reminders"] > 0
    assert _emails_of(container, quiet.id, "points_expiring") == []
    expiry.expire_shop(container.uow, shopify_shop.id, now=now, chunk=7)
    assert len(_emails_of(container, shopify_shop.id, "points_expiring")) == len(queued)


def test_bulk_tier_recalculation_queues_tier_emails(
    container: Container, shopify_shop: ShopHandle
) -> None:
    from sqlalchemy import update

    from plugin_server.db.models import Shop
    from plugin_server.services import tiers
    from tests.integration import test_tiers_bulk

    quiet = make_shop(container, "shopify", "quiet.myshopify.com", access_token="shpat_q")
    _all_off(container, quiet.id)
    for shop in (shopify_shop, quiet):
        test_tiers_bulk.populate(container, shop.id, 1, amounts=False)
        with container.uow() as uow:
            uow.session.execute(
                update(Shop).where(Shop.id == shop.id).values(tiers_changed_at=test_tiers_bulk.NOW)
            )
            uow.commit()
    before = {e.id for e in _events(container, shopify_shop.id, "tier_changed")}
    for shop in (shopify_shop, quiet):
        tiers.recalculate_shop(
            container.uow, shop.id, now=test_tiers_bulk.NOW, from_scratch=True, chunk=7
        )
    new = [
        e
        for e in _events(container, shopify_shop.id, "tier_changed")
        if e.id not in before and json.loads(e.payload)["to"]
    ]
    assert new
    queued = _emails_of(container, shopify_shop.id, "tier_changed")
    assert sorted(m.source_key for m in queued) == sorted(f"event:{e.id}" for e in new)
    assert _emails_of(container, quiet.id, "tier_changed") == []


def test_with_smtp_the_embedded_default_sends_right_after_the_commit(
    settings: Settings, clock: FakeClock, sink: SmtpSink
) -> None:
    from plugin_server import create_app
    from tests.contract import ContractClient

    c = bootstrap(settings.with_overrides(smtp_url=sink.url), clock=clock)
    try:
        assert isinstance(c.dispatcher, jobs.InlineDispatcher)
        app = create_app(container=c)
        app.test_client_class = ContractClient
        client = app.test_client()
        shop = make_shop(c, "shopify", "test-shop.myshopify.com", access_token="shpat_x")
        switch(client, shop, points_earned=True)
        assert client.get("/api/v1/email-settings", headers=shop.auth).json["smtp_configured"]
        order(client, shop, 1, "30.00")
        c.dispatcher.join_emails(timeout=30)
        assert [m["Subject"] for m in sink.messages] == [
            "You earned 30 points at test-shop.myshopify.com"
        ]
        assert [m.status for m in outbox(c)] == ["sent"]
    finally:
        c.close()


def test_a_data_request_lists_the_customers_emails(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle, sink: SmtpSink
) -> None:
    from tests.integration.test_privacy import CUSTOMER, sample
    from tests.integration.test_privacy import send as send_webhook

    switch(client, shopify_shop, points_earned=True)
    order(client, shopify_shop, 1, "30.00", customer=CUSTOMER, email="john@example.com")
    send(container, sink)
    r = send_webhook(
        client,
        shopify_shop,
        "customers/data_request",
        sample("customers_data_request", shopify_shop),
    )
    assert r.status_code == 200
    [summary] = client.get("/api/v1/data-exports", headers=shopify_shop.auth).json["data_exports"]
    data = client.get(f"/api/v1/data-exports/{summary['id']}", headers=shopify_shop.auth).json[
        "data"
    ]
    assert [(e["type"], e["status"], e["to"]) for e in data["emails"]] == [
        ("points_earned", "sent", "john@example.com")
    ]
    assert data["customers"][0]["emails_unsubscribed"] is False


def test_the_tick_wakes_the_sender_only_with_smtp_and_due_emails(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle, sink: SmtpSink
) -> None:
    switch(client, shopify_shop, points_earned=True)
    order(client, shopify_shop, 1, "30.00")
    wakes = container.dispatcher.email_wakes
    assert jobs.tick(container)["emails_woke"] == 0  # no SMTP_URL: kept in the outbox
    container.settings = container.settings.with_overrides(smtp_url=sink.url)
    assert jobs.tick(container)["emails_woke"] == 1
    assert container.dispatcher.email_wakes == wakes + 1
    send(container, sink)
    assert jobs.tick(container)["emails_woke"] == 0  # nothing due any more
