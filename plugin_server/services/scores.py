"""Customer scores: recency, frequency, monetary (RFM) quintiles and a segment per member,
with engagement, advocacy and the inputs of a Buy-Till-You-Die model, recomputed from the
order history by the scheduler (once a day per shop) or `loyalty scores rebuild`.

What is counted (see also plugin_server.domain.segments for scores and segments):

- Orders: those of the member that were paid (`paid_at` set), not cancelled and not fully
  refunded, and the member's orders from before the app was installed, which live only in
  `order_history` (before_install): matched as webhooks match orders (the platform's
  customer id; for a "guest:<email>" member, the digest of that email on a guest order),
  counted when in a state the shop awards points for (or "partially_refunded"), not
  cancelled, not fully refunded, and not also paid in `orders` (never counted twice). They
  move R/F/M, tenure and the BTYD inputs like any order and never earn points. A partly
  refunded order counts, its value less the refunds recorded in the order's own currency
  (never below zero). Orders without a member (guest checkouts in a
  shop where guests do not earn) belong to nobody and are not scored. A guest who earns
  by email is a member of their own ("guest:<email>"); if they later register, the account
  is another member and the two are scored apart (members are never merged).
- Money: in the shop's currency only, in its minor units (cents; yen; fils). The shop's
  currency is that of the reward that sets the value of a point (as in analytics), else
  the currency most of the members' counted orders are in. Orders in other currencies count
  for recency and frequency but add nothing to monetary (no exchange rates are kept).
- Days are whole UTC calendar days between the dates of two moments.
- Engagement: activities rewarded through activity rules (reviews, follows...) plus
  redemptions (any but failed ones) plus the days in the last `WIDGET_DAYS` on which the
  member opened the storefront widget (`widget_use_days`; opening it any number of times
  in a day counts once). Advocacy: referrals that rewarded the member as advocate.
- Tenure: days since the earlier of the member's sign-up and first counted order.
- Buy-Till-You-Die inputs, at most one purchase a day (orders of one UTC day are one
  purchase): x repeat purchase days, t_x days from the first to the last purchase day,
  T days from the first purchase day to the computation's day, and the mean value of the
  repeat purchase days that had money in the shop's currency.

Predictions (P(alive), expected purchases, 12-month value) are written right after, by
plugin_server.services.predictions, from the inputs this pass stored.

How (the same SQL on PostgreSQL and SQLite):
1. Chunks of members (consecutive id ranges, `CHUNK` per transaction; on PostgreSQL two
   connections at once, see member_chunks): each chunk's aggregates computed by one
   INSERT ... SELECT ... ON CONFLICT DO UPDATE. Scores and segment are not touched yet, so
   a reader sees the previous run's segment until step 3 reaches the member.
2. The cut points of each quintile over the whole shop: three window queries
   (row_number over the shop's scored members) returning four values each.
3. Chunks again: one UPDATE per chunk sets r/f/m and the segment from the cut points.
No member's row travels to Python, so memory stays flat whatever the shop's size.
Idempotent: a second run at the same moment writes the same values.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Date,
    Integer,
    Numeric,
    String,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    null,
    or_,
    select,
    type_coerce,
    union_all,
    update,
)
from sqlalchemy.orm import Session, aliased

from plugin_server.db import repositories
from plugin_server.db.models import (
    Customer,
    CustomerScore,
    EarningRule,
    LedgerEntry,
    Order,
    OrderHistory,
    OrderRefund,
    Redemption,
    Referral,
    Shop,
    WidgetUseDay,
)
from plugin_server.db.types import UTCDateTime
from plugin_server.db.unit_of_work import UnitOfWork
from plugin_server.domain import referrals as referral_rules
from plugin_server.domain import segments as rules
from plugin_server.domain.earning_rules import RuleKind
from plugin_server.domain.errors import CustomerNotFound, ShopNotFound
from plugin_server.domain.ledger import EntryKind
from plugin_server.domain.referrals import Status as ReferralStatus
from plugin_server.services import analytics, member_chunks, predictions

logger = logging.getLogger(__name__)

CHUNK = 5000
WIDGET_DAYS = 90  # widget use counts over this many days, today included
MICROS = 1_000_000
NOT_COMPUTED = "not_computed"
FAILED_REDEMPTION = "failed"
GUEST_PREFIX = "guest:"
# A paid order later refunded in part (Shopify's financial_status; WooCommerce keeps the
# order's state), besides the states the shop awards points for.
PARTLY_REFUNDED = frozenset({"partially_refunded"})
_KEY = ("shop_id", "customer_id")


def _is_pg(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _day(session: Session, column: Any) -> ColumnElement[Any]:
    """The UTC calendar day of a timestamp column."""
    if _is_pg(session):
        return cast(func.timezone("UTC", column), Date)
    return type_coerce(func.date(column), Date())


def _days(session: Session, later: Any, earlier: Any) -> ColumnElement[int]:
    """Whole days from one date to another."""
    if _is_pg(session):
        return cast(later - earlier, Integer)
    return cast(func.julianday(later) - func.julianday(earlier), Integer)


def _not_negative(session: Session, value: Any) -> ColumnElement[int]:
    return case((value < 0, 0), else_=value)


def _rounded_ratio(session: Session, num: Any, den: Any) -> ColumnElement[int]:
    """num / den rounded half up, for num >= 0 and den > 0, in integers on both databases
    (PostgreSQL sums integers as numeric; SQLite divides integers as integers)."""
    if _is_pg(session):
        return cast(
            func.floor(
                type_coerce(num * 2 + den, Numeric(38, 0)) / type_coerce(den * 2, Numeric(38, 0))
            ),
            BigInteger,
        )
    return cast((num * 2 + den) / (den * 2), BigInteger)


# --- the shop's currency -------------------------------------------------------------------


def _counted(shop_id: int) -> list[ColumnElement[bool]]:
    return [
        Order.shop_id == shop_id,
        Order.customer_id.is_not(None),
        Order.paid_at.is_not(None),
        Order.cancelled.is_(False),
        Order.fully_refunded.is_(False),
    ]


def shop_currency(session: Session, shop_id: int) -> str | None:
    """The currency money is scored in: that of the reward that sets a point's value, else
    the one most counted member orders (pre-install ones included) are in (alphabetically
    first on a tie)."""
    value = analytics.point_value(session, shop_id)
    if value is not None:
        return value[1].upper()
    counts: dict[str, int] = {}
    for currency, n in session.execute(
        select(func.upper(Order.currency), func.count())
        .where(*_counted(shop_id), Order.currency.is_not(None))
        .group_by(func.upper(Order.currency))
    ):
        counts[str(currency)] = counts.get(str(currency), 0) + int(n)
    for currency, n in session.execute(
        select(func.upper(OrderHistory.currency), func.count())
        .where(
            OrderHistory.shop_id == shop_id,
            OrderHistory.before_install.is_(True),
            OrderHistory.cancelled.is_(False),
        )
        .group_by(func.upper(OrderHistory.currency))
    ):
        counts[str(currency)] = counts.get(str(currency), 0) + int(n)
    if not counts:
        return None
    return min(counts, key=lambda c: (-counts[c], c))


# --- step 1: aggregates per chunk ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Run:
    shop_id: int
    now: datetime
    currency: str | None
    # States in which a pre-install order was paid (order_history.status).
    paid_statuses: frozenset[str] = frozenset()

    @property
    def today(self) -> date:
        return self.now.date()

    @property
    def micros_per_minor(self) -> int:
        if self.currency is None:
            return MICROS
        return 10 ** (6 - rules.minor_exponent(self.currency))


def _guest_key(customer_ref: str) -> str | None:
    """The email digest a guest member's pre-install orders carry: webhooks make a guest's
    member "guest:<email>" from the order's email, and order_history keeps its digest."""
    return referral_rules.email_key(customer_ref.removeprefix(GUEST_PREFIX))


