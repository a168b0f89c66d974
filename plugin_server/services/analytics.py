"""Analytics the merchant can act on: daily aggregates of the ledger, orders, referrals and
tier moves, built by the scheduler and read by the admin API and CLI.

How the aggregates stay exact (the same rows whether built bit by bit or from scratch):

- Every aggregate row belongs to one (shop, UTC day) and is a pure function of the source
  rows keyed to that day. Building a day is "delete the day's rows, recompute them from the
  source"; a rebuild does the same over every day at once, with the same SQL.
- Each figure is keyed by one timestamp: ledger figures and member activity by the entry's
  `created_at` (when it was written, never in the past); new members by `customers.created_at`;
  orders by `orders.paid_at` (the platform's paid time, so an order delivered days late counts
  on the day it was paid); referrals by the day they were claimed (`referrals.created_at`),
  with their status as it is now; tier moves by `tier_changes.changed_at`.
- The scheduler finds the days that changed since the last build from the rows' own change
  times: new ledger entries, customers and tier changes; orders whose `updated_at` moved
  (a late order, a cancellation, a member attached); refunds stored since (their order's
  paid day: a refund for an old order rebuilds that old day); redemptions marked used (their
  order's day); referrals updated (their claim day and the days of the friend's orders).
  It looks back `LOOKBACK` before the previous build started, so a transaction that started
  before that build and committed after it is still seen. A change of tier thresholds
  (what counts as up or down) rebuilds the whole shop.
- Money is summed as integer millionths of the currency unit (the 6 places `ExactDecimal`
  keeps), converted exactly from the stored decimal on each database; never as floats.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    Date,
    Numeric,
    String,
    and_,
    case,
    cast,
    delete,
    distinct,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import Session, aliased

from plugin_server.db import repositories
from plugin_server.db.models import (
    AnalyticsDay,
    AnalyticsMemberDay,
    AnalyticsOrderDay,
    AnalyticsReferralDay,
    AnalyticsState,
    Customer,
    LedgerEntry,
    MemberTier,
    Order,
    OrderRefund,
    Redemption,
    Referral,
    Reward,
    Shop,
    Tier,
    TierChange,
)
from plugin_server.db.unit_of_work import UnitOfWork
from plugin_server.domain import errors
from plugin_server.domain.imports import escape_cell
from plugin_server.domain.ledger import IMMEDIATE_DEBIT_KINDS, EntryKind
from plugin_server.domain.referrals import Status
from plugin_server.services import expiry

logger = logging.getLogger(__name__)

DAY = timedelta(days=1)
# How far before the previous build's start the next one looks for changes: longer than
# any transaction that writes the source rows stays open.
LOOKBACK = timedelta(hours=1)
# The scheduler builds at most once per this many minutes across every process.
BUILD_EVERY_MINUTES = 10
MAX_SPAN_DAYS = 731  # two years and a day: year-on-year comparisons, cohorts over two years
DEFAULT_SPAN_DAYS = 30
MICROS = 1_000_000

_EARN_KINDS = (
    EntryKind.EARN_ORDER.value,
    EntryKind.CAMPAIGN_BONUS.value,
    EntryKind.REFERRAL_BONUS.value,
    EntryKind.RULE_BONUS.value,
    EntryKind.TIER_BONUS.value,
)
# What a member did (not what happened to them: tier bonuses, adjustments, imports).
_MEMBER_EARN_KINDS = (
    EntryKind.EARN_ORDER.value,
    EntryKind.CAMPAIGN_BONUS.value,
    EntryKind.REFERRAL_BONUS.value,
    EntryKind.RULE_BONUS.value,
)
_ADJUSTING = (EntryKind.ADJUSTMENT.value, EntryKind.IMPORT.value)
_REVERSING = (EntryKind.REVERSE_ORDER.value, EntryKind.REVERSE_CAMPAIGN_BONUS.value)
# The entries `points_issued` counts (the daily build and `totals_now` alike).
_ISSUING = or_(
    LedgerEntry.kind.in_(_EARN_KINDS),
    and_(LedgerEntry.kind.in_(_ADJUSTING), LedgerEntry.points > 0),
)

DEFINITIONS: dict[str, str] = {
    "range": "from and to are UTC calendar days, both included.",
    "members": "Loyalty members (customer accounts, and guests who earn by email) that "
    "existed at the end of the range.",
    "new_members": "Members who joined during the range.",
    "active_members": "Members with at least one ledger entry in the range for points they "
    "earned (orders, campaign bonuses, referral bonuses, earning rules) or redeemed. Tier "
    "bonuses, manual adjustments, imports, refunds and expiry do not make a member active.",
    "redeemers": "Members who redeemed points at least once in the range.",
    "points_issued": "Points credited in the range: orders, campaign bonuses, referral "
    "bonuses, earning rules, tier entry bonuses, and positive adjustments and imports. By the "
    "day the entry was written; pending points count when issued.",
    "points_reversed": "Points taken back in the range because their order was refunded or "
    "cancelled.",
    "points_redeemed": "Points spent on rewards in the range, less points returned in the "
    "range for codes that failed, were cancelled or expired unused.",
    "points_expired": "Points removed by the expiry policy in the range.",
    "points_removed": "Points removed by negative manual adjustments and imports in the range.",
    "points_outstanding": "Spendable plus pending points of all members at the end of the "
    "range's last day (the sum of every ledger entry written by then).",
    "points_spendable": "Of the outstanding points, those spendable at the end of the range "
    "(outstanding less pending).",
    "points_pending": "Of the outstanding points, those not yet spendable at the end of the "
    "range (an order's hold period).",
    "point_value": "Money per point: amount / points cost of the shop's cheapest active "
    "fixed-amount reward (fewest points; ties: oldest). Null when there is none.",
    "liability": "points_outstanding x point_value, in that reward's currency, rounded to 2 "
    "decimal places (half up). Null when point_value is.",
    "shop_currency": "The currency of the reward that sets point_value; without one, the "
    "currency most paid orders in the range are in. Money figures use this currency only.",
    "redemption_rate": "points_redeemed / points_issued in the range (4 places); null when "
    "nothing was issued.",
    "redeemer_share": "redeemers / members (4 places).",
    "orders": "Paid orders (the platform reported them paid), not cancelled, by the UTC day "
    "they were paid. Fully refunded orders still count as orders; their refunds reduce revenue.",
    "revenue": "Order totals less refunds recorded in the order's own currency (capped at the "
    "order's total), of orders paid in the range, in shop_currency only. Orders in other "
    "currencies are listed under other_currencies with their own amounts, never converted.",
    "member_orders": "Orders placed by a member; guest orders are orders with no member, one "
    "guest per email (a guest without an email counts as a buyer of one order).",
    "buyers": "Distinct buyers with at least one order in the range (any currency).",
    "repeat_purchase_rate": "Buyers with two or more orders in the range / buyers (4 places).",
    "purchase_frequency": "Orders / buyers in the range, any currency (4 places).",
    "average_order_value": "revenue / orders in shop_currency (2 places, half up).",
    "reward_revenue": "Revenue of orders that used a discount code from a points redemption.",
    "referred_revenue": "Revenue of orders placed by referred friends (members who are the "
    "friend of a referral, whatever its status).",
    "referral_funnel": "Referrals claimed in the range (a friend took an advocate's link or "
    "code) and how far each has got now: signed_up (the friend is a member), first_orders "
    "(a qualifying first order was recorded), rewarded (the advocate got their reward); "
    "by_status counts them by current status; flagged: ever held for review; approved: "
    "reviewed by the merchant and let through.",
    "cohorts": "Members by the month they joined (in the range); retained[k]: of them, "
    "those who earned or redeemed points, or placed a paid order, in the k-th month after "
    "(k = 0 is the joining month).",
    "tiers_now": "Members per tier now (members with no tier under null).",
    "tier_moves": "Tier changes in the range: up (to a tier with a higher threshold, or a "
    "first tier), down (to a lower one or to none), by today's thresholds.",
}


# Which definitions each part of an answer needs.
PART_DEFINITIONS: dict[str, tuple[str, ...]] = {
    "points": (
        "members",
        "new_members",
        "active_members",
        "redeemers",
        "redeemer_share",
        "points_issued",
        "points_reversed",
        "points_redeemed",
        "points_expired",
        "points_removed",
        "points_outstanding",
        "points_spendable",
        "points_pending",
        "point_value",
        "liability",
        "redemption_rate",
        "tier_moves",
    ),
    "orders": (
        "shop_currency",
        "orders",
        "member_orders",
        "buyers",
        "repeat_purchase_rate",
        "purchase_frequency",
        "revenue",
        "average_order_value",
        "reward_revenue",
        "referred_revenue",
    ),
    "referrals": ("referral_funnel",),
    "tiers": ("tiers_now", "tier_moves"),
    "cohorts": ("cohorts",),
}


def definitions_for(parts: Iterable[str]) -> dict[str, str]:
    """The definitions an answer made of `parts` carries (the range's always)."""
    keys = ["range", *(k for part in parts for k in PART_DEFINITIONS[part])]
    return {k: DEFINITIONS[k] for k in dict.fromkeys(keys)}


def describe(parts: Iterable[str]) -> str:
    """The definitions as a Markdown list, for the API description."""
    return "\n".join(f"- `{k}`: {v}" for k, v in definitions_for(parts).items())


# --- dialect helpers ------------------------------------------------------------------


def _is_pg(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _day(session: Session, column: Any) -> ColumnElement[Any]:
    """The UTC calendar day of a timestamp column."""
    if _is_pg(session):
        return cast(func.timezone("UTC", column), Date)
    return type_coerce(func.date(column), Date())


def _month(session: Session, column: Any, *, timestamp: bool) -> ColumnElement[str]:
    """YYYY-MM of a timestamp (UTC) or date column."""
    if _is_pg(session):
        value = func.timezone("UTC", column) if timestamp else column
        return func.to_char(value, "YYYY-MM")
    return func.strftime("%Y-%m", column)


def _micros(session: Session, column: Any) -> ColumnElement[int]:
    """An exact decimal column as integer millionths, with no float on the way."""
    if _is_pg(session):
        return cast(func.round(type_coerce(column, Numeric(20, 6)) * MICROS), BigInteger)
    # SQLite keeps ExactDecimal as its decimal text: split at the point, pad the fraction.
    digits = type_coerce(column, String())
    point = func.instr(digits, ".")
    whole = cast(func.substr(digits, 1, point - 1), BigInteger) * MICROS
    sign = case((digits.like("-%"), -1), else_=1)
    frac = cast(func.substr(func.substr(digits, point + 1) + "000000", 1, 6), BigInteger)
    return case((point == 0, cast(digits, BigInteger) * MICROS), else_=whole + sign * frac)


def _least(session: Session, a: Any, b: Any) -> ColumnElement[Any]:
    return func.least(a, b) if _is_pg(session) else func.min(a, b)


def _flag(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.max(case((condition, 1), else_=0))


def _sum_if(condition: ColumnElement[bool], value: Any) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, value), else_=0)), 0)


