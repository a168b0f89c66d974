"""The earning and reversal rules, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from plugin_server.domain import ledger
from plugin_server.domain.orders import OrderTotals, Refund

PAID_AT = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def totals(subtotal: str, shipping: str = "0", tax: str = "0", **kw: object) -> OrderTotals:
    s, sh, t = D(subtotal), D(shipping), D(tax)
    return OrderTotals(currency="USD", subtotal=s, shipping=sh, tax=t, total=s + sh + t, **kw)  # type: ignore[arg-type]


def snap(subtotal: str = "100.00", rules: ledger.EarningRules | None = None, **kw: str):  # type: ignore[no-untyped-def]
    return ledger.plan_earning(
        totals(subtotal, **kw), rules or ledger.EarningRules(), paid_at=PAID_AT, now=PAID_AT
    )


def test_earns_one_point_per_unit_on_subtotal_rounded_down() -> None:
    assert snap("59.90").points == 59
    assert snap("0.99").points == 0


def test_shipping_and_tax_are_excluded_unless_the_shop_includes_them() -> None:
    assert snap("50.00", shipping="10.00", tax="5.55").points == 50
    rules = ledger.EarningRules(include_shipping=True, include_tax=True)
    assert snap("50.00", rules, shipping="10.00", tax="5.55").points == 65


def test_tax_inclusive_prices_earn_on_the_net_amount() -> None:
    t = OrderTotals(
        currency="EUR",
        subtotal=D("119.00"),
        shipping=D("0"),
        tax=D("19.00"),
        total=D("119.00"),
        taxes_included=True,
    )
    assert ledger.plan_earning(t, ledger.EarningRules(), paid_at=PAID_AT, now=PAID_AT).points == 100


def test_fractional_rates_are_exact_decimal_arithmetic() -> None:
    rules = ledger.EarningRules(points_per_unit=D("0.1"))
    # 0.1 * 30.00 is exactly 3 in Decimal (float would give 2.9999999999999996 -> 2).
    assert snap("30.00", rules).points == 3


def test_zero_total_order_earns_nothing() -> None:
    assert snap("0.00").points == 0


def test_pending_period_counts_from_payment() -> None:
    s = snap("10.00", ledger.EarningRules(pending_days=14))
    assert s.available_at == PAID_AT + timedelta(days=14)


def test_late_delivery_after_the_pending_period_is_spendable_at_once() -> None:
    late = PAID_AT + timedelta(days=30)
    rules = ledger.EarningRules(pending_days=14)
    assert ledger.plan_earning(totals("10"), rules, paid_at=PAID_AT, now=late).available_at == late


def test_without_pending_period_points_are_spendable_now_even_if_paid_at_is_ahead() -> None:
    skewed = PAID_AT + timedelta(minutes=5)  # the platform's clock runs ahead of ours
    s = ledger.plan_earning(totals("10"), ledger.EarningRules(), paid_at=skewed, now=PAID_AT)
    assert s.available_at == PAID_AT


def line_refund(ref: str, amount: str) -> Refund:
    return Refund(refund_ref=ref, lines_subtotal=D(amount), has_line_items=True)


def money_refund(ref: str, amount: str, currency: str | None = None) -> Refund:
    return Refund(refund_ref=ref, amount=D(amount), amount_currency=currency)


def test_partial_line_refund_reverses_the_refunded_share() -> None:
    s = snap("100.00")
    assert ledger.points_to_reverse(s, [line_refund("r1", "25.00")], voided=False) == 25


def test_two_half_refunds_reverse_exactly_what_was_earned() -> None:
    s = snap("59.90")  # 59 points
    half = [line_refund("r1", "29.95")]
    assert ledger.points_to_reverse(s, half, voided=False) == 30  # 29.5 rounds half up
    both = [line_refund("r1", "29.95"), line_refund("r2", "29.95")]
    assert ledger.points_to_reverse(s, both, voided=False) == 59


def test_refunds_never_take_back_more_than_was_earned() -> None:
    s = snap("40.00")
    many = [line_refund(f"r{i}", "30.00") for i in range(3)]
    assert ledger.points_to_reverse(s, many, voided=False) == 40


def test_cancellation_reverses_exactly_what_the_order_earned() -> None:
    assert ledger.points_to_reverse(snap("77.77"), [], voided=True) == 77


def test_money_only_refund_uses_the_share_of_the_order_total() -> None:
    # Earned on 80.00 of a 100.00 order (20.00 shipping): refunding 50.00 of money returns
    # half the base.
    s = snap("80.00", shipping="20.00")
    assert s.points == 80
    assert ledger.points_to_reverse(s, [money_refund("r1", "50.00")], voided=False) == 40


def test_money_refund_in_the_buyers_currency_is_compared_with_the_buyers_total() -> None:
    t = OrderTotals(
        currency="USD",
        subtotal=D("100.00"),
        shipping=D("0"),
        tax=D("0"),
        total=D("100.00"),
        presentment_currency="EUR",
        presentment_total=D("90.00"),
    )
    s = ledger.plan_earning(t, ledger.EarningRules(), paid_at=PAID_AT, now=PAID_AT)
    assert ledger.points_to_reverse(s, [money_refund("r", "45.00", "EUR")], voided=False) == 50


def test_refund_shipping_counts_only_when_the_order_earned_on_shipping() -> None:
    r = Refund(refund_ref="r", lines_subtotal=D("10.00"), shipping=D("5.00"), has_line_items=True)
    assert ledger.points_to_reverse(snap("100.00", shipping="5.00"), [r], voided=False) == 10
    rules = ledger.EarningRules(include_shipping=True)
    assert ledger.points_to_reverse(snap("100.00", rules, shipping="5.00"), [r], voided=False) == 15


@pytest.mark.parametrize("order", [("r1", "r2", "r3"), ("r3", "r1", "r2"), ("r2", "r3", "r1")])
def test_reversal_total_does_not_depend_on_refund_order(order: tuple[str, ...]) -> None:
    amounts = {"r1": "10.01", "r2": "33.33", "r3": "7.77"}
    s = snap("123.45")
    running = []
    for ref in order:
        running.append(line_refund(ref, amounts[ref]))
    # 123 points x 51.11 / 123.45 = 50.92 -> 51, whichever refund came first.
    assert ledger.points_to_reverse(s, running, voided=False) == 51