def guest_keys(session: Session, shop_id: int, lo: int, hi: int) -> dict[str, int]:
    """Email digest -> member id of the guest members from `lo` to `hi` (the lowest id
    where two guest members share a mailbox, so an order counts once)."""
    out: dict[str, int] = {}
    for cid, ref in session.execute(
        select(Customer.id, Customer.customer_ref)
        .where(
            Customer.shop_id == shop_id,
            Customer.id.between(lo, hi),
            Customer.customer_ref.startswith(GUEST_PREFIX),
        )
        .order_by(Customer.id)
    ):
        key = _guest_key(ref)
        if key is not None:
            out.setdefault(key, int(cid))
    return out


def _history_counted(session: Session, run: Run) -> list[ColumnElement[bool]]:
    """A pre-install order counts as an order of the webhook path would: in a state the
    shop awards points for (or paid and since partly refunded), not cancelled, not fully
    refunded, and not also an order the app saw paid (that one is counted from `orders`)."""
    h = OrderHistory
    total, refunded = analytics._micros(session, h.total), analytics._micros(session, h.refunded)
    seen = aliased(Order)
    return [
        h.shop_id == run.shop_id,
        h.before_install.is_(True),
        h.cancelled.is_(False),
        h.status.in_(sorted(run.paid_statuses)),
        ~and_(total > 0, refunded >= total),
        ~select(seen.id)
        .where(
            seen.shop_id == run.shop_id,
            seen.order_ref == h.order_ref,
            seen.paid_at.is_not(None),
        )
        .exists(),
    ]