def _start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


# --- building --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Window:
    """Days [first, last] to build; None: every day."""

    first: date
    last: date

    @property
    def start(self) -> datetime:
        return _start(self.first)

    @property
    def end(self) -> datetime:
        return _start(self.last) + DAY


def _within(column: Any, window: Window | None) -> list[ColumnElement[bool]]:
    if window is None:
        return []
    return [column >= window.start, column < window.end]


def _days_within(column: Any, window: Window | None) -> list[ColumnElement[bool]]:
    if window is None:
        return []
    return [column >= window.first, column <= window.last]


def _clear(session: Session, shop_id: int, window: Window | None) -> None:
    for model in (AnalyticsDay, AnalyticsMemberDay, AnalyticsOrderDay, AnalyticsReferralDay):
        session.execute(
            delete(model).where(model.shop_id == shop_id, *_days_within(model.day, window))
        )


def _build_days(session: Session, shop_id: int, window: Window | None) -> int:
    """analytics_days of the window: members, points by kind, tier moves."""
    rows: dict[date, dict[str, int]] = {}

    def row(day: date) -> dict[str, int]:
        return rows.setdefault(
            day,
            {
                "new_members": 0,
                "points_issued": 0,
                "points_reversed": 0,
                "points_redeemed": 0,
                "points_returned": 0,
                "points_expired": 0,
                "points_removed": 0,
                "points_net": 0,
                "tier_ups": 0,
                "tier_downs": 0,
            },
        )

    day = _day(session, Customer.created_at)
    for d, n in session.execute(
        select(day, func.count())
        .where(Customer.shop_id == shop_id, *_within(Customer.created_at, window))
        .group_by(day)
    ):
        row(_as_date(d))["new_members"] = int(n)

    kind, points = LedgerEntry.kind, LedgerEntry.points
    day = _day(session, LedgerEntry.created_at)
    query = (
        select(
            day,
            _sum_if(_ISSUING, points),
            -_sum_if(kind.in_(_REVERSING), points),
            -_sum_if(kind == EntryKind.REDEEM.value, points),
            _sum_if(kind == EntryKind.REDEEM_REFUND.value, points),
            -_sum_if(kind == EntryKind.EXPIRY.value, points),
            -_sum_if(and_(kind.in_(_ADJUSTING), points < 0), points),
            func.coalesce(func.sum(points), 0),
        )
        .where(LedgerEntry.shop_id == shop_id, *_within(LedgerEntry.created_at, window))
        .group_by(day)
    )
    names = (
        "points_issued",
        "points_reversed",
        "points_redeemed",
        "points_returned",
        "points_expired",
        "points_removed",
        "points_net",
    )
    for d, *values in session.execute(query):
        target = row(_as_date(d))
        for name, value in zip(names, values, strict=True):
            target[name] = int(value)

    from_tier, to_tier = aliased(Tier), aliased(Tier)
    day = _day(session, TierChange.changed_at)
    up = and_(
        TierChange.to_tier_id.is_not(None),
        or_(TierChange.from_tier_id.is_(None), to_tier.threshold > from_tier.threshold),
    )
    down = or_(
        and_(TierChange.to_tier_id.is_(None), TierChange.from_tier_id.is_not(None)),
        to_tier.threshold < from_tier.threshold,
    )
    for d, ups, downs in session.execute(
        select(day, _sum_if(up, 1), _sum_if(down, 1))
        .select_from(TierChange)
        .outerjoin(from_tier, from_tier.id == TierChange.from_tier_id)
        .outerjoin(to_tier, to_tier.id == TierChange.to_tier_id)
        .where(TierChange.shop_id == shop_id, *_within(TierChange.changed_at, window))
        .group_by(day)
    ):
        target = row(_as_date(d))
        target["tier_ups"], target["tier_downs"] = int(ups), int(downs)

    if rows:
        session.execute(
            insert(AnalyticsDay),
            [{"shop_id": shop_id, "day": d, **values} for d, values in sorted(rows.items())],
        )
    return len(rows)


