"""The admin app's notification pages: outbound webhooks (endpoints, the secret shown
once, the delivery log with replay) and emails to shoppers (settings, templates with a
sandboxed preview, the log). Forms show the JSON API's own messages; everything is
scoped to the signed-in merchant's shop; merchant text is never HTML in the admin page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from plugin_server import create_app, demo, jobs
from plugin_server.bootstrap import Container, bootstrap
from plugin_server.db.models import EmailTemplate, WebhookDelivery, WebhookEndpoint
from plugin_server.domain import emails as email_domain
from plugin_server.services import emails, outbound_webhooks
from plugin_server.settings import Settings
from tests.conftest import FakeClock, ShopHandle, make_shop
from tests.integration.test_admin_app import EVIL, cookie_client, csrf_of, session_token
from tests.webhook_receiver import Receiver

IMG_EVIL = '<img src=x onerror="alert(2)">'
SECRET = re.compile(r"whsec_[A-Za-z0-9_-]{20,}")


@pytest.fixture
def receiver(clock: FakeClock) -> Iterator[Receiver]:
    r = Receiver(clock).start()
    yield r
    r.stop()


def token_of(client: FlaskClient, path: str = "/admin/webhooks") -> str:
    return csrf_of(client.get(path).get_data(as_text=True))


def register(
    client: FlaskClient, url: str, topics: list[str] | None = None, **extra: str
) -> tuple[int, str]:
    r = client.post(
        "/admin/webhooks",
        data={
            "url": url,
            "topics": topics or ["points.earned"],
            "csrf_token": token_of(client),
            **extra,
        },
    )
    return r.status_code, r.get_data(as_text=True)


def deliver(container: Container) -> None:
    """Let the in-process delivery worker the commit woke finish, then drain what is due."""
    assert isinstance(container.dispatcher, jobs.InlineDispatcher)
    container.dispatcher.join_webhooks(10)
    jobs.run_deliveries(container)


def endpoint_rows(container: Container) -> list[WebhookEndpoint]:
    with container.session_factory() as s:
        return list(s.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id)))


def api_error(client: FlaskClient, method: str, path: str, shop: ShopHandle, body: Any) -> Any:
    r = getattr(client, method)(f"/api/v1{path}", json=body, headers=shop.auth)
    assert r.status_code >= 400, r.json
    return r.status_code, r.json["error"]


# --- webhooks ---------------------------------------------------------------------------------


def test_registering_shows_the_secret_once_and_it_verifies_deliveries(
    signed_in: FlaskClient, container: Container, demo_shop: ShopHandle, receiver: Receiver
) -> None:
    status, html = register(
        signed_in, receiver.url, ["points.earned", "tier.changed"], description="CRM"
    )
    assert status == 201
    found = SECRET.findall(html)
    assert len(set(found)) == 1
    secret = found[0]
    assert "X-Loyalty-Signature" in html
    assert "HMAC-SHA256" in html
    assert 'data-copy="webhook-secret"' in html
    # Stored encrypted, never again on a page.
    (row,) = endpoint_rows(container)
    assert secret.encode() not in bytes(row.secret_enc)
    for path in (
        "/admin/webhooks",
        "/admin/webhooks/deliveries",
        f"/admin/webhooks/{row.id}/delete",
    ):
        page = signed_in.get(path).get_data(as_text=True)
        assert "whsec_" not in page
        assert receiver.url in page
    # The session cookie does not carry it either.
    cookie = signed_in.get_cookie("loyalty_admin", path="/admin")
    assert cookie is not None
    assert secret not in cookie.value
    # The secret shown is the one deliveries are signed with.
    receiver.secrets.append(secret)
    ping = signed_in.post(
        f"/admin/webhooks/{row.id}/ping", data={"csrf_token": token_of(signed_in)}
    )
    assert ping.status_code == 303
    deliver(container)
    assert len(receiver.received) == 1
    assert receiver.received[-1].verified == {secret: True}
    log = signed_in.get(f"/admin/webhooks/deliveries?endpoint_id={row.id}").get_data(as_text=True)
    assert "Delivered" in log
    assert ">204<" in log


def test_rotating_shows_the_new_secret_once(
    signed_in: FlaskClient, container: Container, demo_shop: ShopHandle, receiver: Receiver
) -> None:
    _, html = register(signed_in, receiver.url)
    first = SECRET.findall(html)[0]
    (row,) = endpoint_rows(container)
    r = signed_in.post(f"/admin/webhooks/{row.id}/rotate", data={"csrf_token": token_of(signed_in)})
    assert r.status_code == 200
    rotated = r.get_data(as_text=True)
    second = SECRET.findall(rotated)[0]
    assert second != first
    assert "previous secret too" in rotated
    assert "whsec_" not in signed_in.get("/admin/webhooks").get_data(as_text=True)


@pytest.mark.parametrize(
    ("form", "api_body"),
    [
        ({"url": "ftp://example.com/x"}, {"url": "ftp://example.com/x"}),
        ({"url": ""}, {"url": ""}),
        ({"url": "https://user:pw@example.com/"}, {"url": "https://user:pw@example.com/"}),
        ({"topics": []}, {"topics": []}),
        ({"topics": ["points.nope"]}, {"topics": ["points.nope"]}),
        ({"description": "x" * 300}, {"description": "x" * 300}),
    ],
)
def test_endpoint_form_shows_the_apis_messages(
    signed_in: FlaskClient,
    client: FlaskClient,
    container: Container,
    demo_shop: ShopHandle,
    form: dict[str, Any],
    api_body: dict[str, Any],
) -> None:
    base = {"url": "https://hooks.example.com/in", "topics": ["points.earned"]}
    status, error = api_error(client, "post", "/webhook-endpoints", demo_shop, {**base, **api_body})
    data = {**base, **form, "csrf_token": token_of(signed_in)}
    r = signed_in.post("/admin/webhooks", data=data)
    assert r.status_code == status
    html = r.get_data(as_text=True)
    field = next(iter(error.get("fields") or {"x": ""})).split(".")[0]
    message = (error.get("fields") or {}).get(next(iter(error.get("fields") or {}), ""), "")
    expected = message or error["message"]
    assert expected.replace("'", "&#39;") in html
    assert f'id="f-{field}-error"' in html or field == "x"
    assert endpoint_rows(container) == []
    if form.get("url"):
        assert f'value="{form["url"]}"' in html  # kept as typed


def test_a_refused_private_address_shows_the_services_message(
    settings: Settings, clock: FakeClock
) -> None:
    c = bootstrap(settings.with_overrides(webhook_allow_private=False), clock=clock)
    try:
        app = create_app(container=c)
        make_shop(c, "shopify", demo.DEMO_DOMAIN, access_token="shpat_demo")
        client = cookie_client(app, c, demo.DEMO_DOMAIN)
        status, html = register(client, "http://127.0.0.1:8080/hook")
        assert status == 400
        assert "127.0.0.1 resolves to a private or reserved address" in html
        assert 'value="http://127.0.0.1:8080/hook"' in html
        assert endpoint_rows(c) == []
    finally:
        c.close()


def test_the_endpoint_limit_answers_409(
    signed_in: FlaskClient, container: Container, demo_shop: ShopHandle
) -> None:
    for n in range(outbound_webhooks.MAX_ENDPOINTS):
        assert register(signed_in, f"https://h{n}.example.com/x")[0] == 201
    status, html = register(signed_in, "https://one-more.example.com/x")
    assert status == 409
    assert "a shop may have 10 webhook endpoints; delete one first" in html


def test_switch_off_and_on_ping_refused_when_off_and_delete_after_confirming(
    signed_in: FlaskClient, container: Container, demo_shop: ShopHandle, receiver: Receiver
) -> None:
    register(signed_in, receiver.url)
    (row,) = endpoint_rows(container)
    token = token_of(signed_in)
    off = signed_in.post(
        f"/admin/webhooks/{row.id}/active",
        data={"active": "0", "csrf_token": token},
        follow_redirects=True,
    )
    assert "The endpoint is off" in off.get_data(as_text=True)
    assert endpoint_rows(container)[0].active is False
    refused = signed_in.post(f"/admin/webhooks/{row.id}/ping", data={"csrf_token": token})
    assert refused.status_code == 409
    assert f"webhook endpoint {row.id} is disabled" in refused.get_data(as_text=True)
    signed_in.post(f"/admin/webhooks/{row.id}/active", data={"active": "1", "csrf_token": token})
    assert endpoint_rows(container)[0].active is True
    confirm = signed_in.get(f"/admin/webhooks/{row.id}/delete").get_data(as_text=True)
    assert "Delete this endpoint?" in confirm
    assert endpoint_rows(container)[0].deleted_at is None  # asking deletes nothing
    done = signed_in.post(
        f"/admin/webhooks/{row.id}/delete", data={"csrf_token": token}, follow_redirects=True
    )
    assert "The endpoint was deleted." in done.get_data(as_text=True)
    assert endpoint_rows(container)[0].deleted_at is not None
    assert receiver.url not in signed_in.get("/admin/webhooks").get_data(as_text=True)


def test_the_delivery_log_filters_and_replays(
    signed_in: FlaskClient, container: Container, demo_shop: ShopHandle, receiver: Receiver
) -> None:
    _, html = register(signed_in, receiver.url)
    receiver.secrets.append(SECRET.findall(html)[0])
    (row,) = endpoint_rows(container)
    token = token_of(signed_in)
    receiver.script.append(500)
    signed_in.post(f"/admin/webhooks/{row.id}/ping", data={"csrf_token": token})
    deliver(container)  # 500: pending again, with a next retry
    # Pending: no replay yet, and the service refuses one (409) with its message.
    with container.session_factory() as s:
        delivery_id = s.scalars(select(WebhookDelivery.id)).one()
    pending = signed_in.post(
        f"/admin/webhooks/deliveries/{delivery_id}/replay", data={"csrf_token": token}
    )
    assert pending.status_code == 409
    assert "replay it once it has finished" in pending.get_data(as_text=True)
    log = signed_in.get("/admin/webhooks/deliveries?status=pending").get_data(as_text=True)
    assert "HTTP 500" in log
    assert f'id="delivery-{delivery_id}"' in log
    assert "No deliveries match." in signed_in.get(
        "/admin/webhooks/deliveries?status=succeeded"
    ).get_data(as_text=True)
    with container.session_factory() as s:
        d = s.get(WebhookDelivery, delivery_id)
        assert d is not None
        d.status = "failed"
        s.commit()
    r = signed_in.post(
        f"/admin/webhooks/deliveries/{delivery_id}/replay",
        data={"csrf_token": token},
        follow_redirects=True,
    )
    assert f"Delivery no. {delivery_id} is queued to be sent again." in r.get_data(as_text=True)
    deliver(container)
    assert receiver.received[-1].headers.get("X-Loyalty-Redelivery") == "true"
    done = signed_in.get("/admin/webhooks/deliveries?status=succeeded").get_data(as_text=True)
    assert f'id="delivery-{delivery_id}"' in done
    assert "sent again" in done


def test_a_bad_log_filter_shows_the_apis_message(
    signed_in: FlaskClient, client: FlaskClient, demo_shop: ShopHandle
) -> None:
    api = client.get("/api/v1/webhook-deliveries?status=lost", headers=demo_shop.auth)
    assert api.status_code == 400
    message = api.json["error"]["fields"]["status"]
    r = signed_in.get("/admin/webhooks/deliveries?status=lost")
    assert r.status_code == 400
    assert message.replace("'", "&#39;") in r.get_data(as_text=True)


def test_another_shops_endpoint_and_delivery_give_404_and_change_nothing(
    signed_in: FlaskClient,
    client: FlaskClient,
    container: Container,
    demo_shop: ShopHandle,
    shopify_shop: ShopHandle,
    receiver: Receiver,
) -> None:
    theirs = client.post(
        "/api/v1/webhook-endpoints",
        json={"url": receiver.url, "topics": ["points.earned"]},
        headers=shopify_shop.auth,
    ).json
    receiver.secrets.append(theirs["secret"])
    ping = client.post(f"/api/v1/webhook-endpoints/{theirs['id']}/ping", headers=shopify_shop.auth)
    delivery_id = ping.json["id"]
    deliver(container)
    token = token_of(signed_in)
    before = [(e.active, e.secret_enc, e.deleted_at) for e in endpoint_rows(container)]
    eid = theirs["id"]
    for method, path in [
        ("post", f"/admin/webhooks/{eid}/active"),
        ("post", f"/admin/webhooks/{eid}/rotate"),
        ("post", f"/admin/webhooks/{eid}/ping"),
        ("get", f"/admin/webhooks/{eid}/delete"),
        ("post", f"/admin/webhooks/{eid}/delete"),
        ("post", f"/admin/webhooks/deliveries/{delivery_id}/replay"),
    ]:
        r = getattr(signed_in, method)(path, data={"csrf_token": token, "active": "0"})
        assert r.status_code == 404, path
        assert "whsec_" not in r.get_data(as_text=True)
    assert [(e.active, e.secret_enc, e.deleted_at) for e in endpoint_rows(container)] == before
    with container.session_factory() as s:
        d = s.get(WebhookDelivery, delivery_id)
        assert d is not None
        assert (d.status, d.redelivery) == ("succeeded", False)
    log = signed_in.get(f"/admin/webhooks/deliveries?endpoint_id={eid}").get_data(as_text=True)
    assert f'id="delivery-{delivery_id}"' not in log
    assert receiver.url not in signed_in.get("/admin/webhooks").get_data(as_text=True)


def test_webhook_text_is_never_html(
    signed_in: FlaskClient, container: Container, demo_shop: ShopHandle, receiver: Receiver
) -> None:
    evil_url = f"{receiver.url}?q={EVIL}"
    status, html = register(signed_in, evil_url, description=IMG_EVIL)
    assert status == 201
    (row,) = endpoint_rows(container)
    with container.session_factory() as s:
        s.add(
            WebhookDelivery(
                shop_id=demo_shop.id,
                endpoint_id=row.id,
                event_id="e1",
                delivery_key="k1",
                topic="points.earned",
                source_key="s1",
                body="{}",
                status="failed",
                attempts=1,
                next_attempt_at=container.clock(),
                last_error=EVIL,
                created_at=container.clock(),
                updated_at=container.clock(),
            )
        )
        s.commit()
    pages = [
        html,
        signed_in.get("/admin/webhooks").get_data(as_text=True),
        signed_in.get(f"/admin/webhooks/{row.id}/delete").get_data(as_text=True),
        signed_in.get("/admin/webhooks/deliveries").get_data(as_text=True),
        register(signed_in, EVIL)[1],  # refused: the typed value comes back
    ]
    for page in pages:
        assert "<script>alert" not in page
        assert "<img src=x" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


# --- emails -----------------------------------------------------------------------------------

EDIT = "/admin/emails/templates/points_expiring/vi"


def test_settings_show_smtp_and_switch_a_type_off(
    signed_in: FlaskClient, container: Container, demo_shop: ShopHandle
) -> None:
    page = signed_in.get("/admin/emails").get_data(as_text=True)
    assert "no SMTP_URL" in page
    assert 'id="f-type-tier_changed" name="types" value="tier_changed" checked' in page
    keep = [t for t in email_domain.TYPES if t not in ("tier_changed", "points_earned")]
    r = signed_in.post(
        "/admin/emails/settings",
        data={
            "sender_name": "Mai's Tea",
            "sender_address": "hello@example.com",
            "locale": "vi",
            "types": keep,
            "csrf_token": csrf_of(page),
        },
    )
    assert r.status_code == 303
    saved = emails.get_settings(container.uow(), demo_shop.id, smtp=False)
    assert saved["types"]["tier_changed"] is False
    assert saved["types"]["reward_unlocked"] is True
    assert (saved["sender_name"], saved["sender_address"], saved["locale"]) == (
        "Mai's Tea",
        "hello@example.com",
        "vi",
    )
    after = signed_in.get(r.headers["Location"]).get_data(as_text=True)
    assert "Email settings saved." in after
    assert 'value="tier_changed" checked' not in after


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"sender_address": "not-an-address"}, "sender_address"),
        ({"sender_name": "x" * 101}, "sender_name"),
        ({"sender_name": "Line\r\nBcc: x@y.z"}, "sender_name"),
        ({"locale": "fr"}, "locale"),
    ],
)
def test_settings_form_shows_the_apis_messages(
    signed_in: FlaskClient,
    client: FlaskClient,
    container: Container,
    demo_shop: ShopHandle,
    data: dict[str, str],
    field: str,
) -> None:
    status, error = api_error(client, "patch", "/email-settings", demo_shop, data)
    form = {"sender_name": "", "sender_address": "", "locale": "en", "types": ["tier_changed"]}
    token = csrf_of(signed_in.get("/admin/emails").get_data(as_text=True))
    r = signed_in.post("/admin/emails/settings", data={**form, **data, "csrf_token": token})
    assert r.status_code == status
    html = r.get_data(as_text=True)
    assert error["fields"][field].replace("'", "&#39;") in html
    assert f'id="f-{field}-error"' in html
    assert emails.get_settings(container.uow(), demo_shop.id, smtp=False)["sender_name"] is None


def test_edit_preview_save_and_reset_a_vietnamese_template(
    signed_in: FlaskClient, container: Container, demo_shop: ShopHandle
) -> None:
    page = signed_in.get(EDIT).get_data(as_text=True)
    token = csrf_of(page)
    fields = {
        "subject": "Điểm của {{ customer_name }} sắp hết hạn",
        "body_text": "Chào {{ customer_name }}, còn {{ points }} điểm.",
        "body_html": "<p>Chào <b>{{ customer_name }}</b></p>",
        "csrf_token": token,
    }
    preview = signed_in.post(f"{EDIT}/preview", data=fields)
    assert preview.status_code == 200
    html = preview.get_data(as_text=True)
    assert "Điểm của Linh sắp hết hạn" in html  # the rendered subject, as text
    assert "<b>Linh</b>" not in html  # the merchant's HTML never in the admin page
    assert 'sandbox=""' in html
    assert "unsaved changes" in html
    with container.session_factory() as s:
        assert s.scalars(select(EmailTemplate)).all() == []  # a preview saves nothing
    frame = signed_in.post(f"{EDIT}/frame", data=fields)
    assert frame.status_code == 200
    assert "<p>Chào <b>Linh</b></p>" in frame.get_data(as_text=True)
    csp = frame.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp
    assert "sandbox" in csp
    assert "script-src" not in csp
    saved = signed_in.post(EDIT, data=fields)
    assert saved.status_code == 303
    stored = emails.get_template(container.uow(), demo_shop.id, "points_expiring", "vi")
    assert stored["customized"] is True
    assert stored["subject"] == fields["subject"]
    after = signed_in.get(saved.headers["Location"]).get_data(as_text=True)
    assert "Template saved." in after
    assert "Điểm của Linh sắp hết hạn" in after  # the preview of what is saved now
    # Other languages are untouched; reset brings the default back.
    assert not emails.get_template(container.uow(), demo_shop.id, "points_expiring", "en")[
        "customized"
    ]
    signed_in.post(f"{EDIT}/reset", data={"csrf_token": token})
    assert not emails.get_template(container.uow(), demo_shop.id, "points_expiring", "vi")[
        "customized"
    ]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"subject": "Hi {{ customer_name"}, "subject"),
        ({"body_text": "line one\n{% if points %}\nno end"}, "body_text"),
        ({"body_html": "<p>{{ nope() }}</p>"}, "body_html"),
        ({"subject": ""}, "subject"),
        ({"body_text": "x" * 20_001}, "body_text"),
    ],
)
def test_template_errors_show_the_apis_message_with_the_line(
    signed_in: FlaskClient,
    client: FlaskClient,
    container: Container,
    demo_shop: ShopHandle,
    fields: dict[str, str],
    field: str,
) -> None:
    status, error = api_error(
        client, "patch", "/email-templates/points_expiring?locale=vi", demo_shop, fields
    )
    p_status, p_error = api_error(
        client, "post", "/email-templates/points_expiring/preview?locale=vi", demo_shop, fields
    )
    saved = emails.get_template(container.uow(), demo_shop.id, "points_expiring", "vi")
    form = {name: saved[name] or "" for name in ("subject", "body_text", "body_html")}
    token = csrf_of(signed_in.get(EDIT).get_data(as_text=True))
    for path, want_status, want in (
        (EDIT, status, error),
        (f"{EDIT}/preview", p_status, p_error),
    ):
        r = signed_in.post(path, data={**form, **fields, "csrf_token": token})
        assert r.status_code == want_status
        html = r.get_data(as_text=True)
        message = want["fields"][field]
        assert message.replace("'", "&#39;").replace('"', "&#34;") in html
        assert f'id="f-{field}-error"' in html
    assert not emails.get_template(container.uow(), demo_shop.id, "points_expiring", "vi")[
        "customized"
    ]


def test_a_syntax_error_names_its_line(signed_in: FlaskClient, demo_shop: ShopHandle) -> None:
    token = csrf_of(signed_in.get(EDIT).get_data(as_text=True))
    r = signed_in.post(
        f"{EDIT}/preview",
        data={"subject": "ok", "body_text": "one\ntwo\n{{ points }", "csrf_token": token},
    )
    assert r.status_code == 400
    assert "line 3:" in r.get_data(as_text=True)


def test_template_xss_is_text_in_the_page_and_confined_to_the_sandboxed_frame(
    signed_in: FlaskClient, container: Container, demo_shop: ShopHandle
) -> None:
    token = csrf_of(signed_in.get(EDIT).get_data(as_text=True))
    fields = {
        "subject": f"Hi {EVIL}",
        "body_text": f"Text {IMG_EVIL}",
        "body_html": f"<p>{EVIL}{IMG_EVIL}</p>",
        "csrf_token": token,
    }
    assert signed_in.post(EDIT, data=fields).status_code == 303
    pages = [
        signed_in.get(EDIT).get_data(as_text=True),
        signed_in.post(f"{EDIT}/preview", data=fields).get_data(as_text=True),
    ]
    for html in pages:
        assert "<script>alert" not in html
        assert "<img src=x" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert re.search(r'<iframe [^>]*sandbox=""', html)
        assert "allow-scripts" not in html
    frame = signed_in.post(f"{EDIT}/frame", data=fields)
    assert EVIL in frame.get_data(as_text=True)  # the merchant's own HTML, inert here:
    csp = frame.headers["Content-Security-Policy"]
    assert csp.startswith("default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox")
    # A text-only preview is escaped in the frame too.
    text_only = signed_in.post(f"{EDIT}/frame", data={**fields, "body_html": ""}).get_data(
        as_text=True
    )
    assert "<img src=x" not in text_only
    assert "&lt;img src=x" in text_only


def test_embedded_in_shopify_the_preview_frame_takes_the_token_in_its_url(
    html_app: Flask, shopify_shop: ShopHandle
) -> None:
    client = FlaskClient(html_app)
    fields = {"subject": "Hi", "body_text": "x", "body_html": "<p>Hi {{ customer_name }}</p>"}
    r = client.post(
        f"/admin/emails/templates/tier_changed/en/frame?shop={shopify_shop.domain}"
        f"&id_token={session_token()}",
        data=fields,
    )
    assert r.status_code == 200
    assert "<p>Hi Linh</p>" in r.get_data(as_text=True)
    csp = r.headers["Content-Security-Policy"]
    assert csp.endswith(
        f"frame-ancestors 'self' https://{shopify_shop.domain} https://admin.shopify.com"
    )
    assert "sandbox" in csp
    # The secret page answers the form post itself (admin.js swaps its <main> in).
    created = client.post(
        f"/admin/webhooks?shop={shopify_shop.domain}",
        data={"url": "https://hooks.example.com/in", "topics": "points.earned"},
        headers={"Authorization": f"Bearer {session_token()}"},
    )
    assert created.status_code == 201
    assert SECRET.search(created.get_data(as_text=True))


def test_the_email_log_lists_the_shops_emails_only(
    signed_in: FlaskClient, container: Container, demo_shop: ShopHandle, shopify_shop: ShopHandle
) -> None:
    from plugin_server.db.models import Customer, EmailMessage

    now = container.clock()
    with container.session_factory() as s:
        for shop_id, address, error in (
            (demo_shop.id, "mai@example.com", EVIL),
            (shopify_shop.id, "other@example.com", None),
        ):
            customer = Customer(
                shop_id=shop_id,
                customer_ref=address,
                email=address,
                created_at=now,
                updated_at=now,
            )
            s.add(customer)
            s.flush()
            s.add(
                EmailMessage(
                    shop_id=shop_id,
                    customer_id=customer.id,
                    type="tier_changed",
                    source_key=f"k-{address}",
                    status="failed",
                    to_address=address,
                    attempts=2,
                    last_error=error,
                    data="{}",
                    next_attempt_at=now,
                    created_at=now,
                    updated_at=now,
                )
            )
        s.commit()
    page = signed_in.get("/admin/emails").get_data(as_text=True)
    assert "mai@example.com" in page
    assert "other@example.com" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert" not in page
    assert "mai@example.com" not in signed_in.get("/admin/emails?status=sent").get_data(
        as_text=True
    )
    assert signed_in.get("/admin/emails?status=bogus").status_code == 400


def test_unknown_types_and_languages_are_404(signed_in: FlaskClient) -> None:
    assert signed_in.get("/admin/emails/templates/nope/vi").status_code == 404
    assert signed_in.get("/admin/emails/templates/points_earned/fr").status_code == 404


# --- CSRF ---------------------------------------------------------------------------------------


def test_every_post_needs_the_csrf_token(
    signed_in: FlaskClient, container: Container, demo_shop: ShopHandle, receiver: Receiver
) -> None:
    register(signed_in, receiver.url)
    (row,) = endpoint_rows(container)
    paths = [
        "/admin/webhooks",
        f"/admin/webhooks/{row.id}/active",
        f"/admin/webhooks/{row.id}/rotate",
        f"/admin/webhooks/{row.id}/ping",
        f"/admin/webhooks/{row.id}/delete",
        "/admin/webhooks/deliveries/1/replay",
        "/admin/emails/settings",
        EDIT,
        f"{EDIT}/preview",
        f"{EDIT}/reset",
        f"{EDIT}/frame",
    ]
    data = {"url": "https://x.example.com/", "topics": "points.earned", "active": "0"}
    for path in paths:
        r = signed_in.post(path, data={**data, "subject": "s", "body_text": "b"})
        assert r.status_code == 400, path
        assert "whsec_" not in r.get_data(as_text=True)
        wrong = signed_in.post(path, data={**data, "csrf_token": "nope"})
        assert wrong.status_code == 403, path
    assert len(endpoint_rows(container)) == 1
    assert endpoint_rows(container)[0].active is True
    with container.session_factory() as s:
        assert s.scalars(select(WebhookDelivery)).all() == []
        assert s.scalars(select(EmailTemplate)).all() == []


def test_signed_out_visitors_see_nothing(html_app: Flask) -> None:
    client = html_app.test_client()
    for path in ("/admin/webhooks", "/admin/webhooks/deliveries", "/admin/emails", EDIT):
        assert client.get(path).status_code == 401


def test_the_texts_are_in_three_languages(signed_in: FlaskClient) -> None:
    assert "Gửi thử" not in signed_in.get("/admin/webhooks").get_data(as_text=True)
    signed_in.get("/admin/?locale=vi")
    assert "Đăng ký điểm nhận" in signed_in.get("/admin/webhooks").get_data(as_text=True)
    signed_in.get("/admin/?locale=th")
    assert "การตั้งค่าอีเมล" in signed_in.get("/admin/emails").get_data(as_text=True)
