"""The admin app at /admin: who gets in (Shopify session tokens, WooCommerce signed links,
the development link, cookie sessions with CSRF), and what the pages do and show."""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from plugin_server import create_app, demo
from plugin_server.api.admin_app.auth import dev_sign_in_path
from plugin_server.api.admin_app.i18n import LOCALES, TEXTS
from plugin_server.bootstrap import Container, bootstrap
from plugin_server.db.models import Customer, LedgerEntry, Referral
from plugin_server.services import install, referrals
from plugin_server.settings import Settings
from tests.conftest import SHOPIFY_SECRET, ShopHandle, make_shop

API_KEY = "test-api-key"  # the settings fixture's SHOPIFY_API_KEY
EVIL = "<script>alert(1)</script>"


# --- helpers ----------------------------------------------------------------------------------


def session_token(
    shop: str = "test-shop.myshopify.com", *, secret: str = SHOPIFY_SECRET, **claims: Any
) -> str:
    now = int(time.time())
    body = {
        "iss": f"https://{shop}/admin",
        "dest": f"https://{shop}",
        "aud": API_KEY,
        "sub": "42",
        "exp": now + 60,
        "nbf": now - 5,
        "iat": now,
        "jti": secrets.token_hex(8),
        "sid": "s1",
        **claims,
    }
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode(body, secret, algorithm="HS256")


def add_customer(
    container: Container, shop_id: int, ref: str, *, email: str, first: str = "", last: str = ""
) -> int:
    with container.session_factory() as s:
        customer = Customer(
            shop_id=shop_id,
            customer_ref=ref,
            email=email,
            first_name=first or None,
            last_name=last or None,
            created_at=container.clock(),
            updated_at=container.clock(),
        )
        s.add(customer)
        s.commit()
        return customer.id


def flagged_referral(container: Container, shop_id: int) -> int:
    """A referral held for review (the advocate's friend looked like the advocate)."""
    campaign = referrals.create_campaign(
        container.uow(), shop_id, dict(demo.DEMO_REFERRALS), now=container.clock()
    )
    advocate = add_customer(container, shop_id, "501", email="ann.adv@example.com", first="Ann")
    friend = add_customer(container, shop_id, "502", email="bao.friend@example.com", first="Bao")
    now = container.clock()
    with container.session_factory() as s:
        referral = Referral(
            shop_id=shop_id,
            campaign_id=campaign["id"],
            advocate_id=advocate,
            friend_id=friend,
            status="flagged",
            flags="self_referral",
            attributed_by="code",
            created_at=now,
            updated_at=now,
        )
        s.add(referral)
        s.commit()
        return referral.id


def cookie_client(app: Flask, container: Container, shop_domain: str) -> FlaskClient:
    """Signed in through the development link (the demo shop only)."""
    client = FlaskClient(app)
    r = client.get(dev_sign_in_path(container.settings.secret_key, shop_domain))
    assert r.status_code == 303
    return client


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match is not None
    return match.group(1)


# --- Shopify: session tokens ------------------------------------------------------------------


def test_a_valid_session_token_opens_the_app_embedded(
    html_app: Flask, shopify_shop: ShopHandle
) -> None:
    client = FlaskClient(html_app)
    token = session_token()
    r = client.get(f"/admin/?shop={shopify_shop.domain}&host=YWRtaW4&id_token={token}")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert 'src="https://cdn.shopify.com/shopifycloud/app-bridge.js"' in html
    assert f'<meta name="shopify-api-key" content="{API_KEY}">' in html
    csp = r.headers["Content-Security-Policy"]
    assert f"frame-ancestors https://{shopify_shop.domain} https://admin.shopify.com" in csp
    assert r.headers["Referrer-Policy"] == "no-referrer"
    assert "Set-Cookie" not in r.headers  # embedded: no cookies at all
    # Links keep the shop and host (so App Bridge can give the next page its token),
    # never the token itself.
    assert f'href="/admin/customers?shop={shopify_shop.domain}' in html
    assert token not in html