def _build_member_days(session: Session, shop_id: int, window: Window | None) -> None:
    kind = LedgerEntry.kind
    day = _day(session, LedgerEntry.created_at)
    query = (
        select(
            literal(shop_id, BigInteger),
            day,
            LedgerEntry.customer_id,
            cast(_flag(kind.in_(_MEMBER_EARN_KINDS)), Boolean),
            cast(_flag(kind == EntryKind.REDEEM.value), Boolean),
        )
        .where(
            LedgerEntry.shop_id == shop_id,
            kind.in_((*_MEMBER_EARN_KINDS, EntryKind.REDEEM.value)),
            *_within(LedgerEntry.created_at, window),
        )
        .group_by(day, LedgerEntry.customer_id)
        # Written in day order, a day's rows share pages: a range reads few blocks.
        .order_by(day, LedgerEntry.customer_id)
    )
    session.execute(
        insert(AnalyticsMemberDay).from_select(
            ["shop_id", "day", "customer_id", "earned", "redeemed"], query
        )
    )


def _build_order_days(session: Session, shop_id: int, window: Window | None) -> None:
    refund_order = aliased(Order)
    refunds = (
        select(
            OrderRefund.order_id.label("order_id"),
            func.sum(_micros(session, OrderRefund.amount)).label("micros"),
        )
        .join(refund_order, refund_order.id == OrderRefund.order_id)
        .where(
            OrderRefund.shop_id == shop_id,
            or_(
                OrderRefund.amount_currency.is_(None),
                OrderRefund.amount_currency == refund_order.currency,
            ),
            *_within(refund_order.paid_at, window),
        )
        .group_by(OrderRefund.order_id)
        .subquery()
    )
    used = (
        select(Redemption.used_order_ref.label("order_ref"))
        .where(
            Redemption.shop_id == shop_id,
            Redemption.used_order_ref.is_not(None),
            Redemption.reward_id.is_not(None),
        )
        .distinct()
        .subquery()
    )
    friends = (
        select(Referral.friend_id.label("customer_id"))
        .where(Referral.shop_id == shop_id, Referral.friend_id.is_not(None))
        .distinct()
        .subquery()
    )
    gross = _micros(session, Order.order_total)
    net = gross - _least(session, func.coalesce(refunds.c.micros, 0), gross)
    rewarded = used.c.order_ref.is_not(None)
    referred = friends.c.customer_id.is_not(None)
    buyer = case(
        (Order.customer_id.is_not(None), "m:" + cast(Order.customer_id, String)),
        (Order.email_key.is_not(None), "g:" + Order.email_key),
        else_="o:" + cast(Order.id, String),
    )
    member = Order.customer_id.is_not(None)
    day = _day(session, Order.paid_at)
    query = (
        select(
            literal(shop_id, BigInteger),
            day,
            buyer,
            Order.currency,
            cast(_flag(member), Boolean),
            func.count(),
            func.sum(gross),
            func.sum(gross - net),
            _sum_if(rewarded, 1),
            _sum_if(rewarded, net),
            _sum_if(referred, 1),
            _sum_if(referred, net),
        )
        .select_from(Order)
        .outerjoin(refunds, refunds.c.order_id == Order.id)
        .outerjoin(used, used.c.order_ref == Order.order_ref)
        .outerjoin(friends, friends.c.customer_id == Order.customer_id)
        .where(
            Order.shop_id == shop_id,
            Order.paid_at.is_not(None),
            Order.order_total.is_not(None),
            Order.currency.is_not(None),
            Order.cancelled.is_(False),
            *_within(Order.paid_at, window),
        )
        .group_by(day, buyer, Order.currency)
        .order_by(day, buyer, Order.currency)
    )
    session.execute(
        insert(AnalyticsOrderDay).from_select(
            [
                "shop_id",
                "day",
                "buyer",
                "currency",
                "member",
                "orders",
                "gross_micros",
                "refunded_micros",
                "reward_orders",
                "reward_micros",
                "referred_orders",
                "referred_micros",
            ],
            query,
        )
    )