def _history_net(session: Session, run: Run) -> ColumnElement[Any]:
    h = OrderHistory
    gross = analytics._micros(session, h.total)
    refunded = analytics._least(session, analytics._micros(session, h.refunded), gross)
    if run.currency is None:
        return null()
    return case(
        (func.upper(h.currency) == run.currency, _not_negative(session, gross - refunded)),
        else_=null(),
    )


def aggregate_query(
    session: Session, run: Run, lo: int, hi: int, guests: dict[str, int] | None = None
) -> Any:
    """One row per member with an id from `lo` to `hi`: every column of customer_scores
    except the scores, the segment and the predictions. `guests`: the chunk's guest
    members by email digest (guest_keys), whose pre-install orders carry no customer id."""
    shop_id = run.shop_id
    in_chunk = Order.customer_id.between(lo, hi)
    refund_order = aliased(Order)
    refunds = (
        select(
            OrderRefund.order_id.label("order_id"),
            func.sum(analytics._micros(session, OrderRefund.amount)).label("micros"),
        )
        .join(refund_order, refund_order.id == OrderRefund.order_id)
        .where(
            OrderRefund.shop_id == shop_id,
            refund_order.shop_id == shop_id,
            refund_order.customer_id.between(lo, hi),
            or_(
                OrderRefund.amount_currency.is_(None),
                OrderRefund.amount_currency == refund_order.currency,
            ),
        )
        .group_by(OrderRefund.order_id)
        .subquery()
    )
    gross = analytics._micros(session, Order.order_total)
    in_currency: ColumnElement[bool] = (
        and_(func.upper(Order.currency) == run.currency, Order.order_total.is_not(None))
        if run.currency is not None
        else false()
    )
    refunded = analytics._least(session, func.coalesce(refunds.c.micros, 0), gross)
    net = case((in_currency, _not_negative(session, gross - refunded)), else_=null())
    # Orders the app saw, and the member's orders from before the install (order_history
    # only), matched as webhooks match orders: by customer id, else a guest's email.
    h = OrderHistory
    parts: list[Any] = [
        select(
            Order.customer_id.label("customer_id"),
            Order.paid_at.label("at"),
            net.label("micros"),
        )
        .outerjoin(refunds, refunds.c.order_id == Order.id)
        .where(*_counted(shop_id), in_chunk),
        select(
            Customer.id.label("customer_id"),
            h.placed_at.label("at"),
            _history_net(session, run).label("micros"),
        )
        .select_from(Customer)
        .join(h, and_(h.shop_id == shop_id, h.customer_ref == Customer.customer_ref))
        .where(Customer.shop_id == shop_id, Customer.id.between(lo, hi))
        .where(*_history_counted(session, run)),
    ]
    if guests:
        parts.append(
            select(
                cast(case(guests, value=h.email_key), BigInteger).label("customer_id"),
                h.placed_at.label("at"),
                _history_net(session, run).label("micros"),
            ).where(
                h.customer_ref.is_(None),
                h.email_key.in_(sorted(guests)),
                *_history_counted(session, run),
            )
        )
    counted = union_all(*parts).subquery()
    day = _day(session, counted.c.at)
    per_day = (
        select(
            counted.c.customer_id.label("customer_id"),
            day.label("day"),
            func.count().label("orders"),
            func.sum(counted.c.micros).label("micros"),
            func.min(counted.c.at).label("first_at"),
            func.max(counted.c.at).label("last_at"),
            func.min(day).over(partition_by=counted.c.customer_id).label("first_day"),
        )
        .group_by(counted.c.customer_id, day)
        .subquery()
    )
    repeat = per_day.c.day > per_day.c.first_day
    per_member = (
        select(
            per_day.c.customer_id,
            func.sum(per_day.c.orders).label("frequency"),
            func.count().label("days"),
            func.min(per_day.c.first_at).label("first_at"),
            func.max(per_day.c.last_at).label("last_at"),
            func.min(per_day.c.day).label("first_day"),
            func.max(per_day.c.day).label("last_day"),
            func.sum(per_day.c.micros).label("micros"),
            func.sum(case((repeat, per_day.c.micros), else_=null())).label("repeat_micros"),
            func.count(case((and_(repeat, per_day.c.micros.is_not(None)), 1))).label("repeat_days"),
        )
        .group_by(per_day.c.customer_id)
        .subquery()
    )
    activities = (
        select(LedgerEntry.customer_id.label("customer_id"), func.count().label("n"))
        .join(
            EarningRule,
            and_(
                EarningRule.shop_id == LedgerEntry.shop_id,
                EarningRule.key == LedgerEntry.source_ref,
                EarningRule.kind == RuleKind.ACTIVITY.value,
            ),
        )
        .where(
            LedgerEntry.shop_id == shop_id,
            LedgerEntry.customer_id.between(lo, hi),
            LedgerEntry.kind == EntryKind.RULE_BONUS.value,
            LedgerEntry.source_type == "rule",
        )
        .group_by(LedgerEntry.customer_id)
        .subquery()
    )
    redeemed = (
        select(Redemption.customer_id.label("customer_id"), func.count().label("n"))
        .where(
            Redemption.shop_id == shop_id,
            Redemption.customer_id.between(lo, hi),
            Redemption.status != FAILED_REDEMPTION,
        )
        .group_by(Redemption.customer_id)
        .subquery()
    )
    widget = (
        select(WidgetUseDay.customer_id.label("customer_id"), func.count().label("n"))
        .where(
            WidgetUseDay.shop_id == shop_id,
            WidgetUseDay.customer_id.between(lo, hi),
            WidgetUseDay.day > run.today - timedelta(days=WIDGET_DAYS),
        )
        .group_by(WidgetUseDay.customer_id)
        .subquery()
    )
    referred = (
        select(Referral.advocate_id.label("customer_id"), func.count().label("n"))
        .where(
            Referral.shop_id == shop_id,
            Referral.advocate_id.between(lo, hi),
            Referral.status == ReferralStatus.REWARDED.value,
        )
        .group_by(Referral.advocate_id)
        .subquery()
    )
    m = per_member.c
    today = literal(run.today, Date())
    factor = run.micros_per_minor
    n_activities = func.coalesce(activities.c.n, 0)
    n_redeemed = func.coalesce(redeemed.c.n, 0)
    n_widget = func.coalesce(widget.c.n, 0)
    joined = analytics._least(
        session, Customer.created_at, func.coalesce(m.first_at, Customer.created_at)
    )
    has_orders = m.customer_id.is_not(None)
    return (
        select(
            literal(shop_id, BigInteger()).label("shop_id"),
            Customer.id.label("customer_id"),
            literal(run.currency, String(3)).label("currency"),
            cast(func.coalesce(m.frequency, 0), Integer).label("frequency"),
            case(
                (has_orders, _not_negative(session, _days(session, today, m.last_day))),
                else_=null(),
            ).label("recency_days"),
            func.coalesce(_rounded_ratio(session, m.micros, factor), 0).label("monetary_minor"),
            _not_negative(session, _days(session, today, _day(session, joined))).label(
                "tenure_days"
            ),
            cast(n_activities, Integer).label("activities"),
            cast(n_redeemed, Integer).label("redemptions"),
            cast(n_widget, Integer).label("widget_days"),
            cast(n_activities + n_redeemed + n_widget, Integer).label("engagement"),
            cast(func.coalesce(referred.c.n, 0), Integer).label("advocacy"),
            type_coerce(m.first_at, UTCDateTime()).label("first_order_at"),
            type_coerce(m.last_at, UTCDateTime()).label("last_order_at"),
            cast(m.days - 1, Integer).label("btyd_x"),
            _days(session, m.last_day, m.first_day).label("btyd_t_x"),
            _days(session, today, m.first_day).label("btyd_t"),
            case(
                (
                    m.repeat_days > 0,
                    _rounded_ratio(session, m.repeat_micros, m.repeat_days * factor),
                ),
                else_=null(),
            ).label("mean_repeat_value_minor"),
            literal(NOT_COMPUTED, String(20)).label("prediction_status"),
            literal(run.now, UTCDateTime()).label("computed_at"),
        )
        .select_from(Customer)
        .outerjoin(per_member, m.customer_id == Customer.id)
        .outerjoin(activities, activities.c.customer_id == Customer.id)
        .outerjoin(redeemed, redeemed.c.customer_id == Customer.id)
        .outerjoin(widget, widget.c.customer_id == Customer.id)
        .outerjoin(referred, referred.c.customer_id == Customer.id)
        # A WHERE clause last: SQLite needs one before ON CONFLICT in INSERT ... SELECT.
        .where(Customer.shop_id == shop_id, Customer.id.between(lo, hi))
    )


