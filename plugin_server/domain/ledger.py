"""Ledger rules: how many points an order earns and how much a refund takes back.

Everything here is a pure function of its arguments so the rules can be tested without a
database, and so the outcome for an order depends only on the facts known about it, never
on the order in which webhooks delivered those facts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from enum import StrEnum

from plugin_server.domain.orders import ZERO, OrderTotals, Refund


class EntryKind(StrEnum):
    EARN_ORDER = "earn_order"
    REVERSE_ORDER = "reverse_order"
    ADJUSTMENT = "adjustment"
    REDEEM = "redeem"
    REDEEM_REFUND = "redeem_refund"
    REFERRAL_BONUS = "referral_bonus"
    EXPIRY = "expiry"
    RULE_BONUS = "rule_bonus"  # an earning rule's award (sign-up, activity): names its rule
    TIER_BONUS = "tier_bonus"  # the entry points of a tier reached for the first time


# Kinds that count toward "lifetime earned": everything a shopper earned, net of orders that
# were taken back, but not what they spent.
EARNING_KINDS = frozenset(
    {
        EntryKind.EARN_ORDER,
        EntryKind.REVERSE_ORDER,
        EntryKind.ADJUSTMENT,
        EntryKind.REFERRAL_BONUS,
        EntryKind.RULE_BONUS,
        EntryKind.TIER_BONUS,
    }
)

# Debits that take effect the moment they are written. Counting them as spent even when
# their timestamp is a hair ahead of the reader's clock (another process or host) keeps two
# concurrent spends from both seeing the balance as it was before the other.
IMMEDIATE_DEBIT_KINDS = frozenset({EntryKind.ADJUSTMENT, EntryKind.REDEEM, EntryKind.EXPIRY})

DEFAULT_AWARD_STATUSES = {
    "shopify": frozenset({"paid"}),
    "woocommerce": frozenset({"processing", "completed"}),
}


@dataclass(frozen=True, slots=True)
class EarningRules:
    """A shop's program settings that decide what an order earns."""

    points_per_unit: Decimal = Decimal("1")  # points per 1.00 of shop currency
    include_shipping: bool = False
    include_tax: bool = False
    pending_days: int = 0
    award_statuses: frozenset[str] = frozenset({"paid"})
    guests_earn: bool = False


@dataclass(frozen=True, slots=True)
class EarningSnapshot:
    """What an order earned and on which terms, stored with the order.

    Reversals are computed from this snapshot, so a later change to the shop's rules never
    distorts what a refund takes back.
    """

    base: Decimal
    rate: Decimal
    points: int
    includes_shipping: bool
    includes_tax: bool
    taxes_included: bool
    currency: str
    total: Decimal
    presentment_currency: str | None
    presentment_total: Decimal | None
    available_at: datetime


def earning_base(totals: OrderTotals, *, include_shipping: bool, include_tax: bool) -> Decimal:
    """The amount points are earned on: subtotal after discounts, shipping and tax optional."""
    base = totals.subtotal
    if totals.taxes_included:
        # Tax-inclusive prices (common in the EU): the subtotal already holds the tax.
        base -= totals.tax
    if include_shipping:
        base += totals.shipping
    if include_tax:
        base += totals.tax
    return max(base, ZERO)


def points_for(base: Decimal, rate: Decimal) -> int:
    """Points for an amount at a rate, rounded down: a shopper never earns a partial point."""
    if base <= 0 or rate <= 0:
        return 0
    return int((base * rate).to_integral_value(rounding=ROUND_FLOOR))


def plan_earning(
    totals: OrderTotals, rules: EarningRules, *, paid_at: datetime, now: datetime
) -> EarningSnapshot:
    """Snapshot what a paid order earns under `rules`.

    Points become spendable after the shop's pending period, counted from when the order was
    paid; with no pending period they are spendable at once (whatever the platform's clock).
    """
    available_at = now
    if rules.pending_days:
        available_at = max(now, paid_at + timedelta(days=rules.pending_days))
    base = earning_base(
        totals, include_shipping=rules.include_shipping, include_tax=rules.include_tax
    )
    return EarningSnapshot(
        base=base,
        rate=rules.points_per_unit,
        points=points_for(base, rules.points_per_unit),
        includes_shipping=rules.include_shipping,
        includes_tax=rules.include_tax,
        taxes_included=totals.taxes_included,
        currency=totals.currency,
        total=totals.total,
        presentment_currency=totals.presentment_currency,
        presentment_total=totals.presentment_total,
        available_at=available_at,
    )


def refunded_base(refund: Refund, snapshot: EarningSnapshot) -> Decimal:
    """How much of the order's earning base one refund gives back.

    Line-item refunds count the refunded lines' subtotals on the same terms the order
    earned on; a refund of money only (no lines) counts the refunded share of the order total.
    """
    if refund.has_line_items:
        amount = refund.lines_subtotal
        if snapshot.taxes_included:
            amount -= refund.tax
        if snapshot.includes_shipping:
            amount += refund.shipping
        if snapshot.includes_tax:
            amount += refund.tax
        return max(amount, ZERO)
    order_total = snapshot.total
    if (
        refund.amount_currency
        and snapshot.presentment_currency
        and refund.amount_currency != snapshot.currency
        and refund.amount_currency == snapshot.presentment_currency
        and snapshot.presentment_total
    ):
        order_total = snapshot.presentment_total
    if order_total <= 0 or refund.amount <= 0:
        return ZERO
    share = min(refund.amount / order_total, Decimal(1))
    return snapshot.base * share


def points_to_reverse(snapshot: EarningSnapshot, refunds: Iterable[Refund], *, voided: bool) -> int:
    """Total points the order must have given back, given every refund known so far.

    A cancelled or fully refunded order (`voided`) gives back exactly what it earned. Partial
    refunds give back the refunded share of the earning base, rounded half up on the running
    total (so two half refunds give back exactly the whole), never more than was earned.
    """
    if voided or snapshot.points == 0:
        return snapshot.points
    if snapshot.base <= 0:
        return 0
    returned = sum((refunded_base(r, snapshot) for r in refunds), ZERO)
    if returned >= snapshot.base:
        return snapshot.points
    share = Decimal(snapshot.points) * returned / snapshot.base
    return min(snapshot.points, int(share.to_integral_value(rounding=ROUND_HALF_UP)))


@dataclass(frozen=True, slots=True)
class Balance:
    """A member's points, all derived from ledger entries."""

    spendable: int  # available now; may be negative after a refund of spent points
    pending: int  # earned but not yet available
    lifetime_earned: int
    next_available_at: datetime | None = None

    @property
    def can_redeem(self) -> bool:
        return self.spendable > 0