def _build_referral_days(session: Session, shop_id: int, window: Window | None) -> None:
    day = _day(session, Referral.created_at)
    approved = and_(Referral.reviewed_at.is_not(None), Referral.status != Status.REJECTED.value)
    query = (
        select(
            literal(shop_id, BigInteger),
            day,
            Referral.status,
            func.count(),
            func.count(Referral.friend_id),
            func.count(Referral.order_id),
            _sum_if(Referral.flags != "", 1),
            _sum_if(approved, 1),
        )
        .where(Referral.shop_id == shop_id, *_within(Referral.created_at, window))
        .group_by(day, Referral.status)
    )
    session.execute(
        insert(AnalyticsReferralDay).from_select(
            [
                "shop_id",
                "day",
                "status",
                "referrals",
                "signed_up",
                "ordered",
                "flagged",
                "approved",
            ],
            query,
        )
    )


def _build(session: Session, shop_id: int, window: Window | None) -> None:
    _clear(session, shop_id, window)
    _build_days(session, shop_id, window)
    _build_member_days(session, shop_id, window)
    _build_order_days(session, shop_id, window)
    _build_referral_days(session, shop_id, window)


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def changed_days(session: Session, shop_id: int, since: datetime) -> set[date] | None:
    """The days whose aggregates rows written at or after `since` may change; None: all
    of them (tier thresholds changed)."""
    tiers_changed = session.scalar(
        select(func.count()).where(Tier.shop_id == shop_id, Tier.updated_at >= since)
    )
    if tiers_changed:
        return None
    days: set[date] = set()

    def add(query: Any) -> None:
        days.update(_as_date(d) for (d,) in session.execute(query) if d is not None)

    ledger_day = _day(session, LedgerEntry.created_at)
    add(
        select(ledger_day)
        .where(LedgerEntry.shop_id == shop_id, LedgerEntry.created_at >= since)
        .distinct()
    )
    add(
        select(_day(session, Customer.created_at))
        .where(Customer.shop_id == shop_id, Customer.created_at >= since)
        .distinct()
    )
    paid_day = _day(session, Order.paid_at)
    add(
        select(paid_day)
        .where(Order.shop_id == shop_id, Order.updated_at >= since, Order.paid_at.is_not(None))
        .distinct()
    )
    add(
        select(paid_day)
        .select_from(OrderRefund)
        .join(Order, Order.id == OrderRefund.order_id)
        .where(OrderRefund.shop_id == shop_id, OrderRefund.created_at >= since)
        .distinct()
    )
    add(
        select(paid_day)
        .select_from(Redemption)
        .join(
            Order,
            and_(Order.shop_id == Redemption.shop_id, Order.order_ref == Redemption.used_order_ref),
        )
        .where(Redemption.shop_id == shop_id, Redemption.updated_at >= since)
        .distinct()
    )
    changed = (
        select(Referral.created_at, Referral.friend_id)
        .where(Referral.shop_id == shop_id, Referral.updated_at >= since)
        .subquery()
    )
    add(select(_day(session, changed.c.created_at)).distinct())
    add(
        select(paid_day)
        .select_from(Order)
        .join(changed, changed.c.friend_id == Order.customer_id)
        .where(Order.shop_id == shop_id)
        .distinct()
    )
    add(
        select(_day(session, TierChange.changed_at))
        .where(TierChange.shop_id == shop_id, TierChange.changed_at >= since)
        .distinct()
    )
    return days


def _windows(days: Iterable[date]) -> Iterator[Window]:
    """Runs of consecutive days."""
    run: list[date] = []
    for d in sorted(days):
        if run and d != run[-1] + DAY:
            yield Window(run[0], run[-1])
            run = []
        run.append(d)
    if run:
        yield Window(run[0], run[-1])


def build_shop(
    uow: UnitOfWork, shop_id: int, *, now: datetime, rebuild: bool = False
) -> dict[str, Any]:
    """Bring one shop's aggregates up to date in one transaction: the days changed since
    the last build (less `LOOKBACK`), or every day (`rebuild`, or never built before).
    Safe to run twice at once: the second waits for the first's lock."""
    with uow:
        s = uow.session
        repositories.insert_many_ignoring_conflict(
            s,
            AnalyticsState,
            [{"shop_id": shop_id, "changes_since": now, "built_at": _start(date(1970, 1, 1))}],
            ("shop_id",),
        )
        state = s.get(AnalyticsState, shop_id, with_for_update=True, populate_existing=True)
        assert state is not None
        first_build = state.built_at == _start(date(1970, 1, 1))
        days: set[date] | None = None
        if not (rebuild or first_build):
            days = changed_days(s, shop_id, state.changes_since - LOOKBACK)
        if days is None:
            _build(s, shop_id, None)
            built = "all"
            if _is_pg(s):
                # The planner's statistics for the rewritten rows (a long range read picks
                # its plan from them); sampled, so cheap, and allowed in a transaction.
                s.execute(
                    text("ANALYZE analytics_days, analytics_member_days, analytics_order_days")
                )
        else:
            for window in _windows(days):
                _build(s, shop_id, window)
            built = str(len(days))
        state.changes_since = now
        state.built_at = now
        uow.commit()
    logger.info("analytics built", extra={"shop": shop_id, "days": built})
    return {"shop_id": shop_id, "days": built}


