"""Hostile text in every string a merchant or a shopper can store, then every surface that
shows it: admin pages (HTML, autoescaped), the widget's JSON, emails (the HTML part escapes
shopper data; merchant template markup renders only in the sandboxed preview), the
unsubscribe page, CSV exports (formula cells neutralised) and outbound webhook payloads
(JSON). Each surface must show the text as text (it round-trips) and never as markup that
would run."""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal as D
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from plugin_server import create_app, demo
from plugin_server.bootstrap import Container
from plugin_server.db.models import Customer, Referral
from plugin_server.domain import emails as email_rules
from plugin_server.sandbox.smtp_sink import SmtpSink
from plugin_server.services import emails
from plugin_server.simulate import shopify_order, sign_shopify
from tests.conftest import SHOPIFY_SECRET, ShopHandle, make_shop, post
from tests.integration.test_admin_app import cookie_client, flagged_referral

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
JS_URL = "javascript:alert(1)"
TEMPLATE = "{{7*7}}"
FORMULA = '=HYPERLINK("http://evil.example","x")'
# One string carrying every HTML/template attack, for names and texts.
EVIL = f"{SCRIPT}{IMG}{TEMPLATE}"
# Tier names are at most 50 characters.
SHORT_EVIL = f'">{SCRIPT}{TEMPLATE}'
EVIL_EMAIL = '"><img src=x onerror=alert(1)>@evil.example'
MEMBER = 9001  # hostile names, a normal email (emails are sent to it)
ODD = 9002  # a hostile email address
RAW = ("<script>alert(1)", "<img src=x onerror", "<img src=x")
JS_LINK = re.compile(r"""(href|src|action|formaction)\s*=\s*["']?\s*javascript:""", re.I)


@dataclass
class Planted:
    shop: ShopHandle
    key: Ed25519PrivateKey
    reward_id: int
    rule_id: int
    campaign_id: int
    tier_id: int
    referral_campaign_id: int
    endpoint_id: int


def api(client: FlaskClient, shop: ShopHandle, method: str, path: str, **kw: Any) -> Any:
    r = client.open(f"/api/v1{path}", method=method, headers=shop.auth, **kw)
    assert r.status_code in (200, 201, 202), (path, r.json)
    return r.json


def order(client: FlaskClient, shop: ShopHandle, order_id: int, customer: int, email: str) -> None:
    payload = shopify_order(
        order_id=order_id, email=email, subtotal=D("30.00"), customer_id=customer
    )
    payload["customer"]["first_name"] = EVIL
    payload["customer"]["last_name"] = FORMULA
    r = post(
        client,
        sign_shopify(payload, topic="orders/paid", shop_domain=shop.domain, secret=SHOPIFY_SECRET),
    )
    assert r.status_code == 200, r.json


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as running:
        yield running


