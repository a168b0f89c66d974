"""Property: with a campaign and an exclusion in force, any order history (line refunds,
cancellation, paid or not), delivered in any order with duplicates, ends in the balance an
independent model gives; the balance is the sum of the entries; no order earns or gets a
bonus twice, and nothing takes back more than was given."""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from plugin_server.bootstrap import Container
from plugin_server.db.models import Customer, LedgerEntry
from tests.conftest import FakeClock, ShopHandle
from tests.integration.test_bonus_campaigns import (
    CASE,
    GIFT_CARD,
    SUNGLASSES,
    balance,
    deliver,
    order,
    refund,
)

_ids = itertools.count(1000)
price = st.decimals(min_value=Decimal("0.00"), max_value=Decimal("200.00"), places=2)


@st.composite
def histories(draw: st.DrawFn) -> dict:
    line = st.tuples(st.sampled_from([SUNGLASSES, CASE, GIFT_CARD]), price)
    lines = draw(st.lists(line, min_size=1, max_size=4))
    refunded = draw(st.permutations(range(1, len(lines) + 1)))[: draw(st.integers(0, len(lines)))]
    cuts = sorted(draw(st.lists(st.integers(0, len(refunded)), max_size=2)))
    groups = [
        g for g in (refunded[a:b] for a, b in itertools.pairwise([0, *cuts, len(refunded)])) if g
    ]
    events = 3 + len(groups)
    return {
        "lines": [(p, str(v)) for p, v in lines],
        "paid": draw(st.booleans()),
        "cancelled": draw(st.booleans()),
        "refunds": groups,
        "order": draw(st.permutations(range(events))),
        "dupes": draw(st.lists(st.integers(0, events - 1), max_size=4)),
    }


def _floor(x: Decimal) -> int:
    return int(x.to_integral_value(rounding=ROUND_FLOOR))


def _reversed(points: int, base: Decimal, refunded: Decimal) -> int:
    if points == 0 or base <= 0:
        return 0
    if refunded >= base:
        return points
    return min(points, int((points * refunded / base).to_integral_value(ROUND_HALF_UP)))


def model(h: dict) -> tuple[int, int]:
    """(order points kept, bonus points kept), worked out without the ledger code."""
    if not h["paid"] or h["cancelled"]:
        return 0, 0
    lines = [(p, Decimal(v)) for p, v in h["lines"]]
    refunded_lines = {n for group in h["refunds"] for n in group}
    base = sum((v for p, v in lines if p != GIFT_CARD), Decimal(0))
    qualifying = sum((v for p, v in lines if p == SUNGLASSES), Decimal(0))
    back = sum(
        (v for n, (p, v) in enumerate(lines, 1) if n in refunded_lines and p != GIFT_CARD),
        Decimal(0),
    )
    q_back = sum(
        (v for n, (p, v) in enumerate(lines, 1) if n in refunded_lines and p == SUNGLASSES),
        Decimal(0),
    )
    points = _floor(base)
    bonus = _floor(2 * qualifying) - _floor(qualifying)
    return (
        points - _reversed(points, base, back),
        bonus - _reversed(bonus, qualifying, q_back),
    )


def play(client: FlaskClient, shop: ShopHandle, h: dict, order_id: int, shuffled: bool) -> None:
    lines = h["lines"]
    events = [
        ("orders/paid", order(order_id, lines, customer_id=order_id)) if h["paid"] else None,
        ("orders/cancelled", order(order_id, lines, customer_id=order_id, cancelled=True))
        if h["cancelled"]
        else None,
        None,
    ] + [
        (
            "refunds/create",
            refund(order_id, order_id * 100 + i, [(n, lines[n - 1][1]) for n in group]),
        )
        for i, group in enumerate(h["refunds"])
    ]
    sequence = [events[i] for i in h["order"]] + [events[i] for i in h["dupes"]]
    for event in sequence if shuffled else events:
        if event is not None:
            deliver(client, shop, *event)


def entries(container: Container, shop: ShopHandle, customer: int) -> dict[str, list[int]]:
    with container.session_factory() as s:
        member = s.scalars(
            select(Customer.id).where(
                Customer.shop_id == shop.id, Customer.customer_ref == str(customer)
            )
        ).one_or_none()
        out: dict[str, list[int]] = {}
        for kind, points in s.execute(
            select(LedgerEntry.kind, LedgerEntry.points).where(
                LedgerEntry.shop_id == shop.id, LedgerEntry.customer_id == member
            )
        ):
            out.setdefault(kind, []).append(points)
        total = s.scalar(
            select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
                LedgerEntry.shop_id == shop.id, LedgerEntry.customer_id == member
            )
        )
        assert sum(sum(v) for v in out.values()) == total
        return out


@settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(h=histories())
def test_any_history_in_any_delivery_order_gives_the_model(
    client: FlaskClient,
    container: Container,
    clock: FakeClock,
    shopify_shop: ShopHandle,
    h: dict,
) -> None:
    auth = shopify_shop.auth
    if not client.get("/api/v1/earning-rules", headers=auth).json["earning_rules"]:
        now = clock()
        for body in (
            {"kind": "exclusion", "key": "gift-cards", "name": "Gift cards",
             "product_ids": [GIFT_CARD]},
            {"kind": "bonus", "key": "double", "name": "Double", "multiplier": "2",
             "product_ids": [SUNGLASSES], "starts_at": (now - timedelta(days=1)).isoformat(),
             "ends_at": (now + timedelta(days=7)).isoformat()},
        ):  # fmt: skip
            assert client.post("/api/v1/earning-rules", json=body, headers=auth).status_code == 201
    kept, bonus = model(h)
    for shuffled in (False, True):
        order_id = next(_ids)
        play(client, shopify_shop, h, order_id, shuffled)
        found = entries(container, shopify_shop, order_id)
        assert len(found.get("earn_order", [])) <= 1
        assert len(found.get("campaign_bonus", [])) <= 1
        assert -sum(found.get("reverse_order", [])) <= sum(found.get("earn_order", []))
        given_bonus = sum(found.get("campaign_bonus", []))
        assert -sum(found.get("reverse_campaign_bonus", [])) <= given_bonus
        assert sum(found.get("earn_order", []) + found.get("reverse_order", [])) == kept, h
        assert given_bonus + sum(found.get("reverse_campaign_bonus", [])) == bonus, h
        if found:
            assert balance(client, shopify_shop, customer=order_id) == kept + bonus