def build_all(
    uow_factory: Callable[[], UnitOfWork],
    *,
    now: datetime,
    rebuild: bool = False,
    shop_id: int | None = None,
) -> list[dict[str, Any]]:
    """`build_shop` for one shop or every shop, each in its own transaction."""
    with uow_factory() as uow:
        query = select(Shop.id).order_by(Shop.id)
        if shop_id is not None:
            query = query.where(Shop.id == shop_id)
        ids = list(uow.session.scalars(query))
    if shop_id is not None and not ids:
        raise errors.ShopNotFound()
    return [build_shop(uow_factory(), sid, now=now, rebuild=rebuild) for sid in ids]


def run_due(uow_factory: Callable[[], UnitOfWork], *, now: datetime) -> int | None:
    """The scheduler's pass: every `BUILD_EVERY_MINUTES` across all schedulers; how many
    shops were built, None when another scheduler has this period."""
    slot = now.minute - now.minute % BUILD_EVERY_MINUTES
    if not expiry.claim_period(uow_factory(), f"analytics:{now:%Y-%m-%dT%H}:{slot:02d}", now=now):
        return None
    return len(build_all(uow_factory, now=now))


# --- reading ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DateRange:
    first: date
    last: date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


def parse_range(raw_from: str | None, raw_to: str | None, *, today: date) -> DateRange:
    """?from=YYYY-MM-DD&to=YYYY-MM-DD (UTC days, both included); defaults: the last
    `DEFAULT_SPAN_DAYS` days up to today. Raises InvalidDate, DateRangeReversed,
    DateInFuture or DateRangeTooLong."""

    def parse(raw: str | None, name: str) -> date | None:
        if raw is None or raw == "":
            return None
        try:
            if len(raw) != 10:
                raise ValueError
            return date.fromisoformat(raw)
        except ValueError:
            raise errors.InvalidDate(f"{name} must be a date written YYYY-MM-DD") from None

    last = parse(raw_to, "to") or today
    first = parse(raw_from, "from") or last - timedelta(days=DEFAULT_SPAN_DAYS - 1)
    if last > today:
        raise errors.DateInFuture(f"to must be {today.isoformat()} (today, UTC) or earlier")
    if first > last:
        raise errors.DateRangeReversed("from must not be after to")
    if (last - first).days + 1 > MAX_SPAN_DAYS:
        raise errors.DateRangeTooLong(f"the range may cover at most {MAX_SPAN_DAYS} days")
    return DateRange(first, last)


def _money(micros: int) -> Decimal:
    return Decimal(micros) / MICROS


def _ratio(num: int, den: int, places: str = "0.0001") -> str | None:
    if den == 0:
        return None
    return str((Decimal(num) / Decimal(den)).quantize(Decimal(places), ROUND_HALF_UP))


def _cents(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01"), ROUND_HALF_UP))


def _range_dict(r: DateRange) -> dict[str, str]:
    return {"from": r.first.isoformat(), "to": r.last.isoformat()}


def _built_at(session: Session, shop_id: int) -> datetime | None:
    state = session.get(AnalyticsState, shop_id)
    if state is None or state.built_at == _start(date(1970, 1, 1)):
        return None
    return state.built_at


def point_value(session: Session, shop_id: int) -> tuple[Decimal, str, int] | None:
    """(money per point, currency, reward id) of the cheapest active fixed-amount reward."""
    reward = session.execute(
        select(Reward.amount, Reward.points_cost, Reward.currency, Reward.id)
        .where(
            Reward.shop_id == shop_id,
            Reward.kind == "fixed_amount",
            Reward.archived_at.is_(None),
            Reward.points_cost > 0,
            Reward.amount.is_not(None),
            Reward.currency.is_not(None),
        )
        .order_by(Reward.points_cost, Reward.id)
        .limit(1)
    ).first()
    if reward is None:
        return None
    amount, cost, currency, reward_id = reward
    return Decimal(str(amount)) / Decimal(int(cost or 1)), str(currency), int(reward_id)


def _shop_currency(session: Session, shop_id: int, r: DateRange) -> str | None:
    value = point_value(session, shop_id)
    if value is not None:
        return value[1]
    top = session.execute(
        select(AnalyticsOrderDay.currency, func.sum(AnalyticsOrderDay.orders).label("n"))
        .where(AnalyticsOrderDay.shop_id == shop_id, *_days_within(AnalyticsOrderDay.day, _w(r)))
        .group_by(AnalyticsOrderDay.currency)
        .order_by(func.sum(AnalyticsOrderDay.orders).desc(), AnalyticsOrderDay.currency)
        .limit(1)
    ).first()
    return None if top is None else str(top[0])


def _w(r: DateRange) -> Window:
    return Window(r.first, r.last)


def _points(session: Session, shop_id: int, r: DateRange) -> dict[str, Any]:
    d = AnalyticsDay
    in_range = d.day.between(r.first, r.last)
    sums = session.execute(
        select(
            _sum_if(in_range, d.new_members),
            _sum_if(in_range, d.points_issued),
            _sum_if(in_range, d.points_reversed),
            _sum_if(in_range, d.points_redeemed),
            _sum_if(in_range, d.points_returned),
            _sum_if(in_range, d.points_expired),
            _sum_if(in_range, d.points_removed),
            func.coalesce(func.sum(d.points_net), 0),
            func.coalesce(func.sum(d.new_members), 0),
            _sum_if(in_range, d.tier_ups),
            _sum_if(in_range, d.tier_downs),
        ).where(d.shop_id == shop_id, d.day <= r.last)
    ).one()
    new, issued, reversed_, redeemed, returned, expired, removed, net, members, ups, downs = (
        int(v) for v in sums
    )
    # Pending at the end of the range, as `repositories.balance_columns` counts it at that
    # moment: read from the ledger (only entries still pending then, a short index range).
    end = _start(r.last) + DAY
    pending = int(
        session.scalar(
            select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
                LedgerEntry.shop_id == shop_id,
                LedgerEntry.available_at > end,
                LedgerEntry.created_at < end,
                ~and_(
                    LedgerEntry.points < 0,
                    LedgerEntry.kind.in_([k.value for k in IMMEDIATE_DEBIT_KINDS]),
                ),
            )
        )
        or 0
    )
    value = point_value(session, shop_id)
    liability = None
    if value is not None:
        liability = {"amount": _cents(net * value[0]), "currency": value[1]}
    return {
        "members": members,
        "new_members": new,
        "points_issued": issued,
        "points_reversed": reversed_,
        "points_redeemed": redeemed - returned,
        "points_expired": expired,
        "points_removed": removed,
        "points_outstanding": net,
        "points_spendable": net - pending,
        "points_pending": pending,
        "point_value": None
        if value is None
        else {
            "amount": str(value[0].quantize(Decimal("0.000001"), ROUND_HALF_UP)),
            "currency": value[1],
            "reward_id": value[2],
        },
        "liability": liability,
        "redemption_rate": _ratio(redeemed - returned, issued),
        "tier_ups": ups,
        "tier_downs": downs,
    }


