"""Bonus campaigns and excluded products as pure rules, and the refund lines the webhooks
carry for them."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest

from plugin_server.domain import ledger
from plugin_server.domain.earning_rules import validate_rule
from plugin_server.domain.errors import ValidationFailed
from plugin_server.domain.orders import OrderLine, OrderTotals, Refund, RefundLine
from webhooks import shopify, woocommerce

T0 = datetime(2026, 12, 1, tzinfo=UTC)
RULES = ledger.EarningRules()
FIXTURES = Path(__file__).parents[1] / "fixtures"


def lines(*items: tuple[str | None, str, str]) -> tuple[OrderLine, ...]:
    """(product, subtotal, tax) per line; line refs L1, L2, ..."""
    return tuple(
        OrderLine(f"L{n}", "x", 1, D(subtotal), product_ref=product, tax=D(tax))
        for n, (product, subtotal, tax) in enumerate(items, start=1)
    )


def totals(order_lines: tuple[OrderLine, ...], *, taxes_included: bool = False) -> OrderTotals:
    subtotal = sum((line.subtotal for line in order_lines), D(0))
    tax = sum((line.tax for line in order_lines), D(0))
    total = subtotal + (D(0) if taxes_included else tax)
    return OrderTotals("USD", subtotal, D(0), tax, total, taxes_included=taxes_included)


def snapshot(order_lines: tuple[OrderLine, ...], excluded: frozenset[str] = frozenset(), **kw):  # type: ignore[no-untyped-def]
    return ledger.plan_earning(
        totals(order_lines, **kw),
        RULES,
        paid_at=T0,
        now=T0,
        excluded=[line for line in order_lines if line.product_ref in excluded],
    )


def camp(rule_id: int = 1, **kw) -> ledger.Campaign:  # type: ignore[no-untyped-def]
    values = {"starts_at": T0, "ends_at": T0 + timedelta(days=7), "multiplier": D(2), **kw}
    return ledger.Campaign(rule_id=rule_id, key=f"c{rule_id}", name=f"C{rule_id}", **values)


def test_excluded_lines_and_their_tax_leave_the_earning_base() -> None:
    order = lines(("gift", "50.00", "10.00"), ("shirt", "30.00", "6.00"))
    assert snapshot(order, frozenset({"gift"})).base == D("30.00")
    # Tax-inclusive prices: the shirt's own tax comes off, not the gift card's as well.
    snap = snapshot(order, frozenset({"gift"}), taxes_included=True)
    assert (snap.base, snap.points, snap.excluded_lines) == (D("24.00"), 24, frozenset({"L1"}))


def test_refunds_of_excluded_lines_give_back_nothing() -> None:
    order = lines(("gift", "50.00", "0"), ("shirt", "30.00", "0"))
    snap = snapshot(order, frozenset({"gift"}))
    gift_back = Refund(
        "r1", lines_subtotal=D(50), has_line_items=True, lines=(RefundLine("L1", D(50)),)
    )
    shirt_back = Refund(
        "r2", lines_subtotal=D(15), has_line_items=True, lines=(RefundLine("L2", D(15)),)
    )
    assert ledger.points_to_reverse(snap, [gift_back], voided=False) == 0
    assert ledger.points_to_reverse(snap, [gift_back, shirt_back], voided=False) == 15
    # A refund of money only counts its share of the order total.
    money = Refund("r3", amount=D(40), amount_currency="USD")
    assert ledger.points_to_reverse(snap, [money], voided=False) == 15


def test_the_window_includes_its_start_and_excludes_its_end() -> None:
    order = lines(("p", "10.50", "0"))
    snap = snapshot(order)
    plan = ledger.plan_campaign_bonus
    assert plan([camp()], snap, order, paid_at=T0) is not None
    assert plan([camp()], snap, order, paid_at=T0 - timedelta(microseconds=1)) is None
    assert plan([camp()], snap, order, paid_at=T0 + timedelta(days=7)) is None


def test_double_points_round_once_over_the_order() -> None:
    order = lines(("p", "10.50", "0"))
    bonus = ledger.plan_campaign_bonus([camp()], snapshot(order), order, paid_at=T0)
    assert bonus is not None
    assert (snapshot(order).points, bonus.snapshot.points) == (10, 11)


def test_a_product_campaign_earns_on_its_lines_only() -> None:
    order = lines(("sun", "30.00", "3.00"), ("case", "20.00", "2.00"), ("gift", "5", "0"))
    snap = snapshot(order, frozenset({"gift", "sun-gift"}))
    c = camp(multiplier=D("1.5"), product_ids=frozenset({"sun", "gift"}))
    bonus = ledger.plan_campaign_bonus([c], snap, order, paid_at=T0)
    assert bonus is not None
    assert bonus.snapshot.base == D("30.00")
    assert bonus.snapshot.only_lines == frozenset({"L1"})  # the excluded gift card never counts
    assert bonus.snapshot.points == 15
    case_back = Refund(
        "r", lines_subtotal=D(20), has_line_items=True, lines=(RefundLine("L2", D(20)),)
    )
    assert ledger.points_to_reverse(bonus.snapshot, [case_back], voided=False) == 0
    assert ledger.points_to_reverse(bonus.snapshot, [case_back], voided=True) == 15


def test_minimum_subtotal_and_no_qualifying_line() -> None:
    order = lines(("sun", "19.99", "0"), ("case", "50", "0"))
    snap = snapshot(order)
    scoped = camp(points=100, multiplier=None, product_ids=frozenset({"sun"}), min_subtotal=D(20))
    assert ledger.plan_campaign_bonus([scoped], snap, order, paid_at=T0) is None  # min 20
    assert ledger.plan_campaign_bonus(
        [replace(scoped, min_subtotal=D("19.99"))], snap, order, paid_at=T0
    )
    other = camp(product_ids=frozenset({"hat"}))
    assert ledger.plan_campaign_bonus([other], snap, order, paid_at=T0) is None


def test_overlapping_campaigns_the_most_points_wins_then_the_oldest() -> None:
    order = lines(("p", "30", "0"))
    snap = snapshot(order)
    fixed = camp(2, points=50, multiplier=None)
    double = camp(3)
    best = ledger.plan_campaign_bonus([double, fixed], snap, order, paid_at=T0)
    assert best is not None
    assert best.campaign.rule_id == 2
    tie = ledger.plan_campaign_bonus([camp(5, points=30, multiplier=None), double], snap, order,
                                     paid_at=T0)  # fmt: skip
    assert tie is not None
    assert tie.campaign.rule_id == 3


NOW = datetime(2026, 12, 3, tzinfo=UTC)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"multiplier": D(2), "points": 5}, "multiplier"),
        ({"multiplier": D(2), "starts_at": datetime(2026, 12, 1)}, "starts_at"),  # noqa: DTZ001
        ({"multiplier": D(2), "ends_at": NOW}, "ends_at"),
        ({"points": 0}, "points"),
        ({"multiplier": D("2.001")}, "multiplier"),
    ],
)
def test_campaign_validation(body: dict, field: str) -> None:
    base = {"kind": "bonus", "key": "k", "name": "K", "starts_at": T0}
    base["ends_at"] = NOW + timedelta(days=1)
    with pytest.raises(ValidationFailed) as failed:
        validate_rule({**base, **body}, now=NOW)
    assert failed.value.field == field


def test_a_campaign_stores_utc_and_product_ids_as_strings() -> None:
    paris = datetime(2026, 12, 5, 1, 0, tzinfo=UTC).astimezone()
    out = validate_rule(
        {"kind": "bonus", "key": "k", "name": " K ", "multiplier": "2.5", "starts_at": T0,
         "ends_at": paris, "product_ids": [12, "12", "gid-13"]},
        now=NOW,
    )  # fmt: skip
    assert out["ends_at"].tzinfo is UTC
    assert (out["multiplier"], out["product_ids"], out["name"]) == (D("2.5"), ["12", "gid-13"], "K")


def test_shopify_refunds_name_their_order_lines() -> None:
    body = json.loads((FIXTURES / "shopify" / "refunds_create.json").read_text())
    event = shopify.normalize("refunds/create", body)
    [refund] = event.refunds  # type: ignore[union-attr]
    assert [line.line_ref for line in refund.lines] == [
        str(item["line_item_id"]) for item in body["refund_line_items"]
    ]
    assert sum(line.subtotal for line in refund.lines) == refund.lines_subtotal
    # A refund line without its order line's id: the refund is counted by its totals only.
    del body["refund_line_items"][0]["line_item_id"]
    del body["refund_line_items"][0]["line_item"]
    [refund] = shopify.normalize("refunds/create", body).refunds  # type: ignore[union-attr]
    assert refund.lines == ()
    assert refund.has_line_items


def test_woocommerce_refund_lines_from_the_refunded_item_meta() -> None:
    body = json.loads((FIXTURES / "woocommerce" / "order.json").read_text())
    line_id = body["line_items"][0]["id"]
    body["refunds"] = [
        {"id": 9, "total": "-6.00"},
        {"id": 10, "total": "-6.00", "line_items": [
            {"id": 11, "total": "-6.00", "total_tax": "-0.45",
             "meta_data": [{"key": "_refunded_item_id", "value": str(line_id)}]}]},
    ]  # fmt: skip
    event = woocommerce.normalize("order.updated", body)
    money, by_line = event.refunds  # type: ignore[union-attr]
    assert (money.has_line_items, money.lines, money.amount) == (False, (), D("6.00"))
    assert by_line.lines == (RefundLine(str(line_id), D("6.00"), D("0.45")),)
    assert event.lines[0].tax == D(body["line_items"][0]["total_tax"])  # type: ignore[union-attr]