# Written by step 1; the prediction columns keep what the prediction step wrote.
_AGGREGATES = (
    "currency",
    "frequency",
    "recency_days",
    "monetary_minor",
    "tenure_days",
    "activities",
    "redemptions",
    "widget_days",
    "engagement",
    "advocacy",
    "first_order_at",
    "last_order_at",
    "btyd_x",
    "btyd_t_x",
    "btyd_t",
    "mean_repeat_value_minor",
    "computed_at",
)


def _write_aggregates(session: Session, run: Run, lo: int, hi: int) -> None:
    query = aggregate_query(session, run, lo, hi, guest_keys(session, run.shop_id, lo, hi))
    columns = [column.key for column in query.selected_columns]
    insert = repositories._insert_for(session)(CustomerScore.__table__).from_select(columns, query)
    session.execute(
        insert.on_conflict_do_update(
            index_elements=list(_KEY),
            set_={column: insert.excluded[column] for column in _AGGREGATES},
        )
    )


# --- step 2: cut points --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cuts:
    """The values at the cut ranks of each measure (oriented higher-is-better: recency as
    minus the days), and how many members are scored."""

    scored: int
    recency: tuple[int, ...]
    frequency: tuple[int, ...]
    monetary: tuple[int, ...]


def _oriented() -> dict[str, Any]:
    s = CustomerScore
    return {
        "recency": -s.recency_days,
        "frequency": s.frequency,
        "monetary": s.monetary_minor,
    }