@pytest.fixture
def planted(client: FlaskClient, container: Container) -> Planted:
    """Hostile strings in every merchant- and shopper-supplied field there is."""
    shop = make_shop(container, "shopify", demo.DEMO_DOMAIN, access_token="shpat_demo")
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    now = container.clock()
    api(
        client,
        shop,
        "PATCH",
        "/widget",
        json={
            "texts": {"en": {"title": EVIL, "launcher": JS_URL, "earn_rule": TEMPLATE}},
            "token_public_key": base64.urlsafe_b64encode(public).decode().rstrip("="),
        },
    )
    reward = api(
        client,
        shop,
        "POST",
        "/rewards",
        json={"name": EVIL, "kind": "free_shipping", "points_cost": 10},
    )
    api(
        client,
        shop,
        "POST",
        "/rewards",
        json={"name": FORMULA, "kind": "free_shipping", "points_cost": 20},
    )
    rule = api(
        client,
        shop,
        "POST",
        "/earning-rules",
        json={"kind": "signup", "key": "welcome", "name": EVIL, "points": 5},
    )
    campaign = api(
        client,
        shop,
        "POST",
        "/earning-rules",
        json={
            "kind": "bonus",
            "key": "double",
            "name": EVIL,
            "multiplier": "2",
            "starts_at": (now - timedelta(hours=1)).isoformat(),
            "ends_at": (now + timedelta(days=7)).isoformat(),
        },
    )
    tier = api(client, shop, "POST", "/tiers", json={"name": SHORT_EVIL, "threshold": 10})
    referral_campaign = api(
        client,
        shop,
        "POST",
        "/referral-campaigns",
        json={
            "name": EVIL,
            "starts_at": "2020-01-01T00:00:00Z",
            "friend_discount_kind": "percentage",
            "friend_discount_value": "10",
            "advocate_reward_kind": "points",
            "advocate_points": 100,
        },
    )
    endpoint = api(
        client,
        shop,
        "POST",
        "/webhook-endpoints",
        json={
            "url": "https://hooks.example.com/loyalty",
            "topics": ["points.earned"],
            "description": EVIL,
        },
    )
    api(
        client,
        shop,
        "PATCH",
        "/email-settings",
        json={"sender_name": EVIL, "types": {"points_earned": True}},
    )
    # Merchant template markup (trusted, theirs) around shopper data (escaped).
    api(
        client,
        shop,
        "PATCH",
        "/email-templates/points_earned?locale=en",
        json={
            "subject": "Points for {{ customer_name }}",
            "body_html": "<p class='hi'>Hi {{ customer_name }}</p>",
        },
    )
    # Shoppers: names and an email from the order webhooks, a reason, a review note, and
    # an imported row.
    order(client, shop, 1, MEMBER, "ann@example.com")
    order(client, shop, 2, ODD, EVIL_EMAIL)
    api(
        client,
        shop,
        "POST",
        f"/customers/{MEMBER}/adjustments",
        json={"points": 7, "reason": f"{EVIL} {FORMULA}"},
    )
    referral_id = flagged_referral(container, shop.id)
    with container.session_factory.begin() as s:
        # As the API reports it (the helper's shorthand "code" is not a stored value).
        s.execute(
            update(Referral).where(Referral.id == referral_id).values(attributed_by="discount_code")
        )
    api(client, shop, "POST", f"/referrals/{referral_id}/reject", json={"note": EVIL})
    rows = io.StringIO()
    writer = csv.writer(rows)
    writer.writerow(["email", "points", "first_name", "last_name"])
    writer.writerow(["imported@example.com", "12", EVIL, FORMULA])
    api(
        client,
        shop,
        "POST",
        "/imports",
        data=rows.getvalue().encode(),
        content_type="text/csv",
    )
    return Planted(
        shop,
        key,
        reward["id"],
        rule["id"],
        campaign["id"],
        tier["id"],
        referral_campaign["id"],
        endpoint["id"],
    )


def assert_inert_html(page: str, where: str) -> None:
    for raw in RAW:
        assert raw not in page, f"{where}: raw {raw!r}"
    assert not JS_LINK.search(page), f"{where}: a javascript: link"