def test_a_document_request_without_a_token_goes_to_app_bridge_for_one(
    html_app: Flask, shopify_shop: ShopHandle
) -> None:
    r = FlaskClient(html_app).get(f"/admin/customers?shop={shopify_shop.domain}&host=YWRtaW4")
    assert r.status_code == 302
    assert "/admin/auth/patch-id-token?" in r.headers["Location"]
    assert "shopify-reload=" in r.headers["Location"]
    page = FlaskClient(html_app).get(
        f"/admin/auth/patch-id-token?shop={shopify_shop.domain}&shopify-reload=%2Fadmin%2F"
    )
    assert page.status_code == 200
    assert "app-bridge.js" in page.get_data(as_text=True)
    bad = FlaskClient(html_app).get(
        "/admin/auth/patch-id-token?shop=evil.example.com&shopify-reload=%2Fadmin%2F"
    )
    assert bad.status_code == 400


def _bad_tokens() -> list[Any]:
    now = int(time.time())
    return [
        pytest.param(None, id="missing"),
        pytest.param(
            session_token(secret="not-the-app-secret-0123456789abcdef"), id="bad-signature"
        ),
        pytest.param(session_token(exp=now - 120, nbf=now - 300, iat=now - 300), id="expired"),
        pytest.param(session_token(aud="another-app"), id="wrong-audience"),
        pytest.param(session_token("other-shop.myshopify.com"), id="other-shops"),
        pytest.param(session_token(exp=None), id="no-expiry"),
        pytest.param(session_token(iss="https://evil-shop.myshopify.com/admin"), id="iss-not-dest"),
        pytest.param(session_token(dest="https://evil.example.com"), id="dest-not-shopify"),
        pytest.param("not-a-jwt", id="garbage"),
    ]


@pytest.mark.parametrize("token", _bad_tokens())
def test_bad_session_tokens_are_refused_on_fetches(
    html_app: Flask, container: Container, shopify_shop: ShopHandle, token: str | None
) -> None:
    add_customer(container, shopify_shop.id, "9", email="m@example.com")
    # other-shop.myshopify.com is a real, installed shop too: its token still only opens
    # its own shop, and never this one's.
    make_shop(container, "shopify", "other-shop.myshopify.com", access_token="shpat_o")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = FlaskClient(html_app).post(
        f"/admin/customers/9/adjust?shop={shopify_shop.domain}",
        data={"points": "50", "reason": "x"},
        headers=headers,
    )
    assert r.status_code in (401, 400 if token is None else 401)
    with container.session_factory() as s:
        assert s.scalars(select(LedgerEntry)).all() == []


@pytest.mark.parametrize("token", _bad_tokens()[1:])
def test_bad_session_tokens_on_a_document_request_mean_reauth(
    html_app: Flask, container: Container, shopify_shop: ShopHandle, token: str
) -> None:
    make_shop(container, "shopify", "other-shop.myshopify.com", access_token="shpat_o")
    r = FlaskClient(html_app).get(f"/admin/?shop={shopify_shop.domain}&id_token={token}")
    assert r.status_code in (302, 401)
    if r.status_code == 302:  # a new token from App Bridge
        assert "/admin/auth/patch-id-token?" in r.headers["Location"]
    assert "Points outstanding" not in r.get_data(as_text=True)


