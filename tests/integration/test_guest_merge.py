"""A guest's points joining the account registered later with the same email: once, on the
account's first appearance (order or customer webhook), pending and expiry dates kept,
history on both sides, nothing for a second account, a shop without guest earning, or
another shop; the integrity check still passes."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal as D
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select, update

from plugin_server.bootstrap import Container
from plugin_server.db.models import LedgerEntry, Shop
from plugin_server.services import expiry, integrity
from plugin_server.simulate import shopify_order, sign_shopify
from tests.conftest import SHOPIFY_SECRET, FakeClock, ShopHandle, make_shop, post

GUEST = "guest:ann@example.com"
FIXTURES = Path(__file__).parents[1] / "fixtures" / "shopify"


def set_shop(container: Container, shop: ShopHandle, **values: object) -> None:
    with container.session_factory.begin() as s:
        s.execute(update(Shop).where(Shop.id == shop.id).values(**values))


def order(
    client: FlaskClient,
    container: Container,
    shop: ShopHandle,
    order_id: int,
    amount: str,
    customer: int | None,
    email: str = "Ann@Example.com",
) -> None:
    payload = shopify_order(
        order_id=order_id, email=email, subtotal=D(amount), customer_id=customer
    )
    # Paid at the test clock's time, so pending and expiry dates follow the clock.
    payload["created_at"] = payload["processed_at"] = container.clock().isoformat()
    r = post(
        client,
        sign_shopify(payload, topic="orders/paid", shop_domain=shop.domain, secret=SHOPIFY_SECRET),
    )
    assert r.status_code == 200, r.json


def member(client: FlaskClient, shop: ShopHandle, ref: str) -> dict[str, Any]:
    r = client.get(f"/api/v1/customers/{ref}", headers=shop.auth)
    assert r.status_code == 200, r.json
    return r.json


def history(client: FlaskClient, shop: ShopHandle, ref: str) -> list[dict[str, Any]]:
    r = client.get(f"/api/v1/customers/{ref}/transactions", headers=shop.auth)
    assert r.status_code == 200, r.json
    return r.json["transactions"]


def merges(container: Container, shop: ShopHandle) -> list[tuple[str, int]]:
    with container.session_factory() as s:
        return [
            (kind, points)
            for kind, points in s.execute(
                select(LedgerEntry.kind, LedgerEntry.points)
                .where(LedgerEntry.shop_id == shop.id, LedgerEntry.kind.like("guest_merge%"))
                .order_by(LedgerEntry.id)
            )
        ]


def integrity_ok(container: Container) -> bool:
    report = integrity.check(container.uow(), now=container.clock())
    found = {f["name"]: f for f in report.as_dict()["checks"]}
    assert found["guest_merges_balanced"]["broken"] == 0
    return report.ok


def test_a_guests_points_move_once_to_the_account_registered_with_the_email(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle
) -> None:
    set_shop(container, shopify_shop, guests_earn=True)
    order(client, container, shopify_shop, 1, "40", None)
    order(client, container, shopify_shop, 2, "10", None, email=" ann@EXAMPLE.com ")
    assert member(client, shopify_shop, GUEST)["balance"] == 50
    for _ in range(2):  # the account's first order, and the same webhook delivered again
        order(client, container, shopify_shop, 3, "25", 77, email="ANN@example.com")
    account = member(client, shopify_shop, "77")
    assert (account["balance"], account["pending"]) == (75, 0)
    assert member(client, shopify_shop, GUEST)["balance"] == 0
    # Both histories say what happened: the guest's names where the points went.
    out = [t for t in history(client, shopify_shop, GUEST) if t["kind"] == "guest_merge_out"]
    came = [t for t in history(client, shopify_shop, "77") if t["kind"] == "guest_merge_in"]
    assert sum(t["points"] for t in out) == -50
    assert {(t["source"]["type"], t["source"]["ref"]) for t in out} == {("customer", "77")}
    assert sum(t["points"] for t in came) == 50
    assert {t["source"]["ref"] for t in came} == {GUEST}
    assert "77" in out[0]["reason"]
    # A later order of the account moves nothing more.
    order(client, container, shopify_shop, 4, "5", 77, email="ann@example.com")
    assert member(client, shopify_shop, "77")["balance"] == 80
    assert sum(p for _, p in merges(container, shopify_shop)) == 0
    assert len(merges(container, shopify_shop)) == len(out) + len(came)
    assert integrity_ok(container)


def test_a_customer_webhook_creating_the_account_takes_the_guest_points(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle
) -> None:
    set_shop(container, shopify_shop, guests_earn=True)
    body = json.loads((FIXTURES / "customers_create.json").read_text())
    order(client, container, shopify_shop, 1, "30", None, email=body["email"].upper())
    for topic in ("customers/create", "customers/update", "customers/create"):
        signed = sign_shopify(
            body, topic=topic, shop_domain=shopify_shop.domain, secret=SHOPIFY_SECRET
        )
        assert post(client, signed).status_code == 200
    assert member(client, shopify_shop, str(body["id"]))["balance"] == 30
    assert member(client, shopify_shop, "guest:" + body["email"])["balance"] == 0
    assert len(merges(container, shopify_shop)) == 2
    assert integrity_ok(container)


def test_only_the_first_account_with_the_email_gets_the_points(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle
) -> None:
    set_shop(container, shopify_shop, guests_earn=True)
    order(client, container, shopify_shop, 1, "40", None)
    order(client, container, shopify_shop, 2, "10", 77)
    # The guest earns again after the merge (checking out signed out), then a second
    # account is registered with the same email: the guest's new points stay put.
    order(client, container, shopify_shop, 3, "20", None)
    order(client, container, shopify_shop, 4, "10", 78)
    assert member(client, shopify_shop, "77")["balance"] == 50
    assert member(client, shopify_shop, "78")["balance"] == 10
    assert member(client, shopify_shop, GUEST)["balance"] == 20
    assert integrity_ok(container)


def test_pending_guest_points_stay_pending_until_their_day_on_the_account(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle, clock: FakeClock
) -> None:
    set_shop(container, shopify_shop, guests_earn=True, pending_days=14)
    order(client, container, shopify_shop, 1, "40", None)
    due = member(client, shopify_shop, GUEST)["next_pending_available_at"]
    clock.advance(days=3)
    order(client, container, shopify_shop, 2, "10", 77)
    account = member(client, shopify_shop, "77")
    assert (account["balance"], account["pending"]) == (0, 50)
    assert account["next_pending_available_at"] == due
    guest = member(client, shopify_shop, GUEST)
    assert (guest["balance"], guest["pending"]) == (0, 0)
    [moved] = [t for t in history(client, shopify_shop, "77") if t["kind"] == "guest_merge_in"]
    assert (moved["status"], moved["available_at"]) == ("pending", due)
    clock.advance(days=11, minutes=1)  # the guest's points are due; the account's own not yet
    account = member(client, shopify_shop, "77")
    assert (account["balance"], account["pending"]) == (40, 10)
    assert member(client, shopify_shop, GUEST)["balance"] == 0
    assert integrity_ok(container)


def test_moved_points_expire_when_they_would_have_on_the_guest(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle, clock: FakeClock
) -> None:
    set_shop(container, shopify_shop, guests_earn=True)
    r = client.patch(
        "/api/v1/program",
        json={"expiry_policy": "batch", "expiry_months": 12},
        headers=shopify_shop.auth,
    )
    assert r.status_code == 200, r.json
    order(client, container, shopify_shop, 1, "100", None)
    clock.advance(days=100)
    order(client, container, shopify_shop, 2, "50", None)
    # The guest spends 30: taken from the oldest batch, so 70 of it and all 50 are left.
    r = client.post(
        f"/api/v1/customers/{GUEST}/adjustments",
        json={"points": -30, "reason": "spent"},
        headers=shopify_shop.auth,
    )
    assert r.status_code == 201, r.json
    clock.advance(days=100)
    order(client, container, shopify_shop, 3, "20", 77)
    assert member(client, shopify_shop, "77")["balance"] == 140
    # What the account will lose next: the guest's first batch, on its own date.
    expiring = member(client, shopify_shop, "77")["expiring"]
    assert expiring["points"] == 70

    def run(at_days: int) -> int:
        clock.advance(days=at_days)
        now: datetime = container.clock()
        return expiry.expire_all(container.uow, now=now).points_expired

    assert run(170) == 70  # a year after the first guest order
    assert member(client, shopify_shop, "77")["balance"] == 70
    assert run(100) == 50  # a year after the second
    assert member(client, shopify_shop, "77")["balance"] == 20
    assert run(100) == 20  # the account's own order, a year on
    assert member(client, shopify_shop, GUEST)["balance"] == 0
    assert integrity_ok(container)


def test_no_merge_where_guests_do_not_earn_nor_in_another_shop(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle
) -> None:
    other = make_shop(container, "shopify", "other-shop.myshopify.com", access_token="shpat_y")
    set_shop(container, shopify_shop, guests_earn=True)
    set_shop(container, other, guests_earn=True)
    order(client, container, shopify_shop, 1, "40", None)
    order(client, container, other, 1, "60", None)
    # Guests stop earning in the first shop: the account registered there takes nothing.
    set_shop(container, shopify_shop, guests_earn=False)
    order(client, container, shopify_shop, 2, "10", 77)
    assert member(client, shopify_shop, "77")["balance"] == 10
    assert member(client, shopify_shop, GUEST)["balance"] == 40
    # The other shop's guest is its own member: untouched by the first shop's account...
    assert member(client, other, GUEST)["balance"] == 60
    assert merges(container, other) == []
    # ...and merged only by an account in that shop.
    order(client, container, other, 2, "10", 77)
    assert member(client, other, "77")["balance"] == 70
    assert member(client, shopify_shop, GUEST)["balance"] == 40
    assert integrity_ok(container)


def test_accounts_racing_for_one_guests_points_get_them_once(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle
) -> None:
    """Eight workers applying the first orders of two new accounts with the guest's email at
    once (on PostgreSQL they really race): one account gets the points, once."""
    from concurrent.futures import ThreadPoolExecutor

    from plugin_server.services import webhook_receipts
    from webhooks.envelopes import shopify_envelope

    set_shop(container, shopify_shop, guests_earn=True)
    order(client, container, shopify_shop, 1, "50", None)
    receipt_ids = []
    for n in range(8):
        customer = 77 + n % 2
        payload = shopify_order(
            order_id=10 + n, email="ann@example.com", subtotal=D("1"), customer_id=customer
        )
        body = sign_shopify(
            payload, topic="orders/paid", shop_domain=shopify_shop.domain, secret=SHOPIFY_SECRET
        )
        envelope = shopify_envelope(
            {**body.headers, "X-Shopify-Webhook-Id": f"race-{n}"}, shopify_shop.domain
        )
        receipt_ids.append(
            webhook_receipts.record_receipt(
                container.engine,
                shop_id=shopify_shop.id,
                envelope=envelope,
                body=body.body,
                now=container.clock(),
            )
        )

    def apply(rid: int) -> None:
        # A worker whose merge lost to another's retries, as the job queue would.
        for _ in range(5):
            webhook_receipts.apply_receipt(container.uow(), rid, now=container.clock())
            with container.session_factory() as s:
                from plugin_server.db.models import WebhookReceipt

                receipt = s.get(WebhookReceipt, rid)
                assert receipt is not None
                if receipt.status == "processed":
                    return

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(apply, receipt_ids))
    balances = sorted(member(client, shopify_shop, ref)["balance"] for ref in ("77", "78"))
    assert balances == [4, 54]  # four 1-point orders each, and the guest's 50 for one
    assert member(client, shopify_shop, GUEST)["balance"] == 0
    assert [k for k, _ in merges(container, shopify_shop)].count("guest_merge_in") == 1
    assert integrity_ok(container)