def cut_points(session: Session, shop_id: int) -> Cuts:
    """The quintile cut points of the shop's scored members (at least one counted order)."""
    scored = CustomerScore.shop_id == shop_id, CustomerScore.frequency > 0
    n = int(session.scalar(select(func.count()).where(*scored)) or 0)
    ranks = rules.cut_ranks(n)
    values: dict[str, tuple[int, ...]] = {}
    for name, value in _oriented().items():
        if not ranks:
            values[name] = ()
            continue
        ordered = (
            select(value.label("v"), func.row_number().over(order_by=value).label("rn"))
            .where(*scored)
            .subquery()
        )
        at = {
            int(rank): v
            for rank, v in session.execute(
                select(ordered.c.rn, ordered.c.v).where(ordered.c.rn.in_(sorted(set(ranks))))
            )
        }
        values[name] = tuple(int(at[k]) for k in ranks)
    return Cuts(n, values["recency"], values["frequency"], values["monetary"])


# --- step 3: scores and segments per chunk --------------------------------------------------


def _score_sql(value: Any, cuts: tuple[int, ...]) -> ColumnElement[int]:
    out: ColumnElement[int] = literal(1, Integer())
    for cut in cuts:
        out = out + case((value > cut, 1), else_=0)
    return out


def _write_scores(session: Session, shop_id: int, cuts: Cuts, lo: int, hi: int) -> None:
    oriented = _oriented()
    r = _score_sql(oriented["recency"], cuts.recency)
    f = _score_sql(oriented["frequency"], cuts.frequency)
    m = _score_sql(oriented["monetary"], cuts.monetary)
    fm = (f + m + 1) // 2  # rules.fm_score
    grid = {r_ * 10 + fm_: seg.value for (r_, fm_), seg in rules.segment_grid().items()}
    segment = case(grid, value=r * 10 + fm, else_=null())
    scored = CustomerScore.frequency > 0
    session.execute(
        update(CustomerScore)
        .where(CustomerScore.shop_id == shop_id, CustomerScore.customer_id.between(lo, hi))
        .values(
            r_score=case((scored, r), else_=null()),
            f_score=case((scored, f), else_=null()),
            m_score=case((scored, m), else_=null()),
            segment=case((scored, segment), else_=null()),
        )
        .execution_options(synchronize_session=False)
    )