def test_a_shop_that_is_not_installed_cannot_post(html_app: Flask) -> None:
    token = session_token("nowhere.myshopify.com")
    r = FlaskClient(html_app).post(
        "/admin/rewards", data={"name": "x"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 401
    assert r.headers["X-Shopify-Retry-Invalid-Session-Request"] == "1"


def test_a_form_posted_with_a_bearer_token_needs_no_csrf_token(
    html_app: Flask, container: Container, shopify_shop: ShopHandle
) -> None:
    add_customer(container, shopify_shop.id, "9", email="m@example.com")
    client = FlaskClient(html_app)
    r = client.post(
        f"/admin/customers/9/adjust?shop={shopify_shop.domain}&host=YWRtaW4",
        data={"points": "25", "reason": "Welcome"},
        headers={"Authorization": f"Bearer {session_token()}"},
    )
    assert r.status_code == 303
    location = r.headers["Location"]
    assert location.startswith("/admin/customers/9?")
    assert f"shop={shopify_shop.domain}" in location
    assert "notice=adjusted" in location
    assert "balance=25" in location


# --- development sign-in ----------------------------------------------------------------------


def test_the_development_link_signs_in_the_demo_merchant_with_a_safe_cookie(
    html_app: Flask, container: Container, demo_shop: ShopHandle
) -> None:
    client = FlaskClient(html_app)
    r = client.get(dev_sign_in_path(container.settings.secret_key, demo_shop.domain))
    assert r.status_code == 303
    assert r.headers["Location"] == "/admin/"
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("loyalty_admin=")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Path=/admin" in cookie
    assert "Secure" not in cookie  # development over http; production sets it
    page = client.get("/admin/")
    assert page.status_code == 200
    assert "Points outstanding" in page.get_data(as_text=True)
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]


def test_the_development_link_needs_its_signature_and_the_demo_shop(
    html_app: Flask, container: Container, demo_shop: ShopHandle, shopify_shop: ShopHandle
) -> None:
    client = FlaskClient(html_app)
    path = dev_sign_in_path(container.settings.secret_key, demo_shop.domain)
    assert client.get(path[:-4] + "0000").status_code == 401
    other = dev_sign_in_path(container.settings.secret_key, shopify_shop.domain)
    assert client.get(other).status_code == 401
    assert client.get("/admin/").status_code == 401


def test_there_is_no_development_link_in_production(settings: Settings) -> None:
    production = bootstrap(settings.with_overrides(development=False))
    try:
        app = create_app(container=production)
        make_shop(production, "shopify", demo.DEMO_DOMAIN, access_token="x")
        r = FlaskClient(app).get(dev_sign_in_path(settings.secret_key, demo.DEMO_DOMAIN))
        assert r.status_code == 404
        assert app.config["SESSION_COOKIE_SECURE"] is True
    finally:
        production.close()


# --- WooCommerce: signed single-use links -----------------------------------------------------


WOO = "https://woo-admin.example.com"


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.fixture
def woo_key(container: Container) -> tuple[ShopHandle, Ed25519PrivateKey]:
    shop = make_shop(container, "woocommerce", WOO, webhook_secret="s" * 32)
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    install.set_token_key(container.uow(), shop.id, b64(public))
    return shop, key


def admin_link(key: Ed25519PrivateKey, **claims: Any) -> str:
    now = int(time.time())
    body = {
        "iss": WOO,
        "aud": "loyalty-admin",
        "sub": "1",
        "iat": now,
        "exp": now + 120,
        "jti": secrets.token_urlsafe(16),
        "locale": "vi",
        **claims,
    }
    return jwt.encode({k: v for k, v in body.items() if v is not None}, key, algorithm="EdDSA")


def test_a_woocommerce_link_signs_in_once(
    html_app: Flask, woo_key: tuple[ShopHandle, Ed25519PrivateKey]
) -> None:
    _, key = woo_key
    token = admin_link(key)
    client = FlaskClient(html_app)
    r = client.get(f"/admin/auth/woocommerce?token={token}")
    assert r.status_code == 303
    assert r.headers["Location"] == "/admin/"  # the token leaves the address bar at once
    page = client.get("/admin/")
    assert page.status_code == 200
    assert 'lang="vi"' in page.get_data(as_text=True)  # the store's language
    assert "Điểm còn lại" in page.get_data(as_text=True)
    again = FlaskClient(html_app).get(f"/admin/auth/woocommerce?token={token}")
    assert again.status_code == 401


def _bad_links(key: Ed25519PrivateKey) -> dict[str, str]:
    now = int(time.time())
    return {
        "forged": admin_link(Ed25519PrivateKey.generate()),
        "expired": admin_link(key, iat=now - 400, exp=now - 100),
        "too-long": admin_link(key, exp=now + 3600),
        "shopper-token": admin_link(key, aud="loyalty-storefront"),
        "other-store": admin_link(key, iss="https://other.example.com"),
        "no-nonce": admin_link(key, jti=None),
        "hs256": jwt.encode(
            {"iss": WOO, "aud": "loyalty-admin", "exp": now + 60, "iat": now, "jti": "x" * 20},
            "an-hmac-secret-of-thirty-two-bytes!!",
            algorithm="HS256",
        ),
        "garbage": "not-a-jwt",
    }


@pytest.mark.parametrize(
    "case",
    [
        "forged",
        "expired",
        "too-long",
        "shopper-token",
        "other-store",
        "no-nonce",
        "hs256",
        "garbage",
    ],
)
def test_bad_woocommerce_links_are_refused(
    html_app: Flask, woo_key: tuple[ShopHandle, Ed25519PrivateKey], case: str
) -> None:
    token = _bad_links(woo_key[1])[case]
    client = FlaskClient(html_app)
    r = client.get(f"/admin/auth/woocommerce?token={token}")
    assert r.status_code == 401
    assert "Set-Cookie" not in r.headers or "loyalty_admin=;" in r.headers["Set-Cookie"]
    assert client.get("/admin/").status_code == 401


# --- CSRF on cookie sessions ------------------------------------------------------------------


def test_posts_on_a_cookie_session_need_the_sessions_csrf_token(
    signed_in: FlaskClient, container: Container, demo_shop: ShopHandle
) -> None:
    add_customer(container, demo_shop.id, "9", email="m@example.com")
    page = signed_in.get("/admin/customers/9").get_data(as_text=True)
    token = csrf_of(page)
    missing = signed_in.post("/admin/customers/9/adjust", data={"points": "5", "reason": "x"})
    assert missing.status_code == 400
    wrong = signed_in.post(
        "/admin/customers/9/adjust",
        data={"points": "5", "reason": "x", "csrf_token": token[:-2] + "xx"},
    )
    assert wrong.status_code == 403
    with container.session_factory() as s:
        assert s.scalars(select(LedgerEntry)).all() == []
    ok = signed_in.post(
        "/admin/customers/9/adjust", data={"points": "5", "reason": "x", "csrf_token": token}
    )
    assert ok.status_code == 303


# --- pages ------------------------------------------------------------------------------------


def test_adjusting_points_shows_the_apis_messages_and_then_the_new_balance(
    signed_in: FlaskClient, container: Container, demo_shop: ShopHandle
) -> None:
    add_customer(container, demo_shop.id, "9", email="m@example.com", first="Mai")
    token = csrf_of(signed_in.get("/admin/customers/9").get_data(as_text=True))
    bad = signed_in.post(
        "/admin/customers/9/adjust", data={"points": "abc", "reason": "x", "csrf_token": token}
    )
    assert bad.status_code == 400
    html = bad.get_data(as_text=True)
    assert "points must be a non-zero whole number within ±1000000" in html
    assert 'aria-invalid="true"' in html
    assert 'value="abc"' in html  # what the merchant typed stays in the form
    no_reason = signed_in.post(
        "/admin/customers/9/adjust", data={"points": "5", "reason": " ", "csrf_token": token}
    )
    assert "reason must be 1 to 255 characters" in no_reason.get_data(as_text=True)
    done = signed_in.post(
        "/admin/customers/9/adjust",
        data={"points": "120", "reason": "Goodwill", "csrf_token": token},
        follow_redirects=True,
    )
    html = done.get_data(as_text=True)
    assert '<dd id="balance">120</dd>' in html
    assert "Points adjusted: 120. New balance: 120." in html
    assert "Goodwill" in html


def test_search_finds_customers_by_email_or_name(
    signed_in: FlaskClient, container: Container, demo_shop: ShopHandle, shopify_shop: ShopHandle
) -> None:
    add_customer(container, demo_shop.id, "1", email="ann@example.com", first="Ann", last="Lee")
    add_customer(container, demo_shop.id, "2", email="bao@example.com", first="Bao", last="Tran")
    # Another shop's customer never shows.
    add_customer(container, shopify_shop.id, "3", email="ann@other.com", first="Ann")
    by_email = signed_in.get("/admin/customers?q=ANN@").get_data(as_text=True)
    assert "ann@example.com" in by_email
    assert "bao@example.com" not in by_email
    assert "ann@other.com" not in by_email
    by_name = signed_in.get("/admin/customers?q=bao tran").get_data(as_text=True)
    assert "bao@example.com" in by_name
    none = signed_in.get("/admin/customers?q=100%25").get_data(as_text=True)
    assert "No customer matches" in none
    assert signed_in.get("/admin/customers/3").status_code == 404  # other shop's


def test_merchant_and_shopper_text_is_never_html(
    signed_in: FlaskClient, container: Container, demo_shop: ShopHandle
) -> None:
    add_customer(container, demo_shop.id, "9", email="x@example.com", first=EVIL)
    token = csrf_of(signed_in.get("/admin/customers/9").get_data(as_text=True))
    signed_in.post(
        "/admin/customers/9/adjust", data={"points": "5", "reason": EVIL, "csrf_token": token}
    )
    signed_in.post(
        "/admin/rewards",
        data={"name": EVIL, "kind": "free_shipping", "points_cost": "10", "csrf_token": token},
    )
    pages = [
        signed_in.get("/admin/").get_data(as_text=True),
        signed_in.get("/admin/customers?q=x@example").get_data(as_text=True),
        signed_in.get("/admin/customers/9").get_data(as_text=True),
        signed_in.get("/admin/rewards").get_data(as_text=True),
        signed_in.get(f"/admin/customers?q={EVIL}").get_data(as_text=True),
    ]
    for html in pages:
        assert "<script>alert" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_review_queue_approves_and_rejects_with_a_note(
    signed_in: FlaskClient, container: Container, demo_shop: ShopHandle
) -> None:
    referral_id = flagged_referral(container, demo_shop.id)
    page = signed_in.get("/admin/referrals").get_data(as_text=True)
    assert f'id="referral-{referral_id}"' in page
    assert "self_referral" in page
    token = csrf_of(page)
    r = signed_in.post(
        f"/admin/referrals/{referral_id}/approve",
        data={"note": "Known customer", "csrf_token": token},
        follow_redirects=True,
    )
    assert f"Referral {referral_id} approved." in r.get_data(as_text=True)
    with container.session_factory() as s:
        referral = s.get(Referral, referral_id)
        assert referral is not None
        assert (referral.status, referral.review_note) == ("pending", "Known customer")
    again = signed_in.post(f"/admin/referrals/{referral_id}/approve", data={"csrf_token": token})
    assert again.status_code == 409
    assert "a pending referral cannot be approved" in again.get_data(as_text=True)
    rejected = signed_in.post(
        f"/admin/referrals/{referral_id}/reject",
        data={"note": "Same household", "csrf_token": token},
    )
    assert rejected.status_code == 303


def test_rewards_are_listed_created_and_archived(
    signed_in: FlaskClient, container: Container, demo_shop: ShopHandle
) -> None:
    token = csrf_of(signed_in.get("/admin/rewards").get_data(as_text=True))
    bad = signed_in.post(
        "/admin/rewards",
        data={"name": "5 off", "kind": "fixed_amount", "points_cost": "50", "csrf_token": token},
    )
    assert bad.status_code == 400
    assert "amount is required for a fixed_amount reward" in bad.get_data(as_text=True)
    r = signed_in.post(
        "/admin/rewards",
        data={
            "name": "5 off",
            "kind": "fixed_amount",
            "points_cost": "50",
            "amount": "5.00",
            "currency": "usd",
            "csrf_token": token,
        },
        follow_redirects=True,
    )
    html = r.get_data(as_text=True)
    assert "Reward created: 5 off." in html
    match = re.search(r'action="/admin/rewards/(\d+)/archive"', html)
    assert match is not None
    archived = signed_in.post(
        f"/admin/rewards/{match.group(1)}/archive",
        data={"csrf_token": token},
        follow_redirects=True,
    )
    assert "Reward archived: 5 off." in archived.get_data(as_text=True)
    assert "Archived" in archived.get_data(as_text=True)


def test_overview_counts_members_and_points(
    signed_in: FlaskClient, container: Container, demo_shop: ShopHandle
) -> None:
    add_customer(container, demo_shop.id, "9", email="m@example.com")
    token = csrf_of(signed_in.get("/admin/customers/9").get_data(as_text=True))
    for points in ("100", "-30"):
        signed_in.post(
            "/admin/customers/9/adjust",
            data={"points": points, "reason": "x", "csrf_token": token},
        )
    html = signed_in.get("/admin/").get_data(as_text=True)
    assert '<dd data-stat="members">1</dd>' in html
    assert '<dd data-stat="issued">100</dd>' in html
    assert '<dd data-stat="outstanding">70</dd>' in html


@pytest.mark.parametrize(
    ("how", "expected"),
    [
        ({"query": "?locale=th"}, "คะแนนคงค้าง"),
        ({"headers": {"Accept-Language": "vi-VN,vi;q=0.9,en;q=0.5"}}, "Điểm còn lại"),
        ({"headers": {"Accept-Language": "de-DE"}}, "Points outstanding"),
    ],
)
def test_every_page_speaks_the_merchants_language(
    signed_in: FlaskClient, how: dict[str, Any], expected: str
) -> None:
    r = signed_in.get("/admin/" + how.get("query", ""), headers=how.get("headers", {}))
    assert expected in r.get_data(as_text=True)


def test_the_language_switch_sticks_for_the_session(signed_in: FlaskClient) -> None:
    signed_in.get("/admin/?locale=vi")
    assert "Khách hàng" in signed_in.get("/admin/customers").get_data(as_text=True)


def test_the_texts_are_complete_in_every_language() -> None:
    for locale in LOCALES:
        assert set(TEXTS[locale]) == set(TEXTS["en"]), locale


def test_an_install_from_a_browser_lands_on_the_admin_app() -> None:
    """Covered end to end in test_install (Accept: text/html); here only the toml."""
    from plugin_server.platforms.templates import __file__ as templates

    toml = templates.rsplit("/", 1)[0] + "/shopify.app.toml"
    with open(toml) as f:
        assert 'application_url = "{app_url}/admin"' in f.read()


def test_expired_nonces_are_cleared(
    html_app: Flask, container: Container, woo_key: tuple[ShopHandle, Ed25519PrivateKey]
) -> None:
    from plugin_server.db.models import AdminLinkNonce

    shop, key = woo_key
    with container.session_factory() as s:
        s.add(
            AdminLinkNonce(
                shop_id=shop.id,
                jti="old" * 6,
                expires_at=datetime(2020, 1, 1, tzinfo=UTC),
                used_at=datetime(2020, 1, 1, tzinfo=UTC),
            )
        )
        s.commit()
    assert (
        FlaskClient(html_app).get(f"/admin/auth/woocommerce?token={admin_link(key)}").status_code
        == 303
    )
    with container.session_factory() as s:
        assert [n.jti for n in s.scalars(select(AdminLinkNonce))] != ["old" * 6]
        assert len(s.scalars(select(AdminLinkNonce)).all()) == 1


def test_the_wordpress_plugin_signs_links_the_app_accepts_once(
    html_app: Flask, container: Container
) -> None:
    """The plugin's own PHP (sodium) signs the link; its shopper tokens never open the
    admin app."""
    from tests.integration.test_woocommerce_plugin import PLUGIN, php

    out = php(
        f"""
        require {json.dumps(str(PLUGIN / "includes" / "class-loyalty-token.php"))};
        list($secret, $public) = Loyalty_Token::keypair();
        echo json_encode(array(
            'public' => $public,
            'admin' => Loyalty_Token::sign_admin({json.dumps(WOO)}, '3', $secret, 'th_TH'),
            'shopper' => Loyalty_Token::sign({json.dumps(WOO)}, '3', $secret),
        ));
        """
    )
    made = json.loads(out)
    shop = make_shop(container, "woocommerce", WOO, webhook_secret="s" * 32)
    install.set_token_key(container.uow(), shop.id, made["public"])
    refused = FlaskClient(html_app).get(f"/admin/auth/woocommerce?token={made['shopper']}")
    assert refused.status_code == 401
    client = FlaskClient(html_app)
    assert client.get(f"/admin/auth/woocommerce?token={made['admin']}").status_code == 303
    assert "คะแนนคงค้าง" in client.get("/admin/").get_data(as_text=True)
    replay = FlaskClient(html_app).get(f"/admin/auth/woocommerce?token={made['admin']}")
    assert replay.status_code == 401


def test_access_logs_never_show_the_tokens_in_admin_urls() -> None:
    import logging

    from plugin_server.api.admin_app.logs import RedactTokens

    line = logging.LogRecord(
        "werkzeug",
        logging.INFO,
        __file__,
        1,
        '"%s" %s %s',
        ("GET /admin/?shop=a.myshopify.com&id_token=eyJhbGc.x.y&host=abc HTTP/1.1", "200", "-"),
        None,
    )
    RedactTokens().filter(line)
    message = line.getMessage()
    assert "eyJhbGc" not in message
    assert "id_token=[redacted]&host=abc" in message
    atoms = {"r": "GET /admin/auth/woocommerce?token=abc.def.ghi HTTP/1.1", "q": "sig=123"}
    access = logging.LogRecord(
        "gunicorn.access", logging.INFO, __file__, 1, "%(r)s %(q)s", (atoms,), None
    )
    RedactTokens().filter(access)
    assert access.getMessage() == (
        "GET /admin/auth/woocommerce?token=[redacted] HTTP/1.1 sig=[redacted]"
    )


def test_signing_out_ends_the_session(signed_in: FlaskClient) -> None:
    token = csrf_of(signed_in.get("/admin/").get_data(as_text=True))
    assert signed_in.post("/admin/auth/sign-out").status_code == 400  # CSRF as any POST
    r = signed_in.post("/admin/auth/sign-out", data={"csrf_token": token})
    assert r.status_code == 200
    assert "Signed out" in r.get_data(as_text=True)
    assert signed_in.get("/admin/").status_code == 401
