"""Ledger rules: how many points an order earns and how much a refund takes back.

Everything here is a pure function of its arguments so the rules can be tested without a
database, and so the outcome for an order depends only on the facts known about it, never
on the order in which webhooks delivered those facts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from enum import StrEnum

from plugin_server.domain.orders import ZERO, OrderLine, OrderTotals, Refund


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
    # A bonus campaign's extra points on an order (names its campaign), and what refunds or
    # a cancellation of that order take back of them.
    CAMPAIGN_BONUS = "campaign_bonus"
    REVERSE_CAMPAIGN_BONUS = "reverse_campaign_bonus"
    # A row of a CSV import (names the import): points brought over from another program,
    # or the correction that resets a balance to the file's value. Treated like a manual
    # adjustment everywhere (earned, expiring, spendable at once).
    IMPORT = "import"
    # A guest's points moving to the account later registered with the guest's email: the
    # debit on the guest and the credit on the account, one pair per expiry batch, each
    # dated (available_at) as its batch so pending stays pending and expiry stays on time.
    GUEST_MERGE_OUT = "guest_merge_out"
    GUEST_MERGE_IN = "guest_merge_in"


# Kinds that count toward "lifetime earned": everything a shopper earned, net of orders that
# were taken back, but not what they spent.
EARNING_KINDS = frozenset(
    {
        EntryKind.EARN_ORDER,
        EntryKind.REVERSE_ORDER,
        EntryKind.ADJUSTMENT,
        EntryKind.IMPORT,
        EntryKind.REFERRAL_BONUS,
        EntryKind.RULE_BONUS,
        EntryKind.TIER_BONUS,
        EntryKind.CAMPAIGN_BONUS,
        EntryKind.REVERSE_CAMPAIGN_BONUS,
    }
)

# Debits that take effect the moment they are written. Counting them as spent even when
# their timestamp is a hair ahead of the reader's clock (another process or host) keeps two
# concurrent spends from both seeing the balance as it was before the other.
IMMEDIATE_DEBIT_KINDS = frozenset(
    {EntryKind.ADJUSTMENT, EntryKind.IMPORT, EntryKind.REDEEM, EntryKind.EXPIRY}
)

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
    # Order lines that earned nothing (a product the shop excludes): their refunds take
    # nothing back.
    excluded_lines: frozenset[str] = frozenset()
    # Only these lines earned the snapshot's points (a campaign scoped to products); None:
    # every line not excluded.
    only_lines: frozenset[str] | None = None


def earning_base(
    totals: OrderTotals,
    *,
    include_shipping: bool,
    include_tax: bool,
    excluded: Sequence[OrderLine] = (),
) -> Decimal:
    """The amount points are earned on: subtotal after discounts, shipping and tax optional,
    without the `excluded` lines (and their tax)."""
    base = totals.subtotal - sum((line.subtotal for line in excluded), ZERO)
    tax = max(totals.tax - sum((line.tax for line in excluded), ZERO), ZERO)
    if totals.taxes_included:
        # Tax-inclusive prices (common in the EU): the subtotal already holds the tax.
        base -= tax
    if include_shipping:
        base += totals.shipping
    if include_tax:
        base += tax
    return max(base, ZERO)


def points_for(base: Decimal, rate: Decimal) -> int:
    """Points for an amount at a rate, rounded down: a shopper never earns a partial point."""
    if base <= 0 or rate <= 0:
        return 0
    return int((base * rate).to_integral_value(rounding=ROUND_FLOOR))


def plan_earning(
    totals: OrderTotals,
    rules: EarningRules,
    *,
    paid_at: datetime,
    now: datetime,
    excluded: Sequence[OrderLine] = (),
) -> EarningSnapshot:
    """Snapshot what a paid order earns under `rules`, the `excluded` lines earning nothing.

    Points become spendable after the shop's pending period, counted from when the order was
    paid; with no pending period they are spendable at once (whatever the platform's clock).
    """
    available_at = now
    if rules.pending_days:
        available_at = max(now, paid_at + timedelta(days=rules.pending_days))
    base = earning_base(
        totals,
        include_shipping=rules.include_shipping,
        include_tax=rules.include_tax,
        excluded=excluded,
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
        excluded_lines=frozenset(line.line_ref for line in excluded),
    )


def refunded_base(refund: Refund, snapshot: EarningSnapshot) -> Decimal:
    """How much of the snapshot's earning base one refund gives back.

    Line-item refunds count the refunded lines' subtotals on the same terms the order
    earned on, leaving out lines that earned nothing (excluded, or outside a campaign's
    products); a refund of money only (no lines) counts the refunded share of the order total.
    """
    if refund.has_line_items:
        subtotal, tax = refund.lines_subtotal, refund.tax
        if refund.lines and (snapshot.excluded_lines or snapshot.only_lines is not None):
            counted = [
                line
                for line in refund.lines
                if line.line_ref not in snapshot.excluded_lines
                and (snapshot.only_lines is None or line.line_ref in snapshot.only_lines)
            ]
            subtotal = sum((line.subtotal for line in counted), ZERO)
            tax = sum((line.tax for line in counted), ZERO)
        amount = subtotal
        if snapshot.taxes_included:
            amount -= tax
        if snapshot.includes_shipping:
            amount += refund.shipping
        if snapshot.includes_tax:
            amount += tax
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
class Campaign:
    """A time-limited bonus campaign, as the order rules need it."""

    rule_id: int
    key: str
    name: str
    starts_at: datetime
    ends_at: datetime  # exclusive
    multiplier: Decimal | None = None  # e.g. 2: the qualifying lines earn double
    points: int | None = None  # or a fixed bonus per qualifying order
    product_ids: frozenset[str] = frozenset()  # with no collections either: every product
    min_subtotal: Decimal | None = None  # of the qualifying lines
    # Collections (WooCommerce: categories) the campaign names, and the products the shop's
    # copy of them held when the order was paid (none for a collection never synced).
    collection_ids: frozenset[str] = frozenset()
    collection_products: frozenset[str] = frozenset()
    # Only members in these segments (plugin_server.domain.segments) get the bonus; none
    # named: every member.
    segments: frozenset[str] = frozenset()

    def admits(self, segment: str | None) -> bool:
        """Whether a member in `segment` (None: not scored) may get this bonus."""
        return not self.segments or (segment is not None and segment in self.segments)

    @property
    def scoped(self) -> bool:
        """Only some products' lines qualify (named, or in a named collection)."""
        return bool(self.product_ids or self.collection_ids)

    def covers(self, product_ref: str | None) -> bool:
        """Whether a line of this product qualifies (every product, unless scoped)."""
        if not self.scoped:
            return True
        return product_ref is not None and (
            product_ref in self.product_ids or product_ref in self.collection_products
        )


@dataclass(frozen=True, slots=True)
class CampaignBonus:
    """The campaign that applies to an order, and the snapshot of what it gave: `points`
    earned on `base` (the qualifying lines), taken back on the order's refunds as the
    order's own points are."""

    campaign: Campaign
    snapshot: EarningSnapshot


def _campaign_bonus(
    campaign: Campaign, order: EarningSnapshot, lines: Sequence[OrderLine]
) -> CampaignBonus | None:
    earning = [line for line in lines if line.line_ref not in order.excluded_lines]
    qualifying = [line for line in earning if campaign.covers(line.product_ref)]
    if not qualifying:
        return None
    subtotal = sum((line.subtotal for line in qualifying), ZERO)
    if campaign.min_subtotal is not None and subtotal < campaign.min_subtotal:
        return None
    if campaign.scoped:
        # Only these lines, on the terms the order earned on; shipping belongs to no line.
        tax = sum((line.tax for line in qualifying), ZERO)
        base = subtotal - (tax if order.taxes_included else ZERO)
        base += tax if order.includes_tax else ZERO
        snapshot = replace(
            order,
            base=max(base, ZERO),
            includes_shipping=False,
            only_lines=frozenset(line.line_ref for line in qualifying),
        )
    else:
        snapshot = order  # every line that earns: the order's own base and terms
    if snapshot.base <= 0:
        return None
    if campaign.multiplier is not None:
        # The qualifying lines earn `multiplier` times their points (at the member's rate,
        # tier included), rounded down once: double points on 10.50 at 1/unit is 21 in all.
        points = points_for(snapshot.base, snapshot.rate * campaign.multiplier)
        points -= points_for(snapshot.base, snapshot.rate)
    else:
        points = campaign.points or 0
    if points <= 0:
        return None
    return CampaignBonus(campaign, replace(snapshot, points=points))


def plan_campaign_bonus(
    campaigns: Iterable[Campaign],
    order: EarningSnapshot,
    lines: Sequence[OrderLine],
    *,
    paid_at: datetime,
    segment: str | None = None,
) -> CampaignBonus | None:
    """The one campaign bonus a paid order gets: among the campaigns running when it was paid
    (starts_at <= paid_at < ends_at) that it qualifies for, the one giving the most points
    (the earliest created on a tie). Campaigns never stack, so overlapping ones cannot
    multiply each other. A campaign limited to segments applies only when the buyer's
    `segment` (as stored when the order is paid) is one of them."""
    best: CampaignBonus | None = None
    for campaign in sorted(campaigns, key=lambda c: c.rule_id):
        if not campaign.starts_at <= paid_at < campaign.ends_at:
            continue
        if not campaign.admits(segment):
            continue
        bonus = _campaign_bonus(campaign, order, lines)
        if bonus is not None and (best is None or bonus.snapshot.points > best.snapshot.points):
            best = bonus
    return best


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
