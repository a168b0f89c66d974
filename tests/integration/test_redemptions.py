"""Redeeming points for real discount codes, against the Shopify sandbox over HTTP."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from decimal import Decimal as D
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient
from sqlalchemy import func, select

from plugin_server import create_app, jobs
from plugin_server.bootstrap import Container
from plugin_server.db.models import LedgerEntry, Redemption
from plugin_server.domain.errors import InsufficientPoints
from plugin_server.platforms.base import DiscountSpec, IssuedDiscount, ShopCredentials
from plugin_server.platforms.shopify import ShopifyClient
from plugin_server.sandbox.server import RunningSandbox, Sandbox
from plugin_server.services import adjustments, redemptions
from plugin_server.simulate import shopify_order, sign_shopify
from tests.conftest import SHOPIFY_SECRET, FakeClock, ShopHandle, make_shop, post
from tests.integration.test_catalog_api import FIVE_OFF, conforms

DOMAIN = "redeem-shop.myshopify.com"
TOKEN = "shpat_redeem_token"
MEMBER = "9"


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    state = Sandbox()
    state.shopify_shop(DOMAIN, access_token=TOKEN)
    with RunningSandbox(state) as running:
        yield running


@pytest.fixture
def shop(container: Container, sandbox: RunningSandbox) -> ShopHandle:
    return make_shop(container, "shopify", DOMAIN, access_token=TOKEN, api_base_url=sandbox.url)


def give_points(container: Container, shop: ShopHandle, client: FlaskClient, points: int) -> None:
    """A paid order makes the member; an adjustment sets the exact balance."""
    payload = shopify_order(order_id=1, email="m@example.com", subtotal=D("1"), customer_id=9)
    post(
        client,
        sign_shopify(payload, topic="orders/paid", shop_domain=shop.domain, secret=SHOPIFY_SECRET),
    )
    adjustments.adjust_points(
        container.uow(),
        shop.id,
        MEMBER,
        points=points - 1,
        reason="test balance",
        idempotency_key=None,
        now=container.clock(),
    )


@pytest.fixture
def member(container: Container, shop: ShopHandle, client: FlaskClient) -> str:
    give_points(container, shop, client, 1200)
    return MEMBER


def reward(client: FlaskClient, shop: ShopHandle, body: dict[str, Any] = FIVE_OFF) -> int:
    r = client.post("/api/v1/rewards", headers=shop.auth, json=body)
    assert r.status_code == 201, r.json
    return int(r.json["id"])


def redeem(
    client: FlaskClient, shop: ShopHandle, body: dict[str, Any], key: str | None = None
) -> Any:
    headers = dict(shop.auth)
    if key:
        headers["Idempotency-Key"] = key
    return client.post(f"/api/v1/customers/{MEMBER}/redemptions", headers=headers, json=body)


def sandbox_discounts(sandbox: RunningSandbox) -> list[dict[str, Any]]:
    url = f"{sandbox.url}/_sandbox/shopify/{DOMAIN}/discounts"
    return list(requests.get(url, timeout=5).json()["discounts"])


def faults(sandbox: RunningSandbox, *items: dict[str, Any]) -> None:
    url = f"{sandbox.url}/_sandbox/shopify/{DOMAIN}/faults"
    requests.post(url, json={"faults": list(items)}, timeout=5)


def spendable(client: FlaskClient, shop: ShopHandle) -> int:
    return int(client.get(f"/api/v1/customers/{MEMBER}", headers=shop.auth).json["balance"])


def ledger_kinds(container: Container) -> list[tuple[str, int]]:
    with container.session_factory() as s:
        rows = s.execute(
            select(LedgerEntry.kind, LedgerEntry.points)
            .where(LedgerEntry.source_type == "redemption")
            .order_by(LedgerEntry.id)
        )
        return [(k, p) for k, p in rows]


# --- the happy path ------------------------------------------------------------------


def test_redeeming_takes_the_points_and_returns_a_code_the_store_created(
    client: FlaskClient, shop: ShopHandle, member: str, sandbox: RunningSandbox
) -> None:
    rid = reward(client, shop)
    r = redeem(client, shop, {"reward_id": rid})
    assert r.status_code == 201, r.json
    conforms(client, "Redemption", r.json)
    body = r.json
    assert body["status"] == "issued"
    assert body["points"] == 500
    assert body["reward_id"] == rid
    assert body["code"].startswith("LOYAL-")
    assert len(body["code"]) == 16
    assert body["discount"]["amount"] == "5.00"
    assert body["discount"]["currency"] == "USD"
    assert spendable(client, shop) == 700

    [made] = sandbox_discounts(sandbox)
    assert made["code"] == body["code"]
    assert made["type"] == "DiscountCodeBasic"
    spec = made["input"]
    # Single use, for this customer only, with the reward's minimum and validity.
    assert spec["usageLimit"] == 1
    assert spec["appliesOncePerCustomer"] is True
    assert spec["context"]["customers"]["add"] == ["gid://shopify/Customer/9"]
    assert spec["minimumRequirement"]["subtotal"]["greaterThanOrEqualToSubtotal"] == "20.00"
    assert spec["endsAt"].startswith(body["expires_at"][:10])

    got = client.get(f"/api/v1/redemptions/{body['id']}", headers=shop.auth)
    assert got.status_code == 200
    assert got.json == body
    listed = client.get(f"/api/v1/customers/{MEMBER}/redemptions", headers=shop.auth)
    assert [x["id"] for x in listed.json["redemptions"]] == [body["id"]]
    txs = client.get(f"/api/v1/customers/{MEMBER}/transactions", headers=shop.auth).json
    assert txs["transactions"][0]["points"] == -500
    assert txs["transactions"][0]["kind"] == "redeem"


def test_every_kind_of_reward_becomes_the_matching_discount(
    client: FlaskClient, shop: ShopHandle, member: str, sandbox: RunningSandbox
) -> None:
    pct = reward(
        client, shop, {"name": "10%", "kind": "percentage", "points_cost": 100, "percent": "10"}
    )
    ship = reward(client, shop, {"name": "Ship", "kind": "free_shipping", "points_cost": 100})
    money = reward(
        client,
        shop,
        {
            "name": "Points for money",
            "kind": "points_for_money",
            "points_per_step": 100,
            "amount": "1.00",
            "currency": "USD",
            "min_points": 200,
            "max_points": 800,
        },
    )
    assert redeem(client, shop, {"reward_id": pct}).json["status"] == "issued"
    assert redeem(client, shop, {"reward_id": ship}).json["status"] == "issued"
    # `points` alone picks the shop's points-for-money reward.
    r = redeem(client, shop, {"points": 300})
    assert r.status_code == 201
    assert r.json["reward_id"] == money
    assert r.json["discount"]["amount"] == "3.00"
    assert spendable(client, shop) == 1200 - 100 - 100 - 300
    by_type = {d["type"]: d["input"] for d in sandbox_discounts(sandbox)}
    assert by_type["DiscountCodeFreeShipping"]["usageLimit"] == 1
    basic = [d["input"] for d in sandbox_discounts(sandbox) if d["type"] == "DiscountCodeBasic"]
    values = sorted(str(b["customerGets"]["value"]) for b in basic)
    assert values == sorted(
        [
            str({"percentage": 0.1}),
            str({"discountAmount": {"amount": "3.00", "appliesOnEachItem": False}}),
        ]
    )


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "validation_failed"),
        ({"reward_id": "1"}, "validation_failed"),
        ({"reward_id": 1, "colour": "red"}, "validation_failed"),
        ({"points": 250}, "validation_failed"),  # not a multiple of the step
        ({"points": 100}, "validation_failed"),  # below the minimum
        ({"reward_id": 99999}, "reward_not_found"),
    ],
)
def test_bad_redemptions_are_refused_and_take_nothing(
    client: FlaskClient,
    shop: ShopHandle,
    member: str,
    sandbox: RunningSandbox,
    body: dict[str, Any],
    code: str,
) -> None:
    reward(
        client,
        shop,
        {
            "name": "P4M",
            "kind": "points_for_money",
            "points_per_step": 100,
            "amount": "1.00",
            "currency": "USD",
            "min_points": 200,
            "max_points": 800,
        },
    )
    r = redeem(client, shop, body)
    assert r.status_code in (400, 404)
    assert r.json["error"]["code"] == code
    assert spendable(client, shop) == 1200
    assert sandbox_discounts(sandbox) == []


def test_insufficient_or_negative_balance_is_409(
    container: Container, client: FlaskClient, shop: ShopHandle, sandbox: RunningSandbox
) -> None:
    give_points(container, shop, client, 499)
    rid = reward(client, shop)
    r = redeem(client, shop, {"reward_id": rid})
    assert r.status_code == 409
    assert r.json["error"]["code"] == "insufficient_points"
    assert "499" in r.json["error"]["message"]
    adjustments.adjust_points(
        container.uow(),
        shop.id,
        MEMBER,
        points=-800,
        reason="chargeback",
        idempotency_key=None,
        now=container.clock(),
    )
    r = redeem(client, shop, {"reward_id": rid})
    assert r.status_code == 409
    assert r.json["error"]["code"] == "insufficient_points"
    assert spendable(client, shop) == -301
    assert sandbox_discounts(sandbox) == []
    assert ledger_kinds(container) == []


def test_pending_points_cannot_be_redeemed(
    container: Container, client: FlaskClient, shop: ShopHandle, sandbox: RunningSandbox
) -> None:
    client.patch("/api/v1/program", headers=shop.auth, json={"pending_days": 14})
    payload = shopify_order(order_id=5, email="m@example.com", subtotal=D("900"), customer_id=9)
    post(
        client,
        sign_shopify(payload, topic="orders/paid", shop_domain=shop.domain, secret=SHOPIFY_SECRET),
    )
    rid = reward(client, shop)
    r = redeem(client, shop, {"reward_id": rid})
    assert r.status_code == 409
    assert r.json["error"]["code"] == "insufficient_points"


def test_unknown_customer_and_other_shops_redemptions_are_404(
    container: Container, client: FlaskClient, shop: ShopHandle, member: str
) -> None:
    rid = reward(client, shop)
    r = client.post("/api/v1/customers/404/redemptions", headers=shop.auth, json={"reward_id": rid})
    assert r.status_code == 404
    assert r.json["error"]["code"] == "customer_not_found"
    mine = redeem(client, shop, {"reward_id": rid}).json["id"]
    other = make_shop(container, "shopify", "other.myshopify.com", access_token="x")
    r = client.get(f"/api/v1/redemptions/{mine}", headers=other.auth)
    assert r.status_code == 404
    assert r.json["error"]["code"] == "redemption_not_found"
    # Another shop cannot spend this shop's rewards either.
    r = client.post(
        f"/api/v1/customers/{MEMBER}/redemptions", headers=other.auth, json={"reward_id": rid}
    )
    assert r.status_code == 404


# --- idempotency -----------------------------------------------------------------------


def test_the_same_idempotency_key_redeems_once(
    container: Container,
    client: FlaskClient,
    shop: ShopHandle,
    member: str,
    sandbox: RunningSandbox,
) -> None:
    rid = reward(client, shop)
    first = redeem(client, shop, {"reward_id": rid}, key="checkout-1")
    again = redeem(client, shop, {"reward_id": rid}, key="checkout-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json == first.json
    assert spendable(client, shop) == 700
    assert len(sandbox_discounts(sandbox)) == 1
    other = redeem(client, shop, {"reward_id": rid, "points": 500}, key="checkout-1")
    assert other.status_code == 409
    assert other.json["error"]["code"] == "idempotency_key_reused"
    bad = redeem(client, shop, {"reward_id": rid}, key="x" * 101)
    assert bad.status_code == 400


# --- when the platform is slow, down or says no --------------------------------------------


def test_a_slow_platform_leaves_it_pending_and_a_retry_never_makes_a_second_code(
    container: Container,
    client: FlaskClient,
    shop: ShopHandle,
    member: str,
    sandbox: RunningSandbox,
) -> None:
    rid = reward(client, shop)
    # The sandbox answers after 3 s (and then really creates the code): the shopper's
    # request gives up at ~2 s.
    faults(sandbox, {"kind": "slow", "delay_s": 3})
    started = time.perf_counter()
    r = redeem(client, shop, {"reward_id": rid})
    waited = time.perf_counter() - started
    assert r.status_code == 201
    assert r.json["status"] == "pending"
    assert r.json["code"] is None
    assert waited < 2.9
    assert spendable(client, shop) == 700  # the points are taken while pending
    # The in-process retry looks the code up first and finds the one the slow call made.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        got = client.get(f"/api/v1/redemptions/{r.json['id']}", headers=shop.auth).json
        if got["status"] == "issued":
            break
        time.sleep(0.1)
    assert got["status"] == "issued"
    assert [d["code"] for d in sandbox_discounts(sandbox)] == [got["code"]]


def test_a_platform_down_stays_pending_until_the_scheduler_retries(
    container: Container,
    client: FlaskClient,
    shop: ShopHandle,
    member: str,
    sandbox: RunningSandbox,
    clock: FakeClock,
) -> None:
    rid = reward(client, shop)
    # Down for the quick attempt and for the patient job's whole retry budget.
    faults(sandbox, *[{"kind": "http_503"}] * 8)
    r = redeem(client, shop, {"reward_id": rid})
    assert r.json["status"] == "pending"
    _wait_for_background_issue(container)
    assert redemptions.get_redemption(container.uow(), shop.id, r.json["id"])["status"] == "pending"
    assert sandbox_discounts(sandbox) == []
    # A minute later the tick retries it; the platform is back.
    _clear_faults(sandbox)
    clock.advance(minutes=2)
    assert jobs.tick(container)["redemptions_retried"] == 1
    got = redemptions.get_redemption(container.uow(), shop.id, r.json["id"])
    assert got["status"] == "issued"
    assert len(sandbox_discounts(sandbox)) == 1
    assert spendable(client, shop) == 700


def _clear_faults(sandbox: RunningSandbox) -> None:
    sandbox.sandbox.shopify[DOMAIN].faults.clear()


def _wait_for_background_issue(container: Container) -> None:
    for t in threading.enumerate():
        if t.name == "loyalty-issue":
            t.join(timeout=30)


def test_throttling_in_the_request_leaves_it_pending_then_issues(
    container: Container,
    client: FlaskClient,
    shop: ShopHandle,
    member: str,
    sandbox: RunningSandbox,
) -> None:
    rid = reward(client, shop)
    faults(sandbox, {"kind": "http_429", "retry_after_s": 0.2})
    r = redeem(client, shop, {"reward_id": rid})
    assert r.json["status"] == "pending"
    _wait_for_background_issue(container)
    got = redemptions.get_redemption(container.uow(), shop.id, r.json["id"])
    assert got["status"] == "issued"
    assert len(sandbox_discounts(sandbox)) == 1


def test_a_definitive_refusal_fails_it_and_gives_the_points_back(
    container: Container, client: FlaskClient, sandbox: RunningSandbox
) -> None:
    # The store revoked our token: Shopify answers 401, which no retry can fix.
    shop = make_shop(
        container, "shopify", DOMAIN, access_token="shpat_revoked", api_base_url=sandbox.url
    )
    give_points(container, shop, client, 1200)
    rid = reward(client, shop)
    r = redeem(client, shop, {"reward_id": rid})
    assert r.status_code == 201
    assert r.json["status"] == "failed"
    assert r.json["code"] is None
    assert r.json["failure_reason"].startswith("unauthorized")
    assert spendable(client, shop) == 1200
    assert ledger_kinds(container) == [("redeem", -500), ("redeem_refund", 500)]
    # Failing again (a late job) changes nothing.
    assert jobs.run_issue(container, r.json["id"]) == "failed"
    assert ledger_kinds(container) == [("redeem", -500), ("redeem_refund", 500)]


def test_an_uninstalled_shop_makes_no_calls_and_returns_points_of_pending_ones(
    container: Container,
    client: FlaskClient,
    shop: ShopHandle,
    member: str,
    sandbox: RunningSandbox,
) -> None:
    rid = reward(client, shop)
    created, _ = redemptions.redeem(
        container.uow(),
        shop.id,
        MEMBER,
        reward_id=rid,
        points=None,
        idempotency_key=None,
        now=container.clock(),
    )
    with container.session_factory.begin() as s:
        from plugin_server.db.models import Shop

        s.get(Shop, shop.id).active = False  # type: ignore[union-attr]
    before = sandbox.sandbox.shopify[DOMAIN].requests
    assert jobs.run_issue(container, created["id"]) == "failed"
    assert sandbox.sandbox.shopify[DOMAIN].requests == before
    r = redeem(client, shop, {"reward_id": rid})
    assert r.status_code in (401, 409)


# --- crashes between the steps ----------------------------------------------------------------


def test_crash_after_deducting_before_asking_the_platform(
    container: Container,
    client: FlaskClient,
    shop: ShopHandle,
    member: str,
    sandbox: RunningSandbox,
    clock: FakeClock,
) -> None:
    """The process died right after the commit: points are taken, no code yet. The tick
    finishes it; nothing is lost or doubled."""
    rid = reward(client, shop)
    created, _ = redemptions.redeem(
        container.uow(),
        shop.id,
        MEMBER,
        reward_id=rid,
        points=None,
        idempotency_key=None,
        now=container.clock(),
    )
    assert created["status"] == "pending"
    assert spendable(client, shop) == 700
    assert jobs.tick(container)["redemptions_retried"] == 0  # too fresh: maybe in flight
    clock.advance(minutes=2)
    assert jobs.tick(container)["redemptions_retried"] == 1
    got = redemptions.get_redemption(container.uow(), shop.id, created["id"])
    assert got["status"] == "issued"
    assert [d["code"] for d in sandbox_discounts(sandbox)] == [got["code"]]
    assert spendable(client, shop) == 700


def test_crash_after_the_platform_created_the_code_before_we_recorded_it(
    container: Container,
    client: FlaskClient,
    shop: ShopHandle,
    member: str,
    sandbox: RunningSandbox,
) -> None:
    rid = reward(client, shop)
    created, _ = redemptions.redeem(
        container.uow(),
        shop.id,
        MEMBER,
        reward_id=rid,
        points=None,
        idempotency_key=None,
        now=container.clock(),
    )

    class CrashAfterCreate(ShopifyClient):
        def create_discount_code(
            self, creds: ShopCredentials, spec: DiscountSpec
        ) -> IssuedDiscount:
            super().create_discount_code(creds, spec)
            raise SystemExit("worker killed")

    container.platforms = {"shopify": CrashAfterCreate()}
    with pytest.raises(SystemExit):
        jobs.run_issue(container, created["id"])
    container.platforms = {"shopify": ShopifyClient()}
    assert jobs.run_issue(container, created["id"]) == "issued"
    assert len(sandbox_discounts(sandbox)) == 1


def test_taken_from_a_racing_attempt_is_resolved_by_looking_the_code_up(
    container: Container,
    client: FlaskClient,
    shop: ShopHandle,
    member: str,
    sandbox: RunningSandbox,
) -> None:
    """Two attempts both looked the code up (absent); one created it; the other gets TAKEN
    and must recognise the code as its own instead of failing the redemption."""
    rid = reward(client, shop)
    created, _ = redemptions.redeem(
        container.uow(),
        shop.id,
        MEMBER,
        reward_id=rid,
        points=None,
        idempotency_key=None,
        now=container.clock(),
    )

    class RacedBySibling(ShopifyClient):
        def create_discount_code(
            self, creds: ShopCredentials, spec: DiscountSpec
        ) -> IssuedDiscount:
            ShopifyClient().create_discount_code(creds, spec)  # the sibling wins
            return super().create_discount_code(creds, spec)  # -> TAKEN

    container.platforms = {"shopify": RacedBySibling()}
    assert jobs.run_issue(container, created["id"]) == "issued"
    assert len(sandbox_discounts(sandbox)) == 1
    assert ledger_kinds(container) == [("redeem", -500)]


# --- concurrency --------------------------------------------------------------------------------


def test_concurrent_redemptions_never_overdraw_one_balance(
    container: Container, client: FlaskClient, shop: ShopHandle, sandbox: RunningSandbox
) -> None:
    give_points(container, shop, client, 2600)  # room for exactly 5 redemptions of 500
    rid = reward(client, shop)
    outcomes: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(16)

    def attempt() -> None:
        barrier.wait()
        try:
            redemptions.redeem(
                container.uow(),
                shop.id,
                MEMBER,
                reward_id=rid,
                points=None,
                idempotency_key=None,
                now=container.clock(),
            )
            result = "ok"
        except InsufficientPoints:
            result = "insufficient"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=attempt) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["insufficient"] * 11 + ["ok"] * 5
    assert spendable(client, shop) == 100
    with container.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Redemption)) == 5


def test_concurrent_http_redemptions_with_one_key_make_one_code(
    container: Container, shop: ShopHandle, member: str, sandbox: RunningSandbox
) -> None:
    app = create_app(container=container)
    rid = reward(app.test_client(), shop)
    results: list[Any] = []
    barrier = threading.Barrier(6)

    def attempt() -> None:
        c = app.test_client()
        barrier.wait()
        results.append(redeem(c, shop, {"reward_id": rid}, key="double-click"))

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.status_code for r in results) == [200] * 5 + [201]
    assert len({r.json["id"] for r in results}) == 1
    assert spendable(app.test_client(), shop) == 700
    assert len(sandbox_discounts(sandbox)) == 1


# --- used and expired codes ---------------------------------------------------------------------


def order_with_code(shop: ShopHandle, order_id: int, code: str) -> Any:
    payload = shopify_order(
        order_id=order_id, email="m@example.com", subtotal=D("30"), customer_id=9
    )
    payload["discount_codes"] = [{"code": code.lower(), "amount": "5.00", "type": "fixed_amount"}]
    return sign_shopify(
        payload, topic="orders/create", shop_domain=shop.domain, secret=SHOPIFY_SECRET
    )


def test_an_order_carrying_the_code_marks_it_used(
    container: Container, client: FlaskClient, shop: ShopHandle, member: str, clock: FakeClock
) -> None:
    rid = reward(client, shop)
    issued = redeem(client, shop, {"reward_id": rid}).json
    assert post(client, order_with_code(shop, 77, issued["code"])).status_code == 200
    got = client.get(f"/api/v1/redemptions/{issued['id']}", headers=shop.auth).json
    assert got["status"] == "used"
    assert got["used_order_id"] == "77"
    conforms(client, "Redemption", got)
    # A used code never expires or gives points back.
    clock.advance(days=40)
    assert jobs.tick(container)["redemptions_expired"] == 0
    assert spendable(client, shop) == 700 + 30  # the order earned 30


def test_an_unused_code_expires_and_gives_the_points_back(
    container: Container, client: FlaskClient, shop: ShopHandle, member: str, clock: FakeClock
) -> None:
    rid = reward(client, shop)
    issued = redeem(client, shop, {"reward_id": rid}).json
    clock.advance(days=30)  # the end date, but within the grace hour
    assert jobs.tick(container)["redemptions_expired"] == 0
    clock.advance(hours=2)
    assert jobs.tick(container)["redemptions_expired"] == 1
    assert jobs.tick(container)["redemptions_expired"] == 0  # once
    got = client.get(f"/api/v1/redemptions/{issued['id']}", headers=shop.auth).json
    assert got["status"] == "expired"
    assert spendable(client, shop) == 1200
    assert ledger_kinds(container) == [("redeem", -500), ("redeem_refund", 500)]
    # The order placed just before expiry arrives late: the code was used after all, so
    # the returned points are taken again (once, however often it is delivered).
    post(client, order_with_code(shop, 78, issued["code"]))
    post(client, order_with_code(shop, 78, issued["code"]))
    got = client.get(f"/api/v1/redemptions/{issued['id']}", headers=shop.auth).json
    assert got["status"] == "used"
    assert ledger_kinds(container) == [("redeem", -500), ("redeem_refund", 500), ("redeem", -500)]


def test_shops_can_keep_the_points_of_expired_codes(
    container: Container, client: FlaskClient, shop: ShopHandle, member: str, clock: FakeClock
) -> None:
    r = client.patch("/api/v1/program", headers=shop.auth, json={"return_points_on_expiry": False})
    assert r.json["return_points_on_expiry"] is False
    rid = reward(client, shop)
    redeem(client, shop, {"reward_id": rid})
    clock.advance(days=31)
    assert jobs.tick(container)["redemptions_expired"] == 1
    assert spendable(client, shop) == 700
    assert ledger_kinds(container) == [("redeem", -500)]


def test_a_code_never_confirmed_before_its_end_date_fails_with_points_back(
    container: Container, client: FlaskClient, shop: ShopHandle, member: str, clock: FakeClock
) -> None:
    client.patch("/api/v1/program", headers=shop.auth, json={"return_points_on_expiry": False})
    rid = reward(client, shop)
    created, _ = redemptions.redeem(
        container.uow(),
        shop.id,
        MEMBER,
        reward_id=rid,
        points=None,
        idempotency_key=None,
        now=container.clock(),
    )
    container.platforms = {}  # nothing can issue it (and the tick must not crash on it)
    clock.advance(days=31)
    with pytest.raises(KeyError):
        jobs.run_issue(container, created["id"])
    expired = redemptions.expire_due(container.uow, now=container.clock(), grace=jobs.EXPIRY_GRACE)
    assert expired == 1
    got = redemptions.get_redemption(container.uow(), shop.id, created["id"])
    assert got["status"] == "failed"
    assert spendable(client, shop) == 1200


# --- privacy -------------------------------------------------------------------------------------


def test_privacy_export_lists_redemptions_and_shop_redact_removes_them(
    container: Container, client: FlaskClient, shop: ShopHandle, member: str
) -> None:
    rid = reward(client, shop)
    issued = redeem(client, shop, {"reward_id": rid}).json
    request_body = {
        "shop_id": 1,
        "shop_domain": shop.domain,
        "orders_requested": [],
        "customer": {"id": 9, "email": "m@example.com", "phone": None},
        "data_request": {"id": 4321},
    }
    post(
        client,
        sign_shopify(
            request_body,
            topic="customers/data_request",
            shop_domain=shop.domain,
            secret=SHOPIFY_SECRET,
        ),
    )
    [summary] = client.get("/api/v1/data-exports", headers=shop.auth).json["data_exports"]
    export = client.get(f"/api/v1/data-exports/{summary['id']}", headers=shop.auth).json
    [held] = export["data"]["redemptions"]
    assert held["code"] == issued["code"]
    assert held["points"] == 500

    post(
        client,
        sign_shopify(
            {"shop_id": 1, "shop_domain": shop.domain},
            topic="shop/redact",
            shop_domain=shop.domain,
            secret=SHOPIFY_SECRET,
        ),
    )
    with container.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Redemption)) == 0
        assert s.scalar(select(func.count()).select_from(LedgerEntry)) == 0


# --- cancelling ----------------------------------------------------------------------------------


def test_cancelling_deactivates_the_code_and_returns_the_points(
    container: Container,
    client: FlaskClient,
    shop: ShopHandle,
    member: str,
    sandbox: RunningSandbox,
) -> None:
    rid = reward(client, shop)
    issued = redeem(client, shop, {"reward_id": rid}).json
    r = client.post(f"/api/v1/redemptions/{issued['id']}/cancel", headers=shop.auth)
    assert r.status_code == 200
    conforms(client, "Redemption", r.json)
    assert r.json["status"] == "cancelled"
    assert r.json["code"] is None
    [made] = sandbox_discounts(sandbox)
    assert made["status"] == "EXPIRED"  # deactivated at the store
    assert spendable(client, shop) == 1200
    again = client.post(f"/api/v1/redemptions/{issued['id']}/cancel", headers=shop.auth)
    assert again.status_code == 409
    assert again.json["error"]["code"] == "redemption_not_cancellable"
    assert ledger_kinds(container) == [("redeem", -500), ("redeem_refund", 500)]


def test_a_cancel_the_store_cannot_do_changes_nothing(
    client: FlaskClient, shop: ShopHandle, member: str, sandbox: RunningSandbox
) -> None:
    rid = reward(client, shop)
    issued = redeem(client, shop, {"reward_id": rid}).json
    faults(sandbox, *[{"kind": "http_503"}] * 3)
    r = client.post(f"/api/v1/redemptions/{issued['id']}/cancel", headers=shop.auth)
    assert r.status_code == 503
    assert r.json["error"]["code"] == "platform_unavailable"
    assert (
        client.get(f"/api/v1/redemptions/{issued['id']}", headers=shop.auth).json["status"]
        == "issued"
    )
    assert spendable(client, shop) == 700
    used = client.post("/api/v1/redemptions/999/cancel", headers=shop.auth)
    assert used.status_code == 404