def test_admin_pages_show_every_hostile_string_as_text(
    html_app: Flask, container: Container, planted: Planted
) -> None:
    admin = cookie_client(html_app, container, planted.shop.domain)
    with container.session_factory() as s:
        odd_ref = s.scalar(select(Customer.customer_ref).where(Customer.email == EVIL_EMAIL))
    expected = {
        "/admin/": [],
        f"/admin/customers?q={MEMBER}": [EVIL],
        "/admin/customers?q=evil.example": [EVIL_EMAIL],
        f"/admin/customers?q={SCRIPT}": [],
        f"/admin/customers/{MEMBER}": [EVIL, FORMULA, f"{EVIL} {FORMULA}"],
        f"/admin/customers/{odd_ref}": [EVIL_EMAIL],
        "/admin/rewards": [EVIL, FORMULA],
        "/admin/earning": [EVIL],
        f"/admin/earning/{planted.rule_id}": [EVIL],
        f"/admin/earning/{planted.campaign_id}": [EVIL],
        "/admin/tiers": [SHORT_EVIL],
        f"/admin/tiers/{planted.tier_id}": [SHORT_EVIL],
        "/admin/referral-program": [EVIL],
        f"/admin/referral-program/{planted.referral_campaign_id}": [EVIL],
        "/admin/referrals": [],  # the review note is in the API (checked below)
        "/admin/webhooks": [EVIL],
        "/admin/webhooks/deliveries": [],
        "/admin/emails": [EVIL],  # the sender name
        "/admin/emails/templates/points_earned/en": ["<p class='hi'>Hi {{ customer_name }}</p>"],
        "/admin/widget": [EVIL, JS_URL, TEMPLATE],
        "/admin/settings": [],
        "/admin/exports": [],
        "/admin/analytics": [],
    }
    for path, shown in expected.items():
        r = admin.get(path)
        assert r.status_code == 200, path
        assert r.mimetype == "text/html", path
        page = r.get_data(as_text=True)
        assert_inert_html(page, path)
        # Template syntax in stored text is never evaluated on the way out.
        text = html.unescape(page)
        for value in shown:
            assert value in text, f"{path}: {value!r} does not round-trip"
        if TEMPLATE in shown:
            assert "{{7*7}}" in text


