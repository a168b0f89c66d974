"""Property: random event sequences (duplicated, reordered) always end in the same ledger.

Each example plays one randomly generated order history twice — in a random delivery order
with random duplicates, into two different customers — and checks both against a model
computed independently of the code under test.
"""

from __future__ import annotations

import itertools
from decimal import ROUND_HALF_UP, Decimal

from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from plugin_server.bootstrap import Container
from plugin_server.db.models import Customer, LedgerEntry
from plugin_server.simulate import shopify_order, shopify_refund, sign_shopify
from tests.conftest import SHOPIFY_SECRET, ShopHandle, post

_ids = itertools.count(1)

money = st.decimals(min_value=Decimal("0.00"), max_value=Decimal("500.00"), places=2)


@st.composite
def histories(draw: st.DrawFn) -> dict:
    subtotal = draw(money)
    refunds = draw(st.lists(money, max_size=4))
    return {
        "subtotal": subtotal,
        "paid": draw(st.booleans()),
        "cancelled": draw(st.booleans()),
        "refunds": refunds,
        "order": draw(st.permutations(range(3 + len(refunds)))),
        "dupes": draw(st.lists(st.integers(0, 2 + len(refunds)), max_size=6)),
    }


def model(h: dict) -> int:
    """What the customer should hold, worked out without the ledger code."""
    if not h["paid"]:
        return 0
    earned = int(h["subtotal"])  # 1 point per 1.00, rounded down
    if h["cancelled"] or earned == 0:
        return 0
    refunded = sum(h["refunds"], Decimal(0))
    if refunded >= h["subtotal"]:
        return 0
    reversed_ = (Decimal(earned) * refunded / h["subtotal"]).to_integral_value(ROUND_HALF_UP)
    return earned - min(earned, int(reversed_))


def play(
    client: FlaskClient, shop: ShopHandle, h: dict, customer_id: int, order_id: int, shuffled: bool
) -> None:
    line = order_id * 10 + 1
    events = [
        (
            "orders/paid",
            shopify_order(
                order_id=order_id, email=None, subtotal=h["subtotal"], customer_id=customer_id
            ),
        )
        if h["paid"]
        else None,
        (
            "orders/cancelled",
            shopify_order(
                order_id=order_id,
                email=None,
                subtotal=h["subtotal"],
                customer_id=customer_id,
                financial_status="voided",
                cancelled=True,
            ),
        )
        if h["cancelled"]
        else None,
        None,  # a slot the permutation may put anywhere
    ] + [
        (
            "refunds/create",
            shopify_refund(
                refund_id=order_id * 100 + i, order_id=order_id, line_item_id=line, subtotal=amount
            ),
        )
        for i, amount in enumerate(h["refunds"])
    ]
    sequence = [events[i] for i in h["order"]] if shuffled else list(events)
    sequence += [events[i] for i in h["dupes"]] if shuffled else []
    for event in sequence:
        if event is None:
            continue
        topic, payload = event
        r = post(
            client,
            sign_shopify(payload, topic=topic, shop_domain=shop.domain, secret=SHOPIFY_SECRET),
        )
        assert r.status_code == 200


def holdings(container: Container, shop: ShopHandle, customer_id: int) -> tuple[int, int]:
    """(sum of the customer's entries, number of earn entries)."""
    with container.session_factory() as s:
        member = s.scalars(
            select(Customer).where(
                Customer.shop_id == shop.id, Customer.customer_ref == str(customer_id)
            )
        ).one_or_none()
        if member is None:
            return 0, 0
        total = s.scalar(
            select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
                LedgerEntry.customer_id == member.id
            )
        )
        earns = s.scalar(
            select(func.count()).where(
                LedgerEntry.customer_id == member.id, LedgerEntry.kind == "earn_order"
            )
        )
        return int(total or 0), int(earns or 0)


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(h=histories())
def test_any_delivery_order_and_duplication_gives_the_model_balance(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle, h: dict
) -> None:
    in_order, shuffled = next(_ids), next(_ids)
    play(client, shopify_shop, h, customer_id=in_order, order_id=in_order, shuffled=False)
    play(client, shopify_shop, h, customer_id=shuffled, order_id=shuffled, shuffled=True)
    expected = model(h)
    for customer_id in (in_order, shuffled):
        total, earns = holdings(container, shopify_shop, customer_id)
        assert total == expected
        assert earns <= 1
        if total:
            api = client.get(f"/api/v1/customers/{customer_id}", headers=shopify_shop.auth).json
            assert api["balance"] == total