# --- the pass ------------------------------------------------------------------------------


def _chunks(
    uow_factory: Callable[[], UnitOfWork],
    shop_id: int,
    chunk: int,
    connections: int,
    write: Callable[[Session, int, int], None],
) -> int:
    chunks = member_chunks.MemberChunks(shop_id, chunk)

    def work() -> dict[str, int]:
        members = 0
        while True:
            with uow_factory() as uow:
                bounds = chunks.next(uow.session)
                if bounds is None:
                    return {"members": members}
                if _is_pg(uow.session):
                    repositories.plan_for_chunks(uow.session)
                write(uow.session, bounds[1], bounds[2])
                uow.commit()
            members += bounds[0]

    parts = member_chunks.on_connections(work, member_chunks.workers(uow_factory, connections))
    return member_chunks.summed(parts, ("members",))["members"]


def recompute_shop(
    uow_factory: Callable[[], UnitOfWork],
    shop_id: int,
    *,
    now: datetime,
    chunk: int = CHUNK,
    connections: int = member_chunks.CONNECTIONS,
    predict: bool = True,
) -> dict[str, int]:
    """Every member's scores, `chunk` members per transaction (see the module docstring),
    then their predictions (unless `predict` is false: only for a caller that runs
    predictions.predict_shop itself, as the benchmark does to time it apart); how many
    members there are, how many have scores (a counted order) and predictions."""
    with uow_factory() as uow:
        shop = uow.session.get(Shop, shop_id)
        if shop is None:
            raise ShopNotFound()
        paid = frozenset(x for x in shop.award_statuses.split(",") if x) | PARTLY_REFUNDED
        run = Run(shop_id, now, shop_currency(uow.session, shop_id), paid)
    members = _chunks(
        uow_factory,
        shop_id,
        chunk,
        connections,
        lambda session, lo, hi: _write_aggregates(session, run, lo, hi),
    )
    with uow_factory() as uow:
        cuts = cut_points(uow.session, shop_id)
    _chunks(
        uow_factory,
        shop_id,
        chunk,
        connections,
        lambda session, lo, hi: _write_scores(session, shop_id, cuts, lo, hi),
    )
    logger.info(
        "customer scores computed",
        extra={"shop_id": shop_id, "members": members, "scored": cuts.scored},
    )
    if not predict:
        return {"members": members, "scored": cuts.scored}
    # Predictions are recomputed with the scores, from the inputs just written.
    predicted = predictions.predict_shop(
        uow_factory, shop_id, now=now, currency=run.currency, chunk=chunk, connections=connections
    )["predicted"]
    return {"members": members, "scored": cuts.scored, "predicted": predicted}


