"""Referrals end to end: campaigns, members' codes, a friend's claim and real discount code
(Shopify sandbox over HTTP), attribution of the first qualifying order (code, attribute,
email), the pending period, refunds within it, the fraud checks that hold a referral for
review, the merchant's decision, and the report."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal as D
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from plugin_server import jobs
from plugin_server.bootstrap import Container
from plugin_server.db.models import LedgerEntry, LoyaltyEvent
from plugin_server.sandbox.server import RunningSandbox, Sandbox
from plugin_server.simulate import shopify_order, shopify_refund, sign_shopify
from tests.conftest import SHOPIFY_SECRET, FakeClock, ShopHandle, make_shop, post
from tests.integration.test_storefront_api import proxied

SHOP = "widget-shop.myshopify.com"  # the app-proxy helper signs for this shop
TOKEN = "shpat_referrals"
ANN = 42
HOME = {"address1": "1 Main St", "city": "Springfield", "zip": "12345", "country_code": "US"}


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    state = Sandbox()
    state.shopify_shop(SHOP, access_token=TOKEN)
    with RunningSandbox(state) as running:
        yield running


@pytest.fixture
def shop(container: Container, sandbox: RunningSandbox) -> ShopHandle:
    return make_shop(container, "shopify", SHOP, access_token=TOKEN, api_base_url=sandbox.url)


def order(
    client: FlaskClient,
    shop: ShopHandle,
    order_id: int,
    amount: str,
    *,
    customer: int | None,
    email: str,
    codes: tuple[str, ...] = (),
    attributes: dict[str, str] | None = None,
    address: dict[str, str] | None = None,
) -> None:
    payload = shopify_order(
        order_id=order_id,
        email=email,
        subtotal=D(amount),
        customer_id=customer,
        discount_codes=codes,
        note_attributes=attributes,
        shipping_address=address,
    )
    r = post(
        client,
        sign_shopify(payload, topic="orders/paid", shop_domain=shop.domain, secret=SHOPIFY_SECRET),
    )
    assert r.status_code == 200, r.data


def refund(client: FlaskClient, shop: ShopHandle, order_id: int, amount: str) -> None:
    body = shopify_refund(
        refund_id=order_id * 7,
        order_id=order_id,
        line_item_id=order_id * 10 + 1,
        subtotal=D(amount),
    )
    r = post(
        client,
        sign_shopify(body, topic="refunds/create", shop_domain=shop.domain, secret=SHOPIFY_SECRET),
    )
    assert r.status_code == 200


def campaign(client: FlaskClient, shop: ShopHandle, **extra: Any) -> dict[str, Any]:
    body = {
        "name": "Give 10%, get 500",
        "starts_at": "2020-01-01T00:00:00Z",
        "friend_discount_kind": "percentage",
        "friend_discount_value": "10",
        "advocate_reward_kind": "points",
        "advocate_points": 500,
        "min_order_subtotal": "50",
        **extra,
    }
    body = {k: v for k, v in body.items() if v is not None}
    r = client.post("/api/v1/referral-campaigns", json=body, headers=shop.auth)
    assert r.status_code == 201, r.json
    return r.json


def program(client: FlaskClient, shop: ShopHandle, **changes: Any) -> None:
    r = client.patch("/api/v1/program", json=changes, headers=shop.auth)
    assert r.status_code == 200, r.json


def advocate_code(client: FlaskClient, shop: ShopHandle) -> str:
    """Ann becomes a member with an order (from HOME) and is given her code."""
    order(client, shop, 1, "20.00", customer=ANN, email="ann@example.com", address=HOME)
    r = client.get(f"/api/v1/customers/{ANN}", headers=shop.auth)
    assert r.status_code == 200, r.json
    code: str = r.json["referral"]["code"]
    assert r.json["referral"]["link"] == f"https://{SHOP}/?ref={code}"
    return code


def claim(
    client: FlaskClient,
    code: str,
    email: str | None = None,
    *,
    customer: str = "",
    device: str | None = None,
) -> Any:
    body: dict[str, Any] = {"code": code}
    if email is not None:
        body["email"] = email
    if device is not None:
        body["device_id"] = device
    return client.post(proxied("referrals/claim", customer=customer), json=body)


def referrals(client: FlaskClient, shop: ShopHandle, **query: str) -> list[dict[str, Any]]:
    r = client.get("/api/v1/referrals", query_string=query, headers=shop.auth)
    assert r.status_code == 200, r.json
    found: list[dict[str, Any]] = r.json["referrals"]
    return found


def balance(client: FlaskClient, shop: ShopHandle, customer: int = ANN) -> int:
    value: int = client.get(f"/api/v1/customers/{customer}", headers=shop.auth).json["balance"]
    return value


def referral_entries(container: Container) -> list[LedgerEntry]:
    with container.session_factory() as s:
        return list(s.scalars(select(LedgerEntry).where(LedgerEntry.source_type == "referral")))


def test_a_friend_claims_orders_on_another_device_and_the_advocate_is_paid_after_the_period(
    container: Container, client: FlaskClient, shop: ShopHandle, clock: FakeClock
) -> None:
    program(client, shop, pending_days=14)
    campaign(client, shop)
    code = advocate_code(client, shop)

    # The guest landing: whose code, and the offer.
    landing = client.get(proxied(f"referrals/{code.lower()}", customer=""))
    assert landing.status_code == 200, landing.json
    assert landing.json["offer"]["friend"] == {
        "kind": "percentage",
        "value": "10.00",
        "currency": None,
        "valid_days": 30,
    }
    assert landing.json["offer"]["advocate"]["points"] == 500

    first = claim(client, code, "Friend@Example.com", device="d-1")
    assert first.status_code == 201, first.json
    assert first.json["status"] == "issued"
    assert first.json["code"].startswith("LOYAL-")
    again = claim(client, code, "friend@example.com")
    assert again.status_code == 200
    assert again.json["code"] == first.json["code"]

    # A new account on another device: only the discount code on the order ties it to Ann.
    order(
        client,
        shop,
        2,
        "80.00",
        customer=77,
        email="new-address@example.org",
        codes=(first.json["code"].lower(),),
    )
    [ref] = referrals(client, shop)
    assert ref["status"] == "pending"
    assert ref["attributed_by"] == "discount_code"
    assert ref["advocate_id"] == str(ANN)
    assert ref["friend_id"] is not None
    assert ref["order_id"] == "2"
    assert ref["flags"] == []

    assert jobs.tick(container)["referrals_rewarded"] == 0  # the period has not passed
    clock.advance(days=15)
    before = balance(client, shop)  # Ann's own order's points are spendable by now
    assert jobs.tick(container)["referrals_rewarded"] == 1
    assert jobs.tick(container)["referrals_rewarded"] == 0  # a second run pays nothing
    assert balance(client, shop) == before + 500
    [entry] = referral_entries(container)
    assert entry.kind == "referral_bonus"
    assert entry.reason == "Referral: Demo's first order"
    [ref] = referrals(client, shop)
    assert ref["status"] == "rewarded"
    assert ref["rewarded_at"] is not None

    # A refund after the period does not take the reward back.
    refund(client, shop, 2, "80.00")
    assert balance(client, shop) == before + 500
    assert referrals(client, shop)[0]["status"] == "rewarded"


def test_a_refund_within_the_pending_period_voids_the_referral(
    container: Container, client: FlaskClient, shop: ShopHandle, clock: FakeClock
) -> None:
    program(client, shop, pending_days=14)
    campaign(client, shop)
    code = advocate_code(client, shop)
    friend = claim(client, code, "friend@example.com").json
    order(
        client, shop, 2, "80.00", customer=77, email="friend@example.com", codes=(friend["code"],)
    )
    refund(client, shop, 2, "40.00")  # 40 kept: below the 50 minimum
    [ref] = referrals(client, shop)
    assert ref["status"] == "voided"
    assert ref["void_reason"] == "the friend's order was refunded below the qualifying amount"
    clock.advance(days=15)
    assert jobs.tick(container)["referrals_rewarded"] == 0
    assert referral_entries(container) == []


def test_a_small_refund_that_keeps_the_minimum_keeps_the_referral(
    container: Container, client: FlaskClient, shop: ShopHandle, clock: FakeClock
) -> None:
    campaign(client, shop)
    code = advocate_code(client, shop)
    friend = claim(client, code, "friend@example.com").json
    order(
        client, shop, 2, "80.00", customer=77, email="friend@example.com", codes=(friend["code"],)
    )
    refund(client, shop, 2, "10.00")
    assert jobs.tick(container)["referrals_rewarded"] == 1  # no pending period


def test_attribution_by_the_cart_attribute_without_a_claim(
    container: Container, client: FlaskClient, shop: ShopHandle
) -> None:
    campaign(client, shop)
    code = advocate_code(client, shop)
    order(
        client,
        shop,
        2,
        "60.00",
        customer=77,
        email="walkin@example.com",
        attributes={"loyalty_referral": code},
    )
    [ref] = referrals(client, shop)
    assert ref["attributed_by"] == "order_attribute"
    assert ref["status"] == "pending"
    assert jobs.tick(container)["referrals_rewarded"] == 1


def test_attribution_by_the_claimed_email_when_the_code_was_not_used(
    container: Container, client: FlaskClient, shop: ShopHandle
) -> None:
    campaign(client, shop)
    code = advocate_code(client, shop)
    assert claim(client, code, "friend@example.com").status_code == 201
    order(client, shop, 2, "60.00", customer=None, email="friend@example.com")
    [ref] = referrals(client, shop)
    assert ref["attributed_by"] == "email"
    assert ref["status"] == "pending"


def test_only_the_first_qualifying_order_counts_and_a_small_first_order_does_not(
    container: Container, client: FlaskClient, shop: ShopHandle
) -> None:
    campaign(client, shop)
    code = advocate_code(client, shop)
    friend = claim(client, code, "friend@example.com").json
    order(client, shop, 2, "20.00", customer=77, email="friend@example.com")  # below 50
    assert referrals(client, shop)[0]["status"] == "claimed"
    order(
        client, shop, 3, "70.00", customer=77, email="friend@example.com", codes=(friend["code"],)
    )
    order(client, shop, 4, "90.00", customer=77, email="friend@example.com")
    [ref] = referrals(client, shop)
    assert ref["order_id"] == "3"
    assert ref["flags"] == []
    assert jobs.tick(container)["referrals_rewarded"] == 1
    assert jobs.tick(container)["referrals_rewarded"] == 0
    assert len(referral_entries(container)) == 1


def test_claiming_with_the_advocates_own_email_in_disguise_is_refused(
    client: FlaskClient, shop: ShopHandle
) -> None:
    campaign(client, shop)
    code = advocate_code(client, shop)
    r = claim(client, code, "A.N.N+friend@Example.com")  # dots and a plus-tag
    assert r.status_code == 409
    assert r.json["error"]["code"] == "own_referral_code"


def test_a_friend_shipping_to_the_advocates_address_is_held_and_can_be_approved(
    container: Container, client: FlaskClient, shop: ShopHandle
) -> None:
    campaign(client, shop)
    code = advocate_code(client, shop)
    friend = claim(client, code, "someone@example.com").json
    same_home = {**HOME, "address1": "1 MAIN ST.", "city": "springfield "}
    order(
        client,
        shop,
        2,
        "60.00",
        customer=88,
        email="someone@example.com",
        codes=(friend["code"],),
        address=same_home,
    )
    [ref] = referrals(client, shop, status="flagged")
    assert ref["flags"] == ["self_referral"]
    assert jobs.tick(container)["referrals_rewarded"] == 0  # held
    with container.session_factory() as s:
        [_event] = s.scalars(select(LoyaltyEvent).where(LoyaltyEvent.kind == "referral_flagged"))
    r = client.post(
        f"/api/v1/referrals/{ref['id']}/approve", json={"note": "sisters"}, headers=shop.auth
    )
    assert r.status_code == 200, r.json
    assert r.json["status"] == "rewarded"
    assert r.json["review_note"] == "sisters"
    again = client.post(f"/api/v1/referrals/{ref['id']}/approve", json={}, headers=shop.auth)
    assert again.status_code == 409
    assert again.json["error"]["code"] == "referral_not_reviewable"
    assert len(referral_entries(container)) == 1
    report = client.get("/api/v1/referrals/report", headers=shop.auth).json
    assert report["flagged"] == {
        "total": 1,
        "awaiting_review": 0,
        "approved": 1,
        "rejected": 0,
        "voided": 0,
        "by_flag": {
            "self_referral": 1,
            "friend_not_new": 0,
            "claim_velocity": 0,
            "advocate_limit": 0,
        },
    }
    assert report["advocate_points"] == 500


def test_the_advocate_ordering_on_the_friends_code_is_held(
    container: Container, client: FlaskClient, shop: ShopHandle
) -> None:
    campaign(client, shop)
    code = advocate_code(client, shop)
    friend = claim(client, code, "friend@example.com").json
    order(client, shop, 2, "60.00", customer=ANN, email="ann@example.com", codes=(friend["code"],))
    [ref] = referrals(client, shop)
    assert ref["status"] == "flagged"
    assert ref["flags"] == ["friend_not_new", "self_referral"]


def test_a_rejected_referral_pays_nothing(
    container: Container, client: FlaskClient, shop: ShopHandle
) -> None:
    campaign(client, shop)
    code = advocate_code(client, shop)
    friend = claim(client, code, "friend@example.com").json
    order(
        client,
        shop,
        2,
        "60.00",
        customer=88,
        email="friend@example.com",
        codes=(friend["code"],),
        address=HOME,
    )
    [ref] = referrals(client, shop)
    r = client.post(f"/api/v1/referrals/{ref['id']}/reject", json={}, headers=shop.auth)
    assert r.status_code == 200
    assert r.json["status"] == "rejected"
    assert jobs.tick(container)["referrals_rewarded"] == 0
    assert referral_entries(container) == []
    report = client.get("/api/v1/referrals/report", headers=shop.auth).json
    assert report["flagged"]["total"] == 1
    assert report["flagged"]["rejected"] == 1
    assert report["flagged"]["by_flag"]["self_referral"] == 1
    assert report["by_status"]["rejected"] == 1


def test_a_friend_who_was_a_guest_customer_before_cannot_claim(
    client: FlaskClient, shop: ShopHandle
) -> None:
    campaign(client, shop)
    code = advocate_code(client, shop)
    order(client, shop, 2, "30.00", customer=None, email="friend@example.com")  # a guest
    r = claim(client, code, "Friend@example.com")
    assert r.status_code == 409
    assert r.json["error"]["code"] == "not_new_customer"


def test_a_friend_found_not_new_only_at_order_time_is_flagged(
    client: FlaskClient, shop: ShopHandle
) -> None:
    campaign(client, shop)
    code = advocate_code(client, shop)
    order(client, shop, 2, "30.00", customer=77, email="old-address@example.com")
    friend = claim(client, code, "friend@example.com").json  # an email never seen
    order(
        client, shop, 3, "60.00", customer=77, email="friend@example.com", codes=(friend["code"],)
    )
    [ref] = referrals(client, shop)
    assert ref["status"] == "flagged"
    assert ref["flags"] == ["friend_not_new"]


def test_advocate_limit_and_claim_velocity_hold_referrals(
    client: FlaskClient, shop: ShopHandle
) -> None:
    campaign(client, shop, advocate_limit=1)
    code = advocate_code(client, shop)
    for n in range(4):
        r = claim(client, code, f"friend{n}@example.com", device="same-phone")
        assert r.status_code == 201
        order(
            client,
            shop,
            10 + n,
            "60.00",
            customer=100 + n,
            email=f"friend{n}@example.com",
            codes=(r.json["code"],),
        )
    flags = {r["friend_id"]: r["flags"] for r in referrals(client, shop)}
    assert sorted(map(tuple, flags.values())) == [
        (),
        ("advocate_limit",),
        ("advocate_limit",),
        ("advocate_limit", "claim_velocity"),
    ]


def test_claims_that_are_refused_say_why(client: FlaskClient, shop: ShopHandle) -> None:
    r = claim(client, "NOSUCHCODE", "x@example.com")
    assert r.status_code == 404
    assert r.json["error"]["code"] == "referral_code_not_found"
    code = advocate_code(client, shop)
    r = claim(client, code, "x@example.com")
    assert r.status_code == 404
    assert r.json["error"]["code"] == "no_referral_campaign"
    campaign(client, shop)
    r = claim(client, code, customer=str(ANN))
    assert r.status_code == 409
    assert r.json["error"]["code"] == "own_referral_code"
    r = claim(client, code)
    assert r.status_code == 400
    assert r.json["error"]["fields"] == {"email": ANY_TEXT}
    r = claim(client, code, "not-an-email")
    assert r.status_code == 400
    # Bob refers a friend Ann already referred.
    order(client, shop, 5, "5.00", customer=55, email="bob@example.com")
    bob = client.get("/api/v1/customers/55", headers=shop.auth).json["referral"]["code"]
    assert claim(client, code, "f@example.com").status_code == 201
    r = claim(client, bob, "f@example.com")
    assert r.status_code == 409
    assert r.json["error"]["code"] == "already_referred"


class _AnyText:
    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and bool(other)


ANY_TEXT: Any = _AnyText()


def test_a_signed_in_friend_claims_and_sees_the_code_among_their_codes(
    client: FlaskClient, shop: ShopHandle
) -> None:
    campaign(client, shop)
    code = advocate_code(client, shop)
    r = claim(client, code, customer="67")
    assert r.status_code == 201, r.json
    summary = client.get(proxied("summary", customer="67")).json
    assert [c["code"] for c in summary["member"]["codes"]] == [r.json["code"]]


def test_the_widget_shows_the_member_their_code_and_friends(
    client: FlaskClient, shop: ShopHandle
) -> None:
    code = advocate_code(client, shop)
    summary = client.get(proxied("summary", customer=str(ANN))).json
    assert summary["member"]["referral"] is None  # no campaign yet
    assert summary["program"]["referral"] is None
    campaign(client, shop)
    shop_cache_reset(client)
    summary = client.get(proxied("summary", customer=str(ANN))).json
    assert summary["member"]["referral"] == {
        "code": code,
        "link": f"https://{SHOP}/?ref={code}",
        "friends_joined": 0,
        "friends_pending": 0,
        "friends_rewarded": 0,
    }
    assert summary["program"]["referral"]["friend"]["value"] == "10.00"
    claim(client, code, "friend@example.com")
    member = client.get(proxied("summary", customer=str(ANN))).json["member"]
    assert member["referral"]["friends_joined"] == 1


def shop_cache_reset(client: FlaskClient) -> None:
    from plugin_server.api.context import current_container

    with client.application.app_context():
        shops = current_container().storefront_shops
        shops._pages.clear()


def test_campaign_terms_are_checked_field_by_field(client: FlaskClient, shop: ShopHandle) -> None:
    def refused(**body: Any) -> dict[str, str]:
        base = {
            "name": "x",
            "starts_at": "2026-01-01T00:00:00Z",
            "friend_discount_kind": "fixed_amount",
            "friend_discount_value": "5",
            "currency": "usd",
            "advocate_reward_kind": "points",
            "advocate_points": 100,
        }
        r = client.post("/api/v1/referral-campaigns", json={**base, **body}, headers=shop.auth)
        assert r.status_code == 400, r.json
        fields: dict[str, str] = r.json["error"]["fields"]
        return fields

    assert "currency" in refused(currency=None)
    assert "friend_discount_value" in refused(friend_discount_value="0")
    assert "friend_discount_value" in refused(
        friend_discount_kind="percentage", friend_discount_value="120"
    )
    assert "ends_at" in refused(ends_at="2025-01-01T00:00:00Z")
    assert "starts_at" in refused(starts_at="2026-01-01T00:00:00")  # no time zone
    assert "advocate_points" in refused(advocate_points=None)
    assert "advocate_discount_kind" in refused(advocate_reward_kind="discount")
    assert "advocate_limit_period" in refused(advocate_period_limit=3)
    assert "surprise" in refused(surprise=1)

    made = campaign(
        client, shop, friend_discount_kind="fixed_amount", friend_discount_value=5, currency="eur"
    )
    assert made["currency"] == "EUR"
    assert made["live"] is True
    r = client.patch(
        f"/api/v1/referral-campaigns/{made['id']}",
        json={
            "advocate_reward_kind": "discount",
            "advocate_discount_kind": "percentage",
            "advocate_discount_value": "15",
        },
        headers=shop.auth,
    )
    assert r.status_code == 200, r.json
    assert r.json["advocate_points"] is None
    assert r.json["advocate_discount_value"] == "15.00"
    r = client.post(f"/api/v1/referral-campaigns/{made['id']}/archive", headers=shop.auth)
    assert r.json["archived"] is True
    assert r.json["live"] is False
    assert client.get("/api/v1/referral-campaigns", headers=shop.auth).json == {
        "referral_campaigns": []
    }
    r = client.get("/api/v1/referral-campaigns/999", headers=shop.auth)
    assert r.status_code == 404


def test_an_advocate_discount_reward_is_a_code_from_the_store(
    container: Container, client: FlaskClient, shop: ShopHandle, sandbox: RunningSandbox
) -> None:
    campaign(
        client,
        shop,
        advocate_reward_kind="discount",
        advocate_discount_kind="percentage",
        advocate_discount_value="20",
        advocate_points=None,
    )
    code = advocate_code(client, shop)
    friend = claim(client, code, "friend@example.com").json
    order(
        client, shop, 2, "60.00", customer=77, email="friend@example.com", codes=(friend["code"],)
    )
    assert jobs.tick(container)["referrals_rewarded"] == 1
    [ref] = referrals(client, shop)
    assert ref["advocate_redemption_id"] is not None
    for _ in range(50):  # the tick handed the code to a background issue
        codes = client.get(f"/api/v1/customers/{ANN}/redemptions", headers=shop.auth).json
        [mine] = codes["redemptions"]
        if mine["status"] != "pending":
            break
        time.sleep(0.1)
    assert mine["points"] == 0
    assert mine["status"] == "issued"
    assert mine["discount"]["percent"] == "20.00"
    assert referral_entries(container) == []


def test_referrals_are_the_shops_own(
    client: FlaskClient, shop: ShopHandle, container: Container
) -> None:
    campaign(client, shop)
    code = advocate_code(client, shop)
    claim(client, code, "friend@example.com")
    other = make_shop(container, "shopify", "other.myshopify.com", access_token="t")
    assert client.get("/api/v1/referrals", headers=other.auth).json["referrals"] == []
    [ref] = referrals(client, shop)
    assert client.get(f"/api/v1/referrals/{ref['id']}", headers=other.auth).status_code == 404
    assert client.get("/api/v1/referral-campaigns", headers=other.auth).json == {
        "referral_campaigns": []
    }


def test_a_woocommerce_members_link_is_the_stores_own_url() -> None:
    from plugin_server.services.referrals import link_for

    assert link_for("https://woo.example.com", "ANN1234") == "https://woo.example.com/?ref=ANN1234"
    assert (
        link_for("https://woo.example.com/shop/", "X1234")
        == "https://woo.example.com/shop/?ref=X1234"
    )
    assert link_for("demo.myshopify.com", "X1234") == "https://demo.myshopify.com/?ref=X1234"
