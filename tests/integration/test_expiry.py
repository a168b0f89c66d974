"""Points expiry on both databases: each policy, partly spent batches, refunds, late and
repeated runs, reminders once, the hourly claim, and what members and shoppers see."""

from __future__ import annotations

import itertools
import json
import threading
from datetime import datetime
from decimal import Decimal as D
from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from plugin_server import jobs
from plugin_server.bootstrap import Container
from plugin_server.db.models import Customer, LedgerEntry, LoyaltyEvent
from plugin_server.domain.expiry import months_before
from plugin_server.services import expiry
from plugin_server.simulate import shopify_order, shopify_refund, sign_shopify
from tests.conftest import SHOPIFY_SECRET, FakeClock, ShopHandle, post


def set_policy(client: FlaskClient, shop: ShopHandle, policy: str, **extra: int) -> None:
    body = {"expiry_policy": policy, **{f"expiry_{k}": v for k, v in extra.items()}}
    r = client.patch("/api/v1/program", json=body, headers=shop.auth)
    assert r.status_code == 200, r.json


def earn(
    client: FlaskClient, shop: ShopHandle, order_id: int, amount: str, customer: int = 42
) -> None:
    payload = shopify_order(
        order_id=order_id, email="ann@example.com", subtotal=D(amount), customer_id=customer
    )
    r = post(
        client,
        sign_shopify(payload, topic="orders/paid", shop_domain=shop.domain, secret=SHOPIFY_SECRET),
    )
    assert r.status_code == 200


def adjust(client: FlaskClient, shop: ShopHandle, points: int, customer: int = 42) -> None:
    r = client.post(
        f"/api/v1/customers/{customer}/adjustments",
        json={"points": points, "reason": "test"},
        headers=shop.auth,
    )
    assert r.status_code == 201, r.json


def member(client: FlaskClient, shop: ShopHandle, customer: int = 42) -> dict[str, Any]:
    return client.get(f"/api/v1/customers/{customer}", headers=shop.auth).json


def expired_entries(
    container: Container, shop: ShopHandle, customer: int | None = None
) -> list[int]:
    query = (
        select(LedgerEntry.points)
        .where(LedgerEntry.shop_id == shop.id, LedgerEntry.kind == "expiry")
        .order_by(LedgerEntry.id)
    )
    if customer is not None:
        query = query.join(Customer, Customer.id == LedgerEntry.customer_id).where(
            Customer.customer_ref == str(customer)
        )
    with container.session_factory() as s:
        return list(s.scalars(query))


def run(container: Container) -> expiry.ExpiryRun:
    return expiry.expire_all(container.uow, now=container.clock())


def test_never_expires_nothing(
    client: FlaskClient, container: Container, clock: FakeClock, shopify_shop: ShopHandle
) -> None:
    earn(client, shopify_shop, 1, "100.00")
    clock.advance(days=800)
    assert run(container).points_expired == 0
    assert member(client, shopify_shop)["balance"] == 100
    assert member(client, shopify_shop)["expiring"] is None


def test_a_partly_spent_batch_expires_only_what_is_left_oldest_first(
    client: FlaskClient, container: Container, clock: FakeClock, shopify_shop: ShopHandle
) -> None:
    set_policy(client, shopify_shop, "batch", months=12)
    earn(client, shopify_shop, 1, "100.00")  # batch A: 100
    clock.advance(days=90)
    earn(client, shopify_shop, 2, "50.00")  # batch B: 50
    adjust(client, shopify_shop, -30)  # spent from A first
    shown = member(client, shopify_shop)["expiring"]
    assert shown["points"] == 70
    clock.advance(days=300)  # A is 390 days old: past 12 months; B is 300 days old
    assert run(container).points_expired == 70
    assert member(client, shopify_shop)["balance"] == 50
    assert member(client, shopify_shop)["expiring"]["points"] == 50
    clock.advance(days=70)  # B past 12 months too
    assert run(container).points_expired == 50
    assert member(client, shopify_shop)["balance"] == 0
    assert expired_entries(container, shopify_shop) == [-70, -50]
    assert member(client, shopify_shop)["expiring"] is None