def recompute_all(
    uow_factory: Callable[[], UnitOfWork], *, now: datetime, shop_id: int | None = None
) -> dict[int, dict[str, int]]:
    """`recompute_shop` for one shop or every active shop; ShopNotFound for an unknown one."""
    with uow_factory() as uow:
        query = select(Shop.id).order_by(Shop.id)
        query = (
            query.where(Shop.id == shop_id)
            if shop_id is not None
            else query.where(Shop.active.is_(True))
        )
        ids = list(uow.session.scalars(query))
    if shop_id is not None and not ids:
        raise ShopNotFound()
    return {sid: recompute_shop(uow_factory, sid, now=now) for sid in ids}


def run_due(uow_factory: Callable[[], UnitOfWork], *, now: datetime) -> int:
    """The scheduler's share: each active shop once per UTC day (recency moves with the
    calendar, so a daily run is due whether or not orders changed), claimed per shop and
    day across every scheduler; how many shops this call computed."""
    from plugin_server.services.expiry import claim_period

    with uow_factory() as uow:
        ids = list(
            uow.session.scalars(select(Shop.id).where(Shop.active.is_(True)).order_by(Shop.id))
        )
    done = 0
    for shop_id in ids:
        if claim_period(uow_factory(), f"scores:{shop_id}:{now:%Y-%m-%d}", now=now):
            recompute_shop(uow_factory, shop_id, now=now)
            done += 1
    return done


# --- reading -------------------------------------------------------------------------------


def _minor_text(minor: int | None, currency: str | None) -> str | None:
    if minor is None or currency is None:
        return None
    exp = rules.minor_exponent(currency)
    return str(Decimal(minor).scaleb(-exp).quantize(Decimal(1).scaleb(-exp)))