def _activity(session: Session, shop_id: int, r: DateRange) -> dict[str, int]:
    m = AnalyticsMemberDay
    # One hash aggregate per member, then two counts: cheaper than two COUNT(DISTINCT)s,
    # each of which sorts the range's rows on PostgreSQL.
    per_member = (
        select(m.customer_id, func.max(case((m.redeemed.is_(True), 1), else_=0)).label("r"))
        .where(m.shop_id == shop_id, m.day.between(r.first, r.last))
        .group_by(m.customer_id)
        .subquery()
    )
    active, redeemers = session.execute(
        select(func.count(), func.coalesce(func.sum(per_member.c.r), 0))
    ).one()
    return {"active_members": int(active), "redeemers": int(redeemers)}


def _orders(session: Session, shop_id: int, r: DateRange, currency: str | None) -> dict[str, Any]:
    o = AnalyticsOrderDay
    where = [o.shop_id == shop_id, o.day.between(r.first, r.last)]
    per_buyer = (
        select(o.member, o.buyer, func.sum(o.orders).label("orders"))
        .where(*where)
        .group_by(o.member, o.buyer)
        .subquery()
    )
    counts = {
        bool(member): (int(buyers), int(repeat), int(orders))
        for member, buyers, repeat, orders in session.execute(
            select(
                per_buyer.c.member,
                func.count(),
                _sum_if(per_buyer.c.orders >= 2, 1),
                func.sum(per_buyer.c.orders),
            ).group_by(per_buyer.c.member)
        )
    }
    money: dict[tuple[bool, str], tuple[int, ...]] = {}
    for row in session.execute(
        select(
            o.member,
            o.currency,
            func.sum(o.orders),
            func.sum(o.gross_micros),
            func.sum(o.refunded_micros),
            func.sum(o.reward_orders),
            func.sum(o.reward_micros),
            func.sum(o.referred_orders),
            func.sum(o.referred_micros),
        )
        .where(*where)
        .group_by(o.member, o.currency)
    ):
        money[(bool(row[0]), str(row[1]))] = tuple(int(v) for v in row[2:])

    def group(member: bool) -> dict[str, Any]:
        buyers, repeat, orders = counts.get(member, (0, 0, 0))
        shop_money = money.get((member, currency or ""), (0,) * 7)
        n, gross, refunded = shop_money[0], shop_money[1], shop_money[2]
        revenue = _money(gross - refunded)
        return {
            "buyers": buyers,
            "orders": orders,
            "repeat_buyers": repeat,
            "repeat_purchase_rate": _ratio(repeat, buyers),
            "purchase_frequency": _ratio(orders, buyers),
            "shop_currency_orders": n,
            "gross": _cents(_money(gross)),
            "refunded": _cents(_money(refunded)),
            "revenue": _cents(revenue),
            "average_order_value": None if n == 0 else _cents(revenue / n),
        }

    other: dict[str, dict[str, Any]] = {}
    reward = [0, 0]
    referred = [0, 0]
    for (_member, cur), values in sorted(money.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        if cur == currency:
            reward[0] += values[3]
            reward[1] += values[4]
            referred[0] += values[5]
            referred[1] += values[6]
            continue
        entry = other.setdefault(cur, {"currency": cur, "orders": 0, "micros": 0})
        entry["orders"] += values[0]
        entry["micros"] += values[1] - values[2]
    return {
        "currency": currency,
        "members": group(True),
        "guests": group(False),
        "reward_orders": reward[0],
        "reward_revenue": _cents(_money(reward[1])),
        "referred_orders": referred[0],
        "referred_revenue": _cents(_money(referred[1])),
        "other_currencies": [
            {
                "currency": e["currency"],
                "orders": e["orders"],
                "revenue": _cents(_money(e["micros"])),
            }
            for e in other.values()
        ],
    }


def _referrals(session: Session, shop_id: int, r: DateRange) -> dict[str, Any]:
    d = AnalyticsReferralDay
    by_status: dict[str, int] = {s.value: 0 for s in Status}
    totals = [0, 0, 0, 0, 0]
    for status, *values in session.execute(
        select(
            d.status,
            func.sum(d.referrals),
            func.sum(d.signed_up),
            func.sum(d.ordered),
            func.sum(d.flagged),
            func.sum(d.approved),
        )
        .where(d.shop_id == shop_id, d.day.between(r.first, r.last))
        .group_by(d.status)
    ):
        by_status[str(status)] = int(values[0])
        for i, v in enumerate(values):
            totals[i] += int(v)
    return {
        "claims": totals[0],
        "signed_up": totals[1],
        "first_orders": totals[2],
        "rewarded": by_status.get(Status.REWARDED.value, 0),
        "flagged": totals[3],
        "approved": totals[4],
        "rejected": by_status.get(Status.REJECTED.value, 0),
        "by_status": by_status,
    }


def _read(uow: UnitOfWork, shop_id: int, r: DateRange, parts: Sequence[str]) -> dict[str, Any]:
    with uow:
        s = uow.session
        if s.get(Shop, shop_id) is None:
            raise errors.ShopNotFound()
        built_at = _built_at(s, shop_id)
        out: dict[str, Any] = {
            "range": _range_dict(r),
            "built_at": built_at.isoformat() if built_at is not None else None,
        }
        for part in parts:
            out.update(_PARTS[part](s, shop_id, r))
        out["definitions"] = definitions_for(parts)
        return out


def _points_part(s: Session, shop_id: int, r: DateRange) -> dict[str, Any]:
    points = _points(s, shop_id, r)
    activity = _activity(s, shop_id, r)
    members = points["members"]
    return {
        **points,
        **activity,
        "redeemer_share": _ratio(activity["redeemers"], members),
    }


def _orders_part(s: Session, shop_id: int, r: DateRange) -> dict[str, Any]:
    currency = _shop_currency(s, shop_id, r)
    return {"shop_currency": currency, "orders": _orders(s, shop_id, r, currency)}


def _referrals_part(s: Session, shop_id: int, r: DateRange) -> dict[str, Any]:
    return {"referral_funnel": _referrals(s, shop_id, r)}


def _tiers_part(s: Session, shop_id: int, r: DateRange) -> dict[str, Any]:
    d = AnalyticsDay
    ups, downs = s.execute(
        select(
            func.coalesce(func.sum(d.tier_ups), 0), func.coalesce(func.sum(d.tier_downs), 0)
        ).where(d.shop_id == shop_id, d.day.between(r.first, r.last))
    ).one()
    # Members as of the last build, as everywhere else in these figures.
    members = int(
        s.scalar(select(func.coalesce(func.sum(d.new_members), 0)).where(d.shop_id == shop_id)) or 0
    )
    rows = s.execute(
        select(Tier.id, Tier.name, Tier.threshold, func.count(MemberTier.id))
        .select_from(Tier)
        .outerjoin(MemberTier, and_(MemberTier.tier_id == Tier.id, MemberTier.shop_id == shop_id))
        .where(Tier.shop_id == shop_id)
        .group_by(Tier.id, Tier.name, Tier.threshold)
        .order_by(Tier.threshold, Tier.id)
    ).all()
    in_tiers = sum(int(n) for *_, n in rows)
    return {
        "tiers_now": [
            {"tier_id": None, "name": None, "members": members - in_tiers},
            *(
                {"tier_id": int(i), "name": name, "members": int(n)}
                for i, name, _threshold, n in rows
            ),
        ],
        "tier_moves": {"up": int(ups), "down": int(downs)},
    }


def _cohorts_part(s: Session, shop_id: int, r: DateRange) -> dict[str, Any]:
    joined = _month(s, Customer.created_at, timestamp=True)
    sizes = {
        str(m): int(n)
        for m, n in s.execute(
            select(joined, func.count())
            .where(
                Customer.shop_id == shop_id,
                Customer.created_at >= _start(r.first),
                Customer.created_at < _start(r.last) + DAY,
            )
            .group_by(joined)
        )
    }
    m, o = AnalyticsMemberDay, AnalyticsOrderDay
    activity = union_all(
        select(m.customer_id.label("customer_id"), m.day.label("day")).where(
            m.shop_id == shop_id, m.earned.is_(True) | m.redeemed.is_(True)
        ),
        select(
            cast(func.substr(o.buyer, 3), BigInteger).label("customer_id"), o.day.label("day")
        ).where(o.shop_id == shop_id, o.member.is_(True)),
    ).subquery()
    active_month = _month(s, activity.c.day, timestamp=False)
    retained: dict[str, dict[str, int]] = {}
    for cohort, month, n in s.execute(
        select(joined, active_month, func.count(distinct(activity.c.customer_id)))
        .select_from(activity)
        .join(Customer, Customer.id == activity.c.customer_id)
        .where(
            Customer.shop_id == shop_id,
            Customer.created_at >= _start(r.first),
            Customer.created_at < _start(r.last) + DAY,
            activity.c.day >= r.first,
        )
        .group_by(joined, active_month)
    ):
        retained.setdefault(str(cohort), {})[str(month)] = int(n)
    last_month = r.last.year * 12 + r.last.month - 1
    cohorts = []
    for cohort in sorted(sizes):
        cohort_year, cohort_month = (int(p) for p in cohort.split("-"))
        start = cohort_year * 12 + cohort_month - 1
        row = []
        for k in range(last_month - start + 1):
            at = start + k
            key = f"{at // 12:04d}-{at % 12 + 1:02d}"
            n = retained.get(cohort, {}).get(key, 0)
            row.append({"offset": k, "month": key, "members": n, "rate": _ratio(n, sizes[cohort])})
        cohorts.append({"month": cohort, "members": sizes[cohort], "retained": row})
    return {"cohorts": cohorts}


_PARTS: dict[str, Callable[[Session, int, DateRange], dict[str, Any]]] = {
    "points": _points_part,
    "orders": _orders_part,
    "referrals": _referrals_part,
    "tiers": _tiers_part,
    "cohorts": _cohorts_part,
}


Reader = Callable[[UnitOfWork, int, DateRange], dict[str, Any]]
OVERVIEW_PARTS = ("points", "orders", "referrals", "tiers")


def overview(uow: UnitOfWork, shop_id: int, r: DateRange) -> dict[str, Any]:
    """Members, points, liability, redemption, members vs guests, reward and referral
    revenue, the referral funnel and tier moves over `r`, with each figure's definition."""
    return _read(uow, shop_id, r, OVERVIEW_PARTS)


def points(uow: UnitOfWork, shop_id: int, r: DateRange) -> dict[str, Any]:
    return _read(uow, shop_id, r, ("points",))


def members_vs_guests(uow: UnitOfWork, shop_id: int, r: DateRange) -> dict[str, Any]:
    return _read(uow, shop_id, r, ("orders",))


def referrals(uow: UnitOfWork, shop_id: int, r: DateRange) -> dict[str, Any]:
    return _read(uow, shop_id, r, ("referrals",))


def tiers(uow: UnitOfWork, shop_id: int, r: DateRange) -> dict[str, Any]:
    return _read(uow, shop_id, r, ("tiers",))


def cohorts(uow: UnitOfWork, shop_id: int, r: DateRange) -> dict[str, Any]:
    return _read(uow, shop_id, r, ("cohorts",))


# --- CSV ---------------------------------------------------------------------------------

CSV_FIGURE_COLUMNS = ("figure", "value", "currency", "definition")
CSV_COHORT_COLUMNS = ("cohort", "cohort_members", "offset", "month", "members", "rate")
_MONEY_FIELDS = frozenset(
    {"gross", "refunded", "revenue", "average_order_value", "reward_revenue", "referred_revenue"}
)


def _figure_rows(result: dict[str, Any]) -> Iterator[tuple[Any, ...]]:
    """(figure, value, currency, definition): one row per number, named by its path."""
    currency = result.get("orders", {}).get("currency") if "orders" in result else None

    def definition(path: str) -> str:
        for part in (path, *reversed(path.split("."))):
            if part in DEFINITIONS:
                return DEFINITIONS[part]
        return ""

    def walk(path: str, value: Any, cur: str | None) -> Iterator[tuple[Any, ...]]:
        if isinstance(value, dict) and set(value) >= {"amount", "currency"}:
            yield path, value["amount"], value["currency"], definition(path)
        elif isinstance(value, dict):
            for key, inner in value.items():
                yield from walk(f"{path}.{key}" if path else key, inner, cur)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                key = item.get("currency") or item.get("tier_id") or i
                if "tier_id" in item:
                    key = item["tier_id"] if item["tier_id"] is not None else "none"
                yield from walk(f"{path}.{key}", item, item.get("currency", cur))
        else:
            money = path.rsplit(".", 1)[-1] in _MONEY_FIELDS
            yield path, value, cur if money else "", definition(path)

    for key, value in result.items():
        if key in ("definitions", "range", "built_at", "cohorts"):
            continue
        yield from walk(key, value, currency)
    yield "range.from", result["range"]["from"], "", DEFINITIONS["range"]
    yield "range.to", result["range"]["to"], "", DEFINITIONS["range"]
    yield "built_at", result["built_at"], "", ""


def _cohort_rows(result: dict[str, Any]) -> Iterator[tuple[Any, ...]]:
    for cohort in result["cohorts"]:
        for cell in cohort["retained"]:
            yield (
                cohort["month"],
                cohort["members"],
                cell["offset"],
                cell["month"],
                cell["members"],
                cell["rate"],
            )


def to_csv(result: dict[str, Any]) -> str:
    """A result of this module as CSV: cohorts as a table (one row per cohort and month),
    anything else as one row per figure with its currency and definition."""
    header: tuple[str, ...]
    if "cohorts" in result:
        header, rows = CSV_COHORT_COLUMNS, _cohort_rows(result)
    else:
        header, rows = CSV_FIGURE_COLUMNS, _figure_rows(result)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(
            ["" if v is None else escape_cell(v) if isinstance(v, str) else v for v in row]
        )
    return buffer.getvalue()


# --- the admin app: a daily series, and all-time totals up to this moment ----------------


def points_by_day(uow: UnitOfWork, shop_id: int, r: DateRange) -> list[dict[str, Any]]:
    """Points issued, redeemed (less returned) and expired on each day of `r`, from the
    daily aggregates (the same rows `points` sums; days without activity as zeros)."""
    d = AnalyticsDay
    with uow:
        found = {
            _as_date(day): (int(issued), int(redeemed) - int(returned), int(expired))
            for day, issued, redeemed, returned, expired in uow.session.execute(
                select(
                    d.day, d.points_issued, d.points_redeemed, d.points_returned, d.points_expired
                ).where(d.shop_id == shop_id, d.day.between(r.first, r.last))
            )
        }
    series = []
    for i in range(r.days):
        day = r.first + timedelta(days=i)
        issued, redeemed, expired = found.get(day, (0, 0, 0))
        series.append(
            {"day": day, "points_issued": issued, "points_redeemed": redeemed, "expired": expired}
        )
    return series


def complete_before(session: Session, shop_id: int) -> date | None:
    """The first UTC day whose ledger and member figures the aggregates may not hold in
    full yet; every earlier day is complete. None: never built.

    The last build at `built_at` saw every row committed when it started; a row is
    written within `LOOKBACK` of its `created_at` (never in the past), so the rows of the
    days before `built_at - LOOKBACK` were all there to be counted."""
    built_at = _built_at(session, shop_id)
    if built_at is None:
        return None
    return (built_at - LOOKBACK).astimezone(UTC).date()


def totals_now(session: Session, shop_id: int) -> dict[str, int]:
    """All-time members and points (issued, redeemed less returned, outstanding) as of
    now, defined as in `DEFINITIONS`: the aggregates of the days `complete_before` vouches
    for, plus the customers and ledger entries written since (today's activity the
    scheduler has not aggregated yet). Reads only those recent source rows."""
    d = AnalyticsDay
    cutoff = complete_before(session, shop_id)
    members = issued = redeemed = net = 0
    new_customers: list[ColumnElement[bool]] = []
    new_entries: list[ColumnElement[bool]] = []
    if cutoff is not None:
        row = session.execute(
            select(
                func.coalesce(func.sum(d.new_members), 0),
                func.coalesce(func.sum(d.points_issued), 0),
                func.coalesce(func.sum(d.points_redeemed - d.points_returned), 0),
                func.coalesce(func.sum(d.points_net), 0),
            ).where(d.shop_id == shop_id, d.day < cutoff)
        ).one()
        members, issued, redeemed, net = (int(v) for v in row)
        new_customers = [Customer.created_at >= _start(cutoff)]
        new_entries = [LedgerEntry.created_at >= _start(cutoff)]
    members += int(
        session.scalar(select(func.count()).where(Customer.shop_id == shop_id, *new_customers)) or 0
    )
    kind, points = LedgerEntry.kind, LedgerEntry.points
    live = session.execute(
        select(
            _sum_if(_ISSUING, points),
            -_sum_if(kind.in_((EntryKind.REDEEM.value, EntryKind.REDEEM_REFUND.value)), points),
            func.coalesce(func.sum(points), 0),
        ).where(LedgerEntry.shop_id == shop_id, *new_entries)
    ).one()
    return {
        "members": members,
        "points_issued": issued + int(live[0]),
        "points_redeemed": redeemed + int(live[1]),
        "points_outstanding": net + int(live[2]),
    }