def test_repeated_and_concurrent_runs_expire_nothing_twice(
    client: FlaskClient, container: Container, clock: FakeClock, shopify_shop: ShopHandle
) -> None:
    set_policy(client, shopify_shop, "batch", months=12)
    for customer in range(1, 6):
        earn(client, shopify_shop, customer, "40.00", customer=customer)
    clock.advance(days=400)
    threads = [threading.Thread(target=run, args=(container,)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert run(container).points_expired == 0
    assert expired_entries(container, shopify_shop) == [-40] * 5


def test_a_late_run_catches_up_in_one_entry(
    client: FlaskClient, container: Container, clock: FakeClock, shopify_shop: ShopHandle
) -> None:
    set_policy(client, shopify_shop, "batch", months=6)
    earn(client, shopify_shop, 1, "10.00")
    clock.advance(days=30)
    earn(client, shopify_shop, 2, "20.00")
    clock.advance(days=365)  # both batches long due; no run happened in between
    assert run(container).points_expired == 30
    assert expired_entries(container, shopify_shop) == [-30]


def test_a_refunded_order_expires_only_what_it_still_earns(
    client: FlaskClient, container: Container, clock: FakeClock, shopify_shop: ShopHandle
) -> None:
    set_policy(client, shopify_shop, "batch", months=12)
    earn(client, shopify_shop, 1, "100.00")
    earn(client, shopify_shop, 2, "30.00")
    clock.advance(days=200)
    refund = shopify_refund(refund_id=9, order_id=1, line_item_id=None, subtotal=D("40.00"))
    post(
        client,
        sign_shopify(
            refund, topic="refunds/create", shop_domain=shopify_shop.domain, secret=SHOPIFY_SECRET
        ),
    )
    assert member(client, shopify_shop)["balance"] == 90
    clock.advance(days=200)
    # The refund took 40 from its own order's batch, so 60 + 30 are left to expire.
    assert run(container).points_expired == 90
    assert member(client, shopify_shop)["balance"] == 0


def test_a_negative_balance_expires_nothing(
    client: FlaskClient, container: Container, clock: FakeClock, shopify_shop: ShopHandle
) -> None:
    set_policy(client, shopify_shop, "batch", months=1)
    earn(client, shopify_shop, 1, "10.00")
    adjust(client, shopify_shop, -25)
    clock.advance(days=60)
    assert run(container).points_expired == 0
    assert member(client, shopify_shop)["balance"] == -15


def test_inactivity_expires_the_whole_balance_and_activity_resets_the_clock(
    client: FlaskClient, container: Container, clock: FakeClock, shopify_shop: ShopHandle
) -> None:
    set_policy(client, shopify_shop, "inactivity", months=6, reminder_days=14)
    earn(client, shopify_shop, 1, "80.00")
    clock.advance(days=150)
    adjust(client, shopify_shop, -10)  # redeeming or spending is activity
    clock.advance(days=150)  # 300 days since earning, 150 since the last activity
    assert run(container).points_expired == 0
    shown = member(client, shopify_shop)["expiring"]
    assert shown["points"] == 70
    clock.advance(days=25)  # within 14 days of the deadline: a reminder, once
    assert run(container).reminders == 1
    assert run(container).reminders == 0
    clock.advance(days=10)
    assert run(container).points_expired == 70
    assert member(client, shopify_shop)["balance"] == 0
    # An expiry is not activity: nothing more happens later.
    clock.advance(days=400)
    assert run(container).points_expired == 0


def test_reminders_are_events_written_once_per_coming_expiry(
    client: FlaskClient, container: Container, clock: FakeClock, shopify_shop: ShopHandle
) -> None:
    set_policy(client, shopify_shop, "batch", months=12, reminder_days=30)
    earn(client, shopify_shop, 1, "25.00")
    clock.advance(days=350)
    first, second = run(container), run(container)
    assert (first.reminders, second.reminders, first.points_expired) == (1, 0, 0)
    with container.session_factory() as s:
        event = s.scalars(select(LoyaltyEvent)).one()
    assert event.kind == "points_expiring"
    payload = json.loads(event.payload)
    assert payload["points"] == 25
    assert payload["expires_at"] > clock().isoformat()


def test_the_scheduler_expires_once_an_hour_whatever_the_number_of_schedulers(
    client: FlaskClient, container: Container, clock: FakeClock, shopify_shop: ShopHandle
) -> None:
    set_policy(client, shopify_shop, "batch", months=1)
    earn(client, shopify_shop, 1, "10.00")
    clock.advance(days=40)
    # Another scheduler process already took this hour: this one leaves it alone.
    assert expiry.claim_period(container.uow(), f"points-expiry:{clock():%Y-%m-%dT%H}", now=clock())
    assert jobs.tick(container)["points_expired"] == 0
    clock.advance(hours=1)
    assert jobs.tick(container)["points_expired"] == 10
    assert jobs.tick(container)["points_expired"] == 0


def test_program_and_storefront_show_the_rule(
    client: FlaskClient, shopify_shop: ShopHandle
) -> None:
    set_policy(client, shopify_shop, "batch", months=9, reminder_days=0)
    assert client.get("/api/v1/program", headers=shopify_shop.auth).json["expiry"] == {
        "policy": "batch",
        "months": 9,
        "reminder_days": 0,
    }
    r = client.patch("/api/v1/program", json={"expiry_policy": "weekly"}, headers=shopify_shop.auth)
    assert (r.status_code, list(r.json["error"]["fields"])) == (400, ["expiry_policy"])


def test_the_cli_dry_run_writes_nothing(
    client: FlaskClient,
    container: Container,
    clock: FakeClock,
    shopify_shop: ShopHandle,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from plugin_server import cli

    set_policy(client, shopify_shop, "batch", months=1)
    earn(client, shopify_shop, 1, "10.00")
    clock.advance(days=40)
    monkeypatch.setattr(cli, "_container", lambda: container)
    out = CliRunner().invoke(cli.main, ["points", "expire", "--dry-run"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["points_expired"] == 10
    assert expired_entries(container, shopify_shop) == []
    out = CliRunner().invoke(cli.main, ["points", "expire", "--shop", str(shopify_shop.id)])
    assert json.loads(out.output)["points_expired"] == 10
    assert expired_entries(container, shopify_shop) == [-10]


def test_balances_equal_the_sum_of_entries_after_expiry(
    client: FlaskClient, container: Container, clock: FakeClock, shopify_shop: ShopHandle
) -> None:
    set_policy(client, shopify_shop, "batch", months=2)
    for i in range(1, 4):
        earn(client, shopify_shop, i, f"{10 * i}.00", customer=i)
        clock.advance(days=20)
    adjust(client, shopify_shop, -15, customer=3)
    clock.advance(days=60)
    run(container)
    with container.session_factory() as s:
        sums = dict(
            s.execute(
                select(LedgerEntry.customer_id, func.sum(LedgerEntry.points)).group_by(
                    LedgerEntry.customer_id
                )
            ).all()
        )
    balances = [member(client, shopify_shop, c)["balance"] for c in (1, 2, 3)]
    assert sorted(balances) == sorted(int(v) for v in sums.values())


# --- property: the run agrees with an independent FIFO model --------------------------

_customers = itertools.count(1000)

operations = st.lists(
    st.one_of(
        st.tuples(st.just("credit"), st.integers(1, 200)),
        st.tuples(st.just("spend"), st.integers(1, 200)),
        st.tuples(st.just("wait"), st.integers(1, 120)),
        st.tuples(st.just("run"), st.just(0)),
    ),
    min_size=1,
    max_size=14,
)


class FifoModel:
    """Batches with what is left in each, spent oldest first, expired when due."""

    def __init__(self, months: int) -> None:
        self.months = months
        self.batches: list[list[Any]] = []  # [available_at, points left]
        self.expired = 0

    @property
    def spendable(self) -> int:
        return sum(left for _, left in self.batches)

    def credit(self, points: int, now: datetime) -> None:
        self.batches.append([now, points])

    def spend(self, points: int) -> None:
        for batch in self.batches:
            taken = min(batch[1], points)
            batch[1] -= taken
            points -= taken

    def run(self, now: datetime) -> None:
        cutoff = months_before(now, self.months)
        for batch in self.batches:
            if batch[0] <= cutoff:
                self.expired += batch[1]
                batch[1] = 0


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations)
def test_expiry_matches_a_fifo_model_and_never_pays_twice(
    client: FlaskClient,
    container: Container,
    clock: FakeClock,
    shopify_shop: ShopHandle,
    ops: list[tuple[str, int]],
) -> None:
    set_policy(client, shopify_shop, "batch", months=3, reminder_days=0)
    customer = next(_customers)
    earn(client, shopify_shop, customer, "1.00", customer=customer)  # the member, 1 point
    model = FifoModel(months=3)
    model.credit(1, clock())
    for op, n in [*ops, ("wait", 120), ("run", 0), ("run", 0)]:
        if op == "credit":
            adjust(client, shopify_shop, n, customer=customer)
            model.credit(n, clock())
        elif op == "spend" and n <= model.spendable:
            adjust(client, shopify_shop, -n, customer=customer)
            model.spend(n)
        elif op == "wait":
            clock.advance(days=n)
        elif op == "run":
            expiry.expire_shop(container.uow, shopify_shop.id, now=clock())
            model.run(clock())
            shown = member(client, shopify_shop, customer)
            assert shown["balance"] == model.spendable
            assert (
                -sum(p for p in expired_entries(container, shopify_shop, customer)) == model.expired
            )