def _decimal_text(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")


def view(row: CustomerScore) -> dict[str, Any]:
    return {
        "computed_at": row.computed_at.isoformat(),
        "segment": row.segment,
        "r_score": row.r_score,
        "f_score": row.f_score,
        "m_score": row.m_score,
        "recency_days": row.recency_days,
        "frequency": row.frequency,
        "monetary": _minor_text(row.monetary_minor, row.currency),
        "monetary_minor": row.monetary_minor,
        "currency": row.currency,
        "tenure_days": row.tenure_days,
        "engagement": {
            "total": row.engagement,
            "activities": row.activities,
            "redemptions": row.redemptions,
            "widget_days": row.widget_days,
        },
        "advocacy": row.advocacy,
        "first_order_at": row.first_order_at.isoformat() if row.first_order_at else None,
        "last_order_at": row.last_order_at.isoformat() if row.last_order_at else None,
        "btyd": {
            "x": row.btyd_x,
            "t_x": row.btyd_t_x,
            "T": row.btyd_t,
            "mean_repeat_value_minor": row.mean_repeat_value_minor,
        },
        "prediction": {
            "status": row.prediction_status,
            "p_alive": _decimal_text(row.p_alive),
            "expected_purchases_30": _decimal_text(row.expected_purchases_30),
            "expected_purchases_90": _decimal_text(row.expected_purchases_90),
            "predicted_clv_minor": row.predicted_clv_minor,
        },
    }


def scores_of(session: Session, shop_id: int, customer_id: int) -> dict[str, Any] | None:
    """The member's scores as last computed; None until the first computation."""
    row = session.get(CustomerScore, (shop_id, customer_id))
    return None if row is None else view(row)


def segment_of(session: Session, shop_id: int, customer_id: int) -> str | None:
    """The member's stored segment (None: not computed yet, or no counted order)."""
    return session.scalar(
        select(CustomerScore.segment).where(
            CustomerScore.shop_id == shop_id, CustomerScore.customer_id == customer_id
        )
    )


def segments_by_ref(uow: UnitOfWork, shop_id: int, refs: list[str]) -> dict[str, str | None]:
    """The stored segment of each of the shop's members named by platform id (None: not
    computed yet, or no counted order)."""
    if not refs:
        return {}
    with uow:
        found: dict[str, str | None] = {
            ref: segment
            for ref, segment in uow.session.execute(
                select(Customer.customer_ref, CustomerScore.segment)
                .join(
                    CustomerScore,
                    and_(
                        CustomerScore.customer_id == Customer.id,
                        CustomerScore.shop_id == shop_id,
                    ),
                )
                .where(Customer.shop_id == shop_id, Customer.customer_ref.in_(refs))
            )
        }
    return {ref: found.get(ref) for ref in refs}


def show(uow: UnitOfWork, shop_id: int, customer_ref: str) -> dict[str, Any]:
    """A member's scores by their platform id; CustomerNotFound otherwise."""
    with uow:
        customer = repositories.customer_by_ref(uow.session, shop_id, customer_ref)
        if customer is None:
            raise CustomerNotFound(f"no customer {customer_ref!r} in this shop")
        return {
            "customer_id": customer.customer_ref,
            "scores": scores_of(uow.session, shop_id, customer.id),
        }


def _share(count: int, total: int) -> str | None:
    if total == 0:
        return None
    return str((Decimal(count) / Decimal(total)).quantize(Decimal("0.0001")))


def segments_overview(uow: UnitOfWork, shop_id: int) -> dict[str, Any]:
    """Every segment with its definition, how many members are in it and their share of
    the scored members."""
    with uow:
        counts: dict[str | None, int] = {
            segment: int(n)
            for segment, n in uow.session.execute(
                select(CustomerScore.segment, func.count())
                .where(CustomerScore.shop_id == shop_id)
                .group_by(CustomerScore.segment)
            )
        }
        computed_at = uow.session.scalar(
            select(func.max(CustomerScore.computed_at)).where(CustomerScore.shop_id == shop_id)
        )
        model = predictions.model_of(uow.session, shop_id)
    unscored = int(counts.pop(None, 0))
    scored = sum(int(n) for n in counts.values())
    return {
        "computed_at": (_as_utc(computed_at).isoformat() if computed_at is not None else None),
        "scored_members": scored,
        "unscored_members": unscored,
        "model": model,
        "segments": [
            {
                "segment": seg.value,
                "definition": rules.DEFINITIONS[seg],
                "count": int(counts.get(seg.value, 0)),
                "share": _share(int(counts.get(seg.value, 0)), scored),
            }
            for seg in rules.Segment
        ],
    }


def _as_utc(value: Any) -> datetime:
    """max() of a UTCDateTime column comes back as the column's type on PostgreSQL and as
    text on SQLite."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def segment_members(
    uow: UnitOfWork, shop_id: int, segment: str, *, limit: int, after: int | None
) -> dict[str, Any]:
    """A page of the segment's members in id order, with the cursor for the next page;
    UnknownSegment for a name that is not a segment."""
    [name] = rules.validate_segments([segment], field="segment")
    with uow:
        query = (
            select(CustomerScore, Customer.customer_ref, Customer.email)
            .join(
                Customer,
                and_(Customer.id == CustomerScore.customer_id, Customer.shop_id == shop_id),
            )
            .where(CustomerScore.shop_id == shop_id, CustomerScore.segment == name)
        )
        if after is not None:
            query = query.where(CustomerScore.customer_id > after)
        rows = uow.session.execute(query.order_by(CustomerScore.customer_id).limit(limit + 1)).all()
        page = rows[:limit]
        members = [
            {"customer_id": ref, "email": email, "scores": view(score)}
            for score, ref, email in page
        ]
        more = str(page[-1][0].customer_id) if len(rows) > limit else None
    return {"segment": name, "members": members, "next_cursor": more}