def strings(value: Any) -> Iterator[str]:
    """Every string in a decoded JSON document."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def token(planted: Planted, customer: int | None) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": planted.shop.domain,
        "aud": "loyalty-storefront",
        "iat": now,
        "exp": now + 600,
    }
    if customer is not None:
        claims["sub"] = str(customer)
    return jwt.encode(claims, planted.key, algorithm="EdDSA")


def test_the_widgets_json_carries_the_text_verbatim_as_json(
    client: FlaskClient, planted: Planted
) -> None:
    for customer, path in ((MEMBER, "/summary"), (None, "/summary"), (None, "/program")):
        r = client.get(
            f"/storefront/v1{path}",
            headers={"Authorization": f"Bearer {token(planted, customer)}"},
        )
        assert r.status_code == 200, r.json
        assert r.mimetype == "application/json"
        assert r.headers.get("X-Content-Type-Options") == "nosniff"
        body = r.get_json()
        names = [reward["name"] for reward in body["program"]["rewards"]]
        assert EVIL in names
        assert FORMULA in names  # JSON is not a spreadsheet: stored text, unchanged
        found = list(strings(body))
        assert found.count(EVIL) >= 2  # the reward, the bonus campaign
        assert SHORT_EVIL in found  # the tier
        if customer is not None:
            assert body["member"]["first_name"] == EVIL
        if path == "/summary":  # the widget's texts come with the summary
            assert {JS_URL, TEMPLATE} <= set(found)


def test_emails_escape_shopper_text_and_keep_merchant_markup(
    client: FlaskClient, container: Container, planted: Planted, sink: SmtpSink
) -> None:
    sent = emails.send_due(
        container.uow,
        emails.SmtpMailer.from_url(sink.url, timeout_s=5),
        emails.SendPolicy.from_settings(container.settings),
        clock=container.clock,
    )
    assert sent["sent"] >= 1
    message = next(m for m in sink.messages if m["To"] == "ann@example.com")
    part = message.get_body(("html",))
    assert part is not None
    body_html = part.get_content()
    assert_inert_html(body_html, "email html")
    # The merchant's markup is markup; the shopper's name inside it is text.
    assert "<p class='hi'>Hi " in body_html or '<p class="hi">Hi ' in body_html
    assert EVIL in html.unescape(body_html)
    # {{7*7}} in a name is never evaluated. Links are left out of the look: the
    # unsubscribe token is random and may contain "49" by chance.
    assert "49" not in re.sub(r"""href=(["'])[^"']*\1""", "", body_html)
    text = message.get_body(("plain",)).get_content()
    assert EVIL in text
    assert EVIL in str(message["Subject"])
    # The admin preview of the merchant's HTML: only in a frame with every script off.
    admin = cookie_client(create_app(container=container), container, planted.shop.domain)
    page = admin.get("/admin/emails/templates/points_earned/en").get_data(as_text=True)
    assert 'sandbox=""' in page
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf is not None
    frame = admin.post(
        "/admin/emails/templates/points_earned/en/frame",
        data={
            "csrf_token": csrf.group(1),
            "subject": "s",
            "body_text": "t",
            "body_html": f"<p>{SCRIPT}</p>",
        },
    )
    # The merchant's own markup (here even a script) is served as written, under a policy
    # that makes the frame a sandbox with nothing allowed to run.
    assert frame.status_code == 200
    assert SCRIPT in frame.get_data(as_text=True)
    policy = frame.headers.get("Content-Security-Policy", "")
    assert "sandbox" in policy
    assert "default-src 'none'" in policy


def test_the_unsubscribe_page_shows_the_sender_name_as_text(
    client: FlaskClient, container: Container, planted: Planted
) -> None:
    with container.session_factory() as s:
        member_id = s.scalar(select(Customer.id).where(Customer.customer_ref == str(MEMBER)))
    assert member_id is not None
    link = email_rules.unsubscribe_token(
        container.settings.secret_key,
        planted.shop.id,
        member_id,
        expires_at=container.clock() + timedelta(days=30),
    )
    for method in ("GET", "POST"):
        r = client.open(f"/email/unsubscribe?token={link}", method=method)
        assert r.status_code == 200
        page = r.get_data(as_text=True)
        assert_inert_html(page, f"unsubscribe {method}")
        assert EVIL in html.unescape(page)
        assert "script-src" not in r.headers["Content-Security-Policy"]
        assert "default-src 'none'" in r.headers["Content-Security-Policy"]


def csv_cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def test_csv_exports_neutralise_formulas_and_keep_the_text(
    client: FlaskClient, html_app: Flask, container: Container, planted: Planted
) -> None:
    admin = cookie_client(html_app, container, planted.shop.domain)
    sources = {
        "members (api)": client.get("/api/v1/exports/members.csv", headers=planted.shop.auth),
        "balances (api)": client.get("/api/v1/exports/balances.csv", headers=planted.shop.auth),
        "ledger (api)": client.get("/api/v1/exports/ledger.csv", headers=planted.shop.auth),
        "members (admin)": admin.get("/admin/exports/members.csv"),
        "ledger (admin)": admin.get("/admin/exports/ledger.csv"),
        "tiers (analytics)": admin.get("/admin/analytics/tiers.csv"),
    }
    seen: set[str] = set()
    for name, r in sources.items():
        assert r.status_code == 200, name
        assert r.mimetype == "text/csv", name
        for cell in csv_cells(r.get_data(as_text=True)):
            assert not cell.startswith(("=", "+", "@", "\t", "\r")), f"{name}: {cell!r}"
            assert not (cell.startswith("-") and not re.fullmatch(r"-\d+(\.\d+)?", cell)), (
                f"{name}: {cell!r}"
            )
            seen.add(cell[1:] if cell.startswith("'") else cell)
    assert FORMULA in seen  # the name, with its apostrophe taken off, is what was stored
    assert EVIL in seen
    assert f"{EVIL} {FORMULA}" in seen
    assert EVIL_EMAIL in seen


def test_outbound_webhook_payloads_are_json_carrying_the_text(
    client: FlaskClient, planted: Planted
) -> None:
    listed = api(client, planted.shop, "GET", "/webhook-deliveries")["webhook_deliveries"]
    assert listed
    for delivery in listed:
        detail = api(client, planted.shop, "GET", f"/webhook-deliveries/{delivery['id']}")
        payload = json.loads(detail["payload"])  # well-formed JSON, whatever the text
        assert isinstance(payload, dict)
    bodies = [
        api(client, planted.shop, "GET", f"/webhook-deliveries/{d['id']}")["payload"]
        for d in listed
    ]
    reasons = {text for b in bodies for text in strings(json.loads(b))}
    assert f"{EVIL} {FORMULA}" in reasons  # the adjustment's reason, verbatim
