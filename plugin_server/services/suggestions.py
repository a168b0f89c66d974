"""Suggestions to the marketer: what the data says is worth doing now, with the evidence
behind it and one action that does it.

Each suggestion has a stable `kind` and `key` (the same for as long as its condition
holds), a title, its evidence (the figures, the members or rewards involved, how they were
computed and over which period) and its actions. Acting calls the same service function as
the JSON API, inside one transaction that first locks the shop row and computes the
suggestion again: an action whose condition no longer holds is refused
(`SuggestionNotApplicable`, 409), so acting twice changes nothing the second time, and a
suggestion whose condition no longer holds is simply not listed.

The kinds:

- `tier_at_risk`: members who will lose their tier within `WINDOW_DAYS` as the qualifying
  window rolls on with no new orders (the tier rules of `plugin_server.domain.tiers`, read at
  the window's end). Campaigns can be limited to customer segments, not to a list of
  members, so the action is a double-points campaign for the window limited to the segments
  those members are in (the evidence says how many of them it reaches, and how many other
  members come along); members without a segment cannot be reached that way. With no
  segment at all among them, the campaign is for every member (the evidence says so).
  The condition includes "no suggested campaign is running" (keys `keep-tier-...`).
- `points_expiring`: members whose points expire within `WINDOW_DAYS` under the shop's
  expiry policy who have not had that reminder yet. The action writes the same
  `points_expiring` reminder the hourly expiry pass writes (same payload, same dedupe key
  for the inactivity policy), which queues the points-expiring email where the shop sends
  it and the outbound webhook where subscribed.
- `unredeemed_reward`: an active fixed-cost reward, its terms unchanged for
  `REWARD_DAYS`, that nobody redeemed in those days while members could afford it. Actions:
  lower its cost by a quarter (rewards service, as PATCH /rewards/{id}) or archive it.
- `earn_rate`: points outstanding grew faster than member revenue: the net points added in
  the last `RATE_DAYS` complete days against the `RATE_DAYS` before, compared with member
  revenue (shop currency, net of refunds) over the same days, from the analytics daily
  aggregates. The action lowers `points_per_unit` in proportion (program service, as PATCH
  /program). Hidden while orders in the measured days earned at another base rate (the
  rate changed inside the period: wait for a full period at the new rate).

- `product_bonus`: a product that sells too little but that loyal members buy: over the
  last `PRODUCT_DAYS` days (order lines), its units are in the bottom third of the shop's
  products sold, while at least `MIN_LOYAL_BUYERS` of its buyers, and at least half of
  them, are in the champions or loyal segments. The action is a double-points campaign on
  that product for `PRODUCT_CAMPAIGN_DAYS` days (earning-rules service, as POST
  /earning-rules); hidden while such a campaign runs.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any, Self

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin_server.db import email_outbox, repositories
from plugin_server.db.models import (
    AnalyticsDay,
    AnalyticsOrderDay,
    Customer,
    CustomerScore,
    EarningRule,
    LedgerEntry,
    LoyaltyEvent,
    MemberTier,
    Order,
    OrderLine,
    Redemption,
    Reward,
    Shop,
    Tier,
)
from plugin_server.db.unit_of_work import UnitOfWork
from plugin_server.domain import emails
from plugin_server.domain import expiry as expiry_rules
from plugin_server.domain import tiers as tier_rules
from plugin_server.domain.errors import (
    ShopNotFound,
    SuggestionNotApplicable,
    SuggestionNotFound,
)
from plugin_server.domain.expiry import ExpiryPolicy
from plugin_server.services import analytics, earning_rules, expiry, program, rewards, tiers

WINDOW_DAYS = 30
REWARD_DAYS = 90
RATE_DAYS = 90
# Liability must outgrow revenue by more than this before lowering the rate is suggested.
RATE_TOLERANCE = Decimal("1.10")
CAMPAIGN_MULTIPLIER = Decimal(2)
CAMPAIGN_KEY_PREFIX = "keep-tier-"
MEMBERS_SHOWN = 50
CHUNK = 1000
RATE_STEP = Decimal("0.0001")

PRODUCT_DAYS = 90
PRODUCT_CAMPAIGN_DAYS = 14
MIN_PRODUCTS = 6  # fewer products sold than this: no "bottom third" worth the name
MIN_LOYAL_BUYERS = 3
LOYAL_SEGMENTS = ("champions", "loyal")
PRODUCT_KEY_PREFIX = "boost-"

TIER_AT_RISK = "tier_at_risk"
POINTS_EXPIRING = "points_expiring"
UNREDEEMED_REWARD = "unredeemed_reward"
EARN_RATE = "earn_rate"
PRODUCT_BONUS = "product_bonus"
KINDS = (TIER_AT_RISK, POINTS_EXPIRING, UNREDEEMED_REWARD, EARN_RATE, PRODUCT_BONUS)
WINDOW_KEY = f"{WINDOW_DAYS}d"
RATE_KEY = "points_per_unit"


@dataclass(frozen=True, slots=True)
class Action:
    name: str
    description: str
    service: str  # the service function (and the API endpoint) it goes through
    changes: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Suggestion:
    kind: str
    key: str
    title: str
    method: str  # how the evidence was computed
    period_from: datetime | None
    period_to: datetime | None
    figures: dict[str, Any]
    members: list[dict[str, Any]] = field(default_factory=list)
    members_total: int = 0
    rewards: list[dict[str, Any]] = field(default_factory=list)
    actions: tuple[Action, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "key": self.key,
            "title": self.title,
            "evidence": {
                "method": self.method,
                "period_from": self.period_from.isoformat() if self.period_from else None,
                "period_to": self.period_to.isoformat() if self.period_to else None,
                "figures": self.figures,
                "members": self.members,
                "members_total": self.members_total,
                "rewards": self.rewards,
            },
            "actions": [
                {
                    "name": a.name,
                    "description": a.description,
                    "service": a.service,
                    "changes": a.changes,
                }
                for a in self.actions
            ],
        }


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _chunks(ids: Sequence[int]) -> list[Sequence[int]]:
    return [ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK)]


def _refs(session: Session, shop_id: int, ids: Sequence[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for part in _chunks(ids):
        out.update(
            (int(cid), str(ref))
            for cid, ref in session.execute(
                select(Customer.id, Customer.customer_ref).where(
                    Customer.shop_id == shop_id, Customer.id.in_(part)
                )
            )
        )
    return out


# --- a. members about to lose their tier ----------------------------------------------------


def _tier_at_risk(session: Session, shop: Shop, now: datetime) -> Suggestion | None:
    downgrade = tier_rules.Downgrade(shop.tier_downgrade)
    if downgrade is tier_rules.Downgrade.NEVER:
        return None  # nobody ever loses a tier
    running = session.scalar(
        select(func.count()).where(
            EarningRule.shop_id == shop.id,
            EarningRule.key.startswith(CAMPAIGN_KEY_PREFIX),
            EarningRule.archived_at.is_(None),
            EarningRule.ends_at > now,
        )
    )
    if running:
        return None
    by_id = {t.id: t for t in tiers.active_tiers(session, shop.id)}
    if not by_id:
        return None
    held = list(
        session.scalars(
            select(MemberTier)
            .where(MemberTier.shop_id == shop.id, MemberTier.tier_id.in_(list(by_id)))
            .order_by(MemberTier.customer_id)
        )
    )
    q = tiers.Qualifying.of(shop)
    period = tier_rules.TierPeriod(shop.tier_period)
    later = now + timedelta(days=WINDOW_DAYS)
    levels = [tier_rules.TierLevel(t.id, t.threshold) for t in by_id.values()]
    at_risk: list[tuple[MemberTier, Decimal, Decimal, tier_rules.TierLevel | None]] = []
    for part in _chunks([m.customer_id for m in held]):
        now_values = tiers.measure_values(session, q, part, now=now)
        later_values = tiers.measure_values(session, q, part, now=later)
        for m in held:
            if m.customer_id not in later_values:
                continue
            assert m.tier_id is not None
            tier = by_id[m.tier_id]
            value = later_values[m.customer_id]
            new = tier_rules.next_tier(
                tier_rules.TierLevel(tier.id, tier.threshold),
                m.reached_at,
                tier_rules.qualifying_tier(value, levels),
                downgrade=downgrade,
                period=period,
                now=later,
            )
            if new is None or new.threshold < tier.threshold:
                at_risk.append((m, now_values[m.customer_id], value, new))
    if not at_risk:
        return None
    ids = [m.customer_id for m, *_ in at_risk]
    refs = _refs(session, shop.id, ids)
    segment_of: dict[int, str] = {}
    for part in _chunks(ids):
        segment_of.update(
            (cid, seg)
            for cid, seg in session.execute(
                select(CustomerScore.customer_id, CustomerScore.segment).where(
                    CustomerScore.shop_id == shop.id,
                    CustomerScore.customer_id.in_(part),
                    CustomerScore.segment.is_not(None),
                )
            )
            if seg is not None
        )
    segments = sorted(set(segment_of.values()))
    if segments:
        reached_in_segments = int(
            session.scalar(
                select(func.count()).where(
                    CustomerScore.shop_id == shop.id, CustomerScore.segment.in_(segments)
                )
            )
            or 0
        )
    else:
        reached_in_segments = int(
            session.scalar(select(func.count()).where(Customer.shop_id == shop.id)) or 0
        )
    reached = len(segment_of) if segments else len(ids)
    members = [
        {
            "customer_id": refs.get(m.customer_id, ""),
            "tier": by_id[m.tier_id].name if m.tier_id in by_id else "",
            "threshold": _plain(by_id[m.tier_id].threshold) if m.tier_id in by_id else "",
            "value_now": _plain(value_now),
            "value_at_window_end": _plain(value_later),
            "short_by": _plain(by_id[m.tier_id].threshold - value_later)
            if m.tier_id in by_id
            else "",
            "tier_after": by_id[new.id].name if new is not None else None,
            "segment": segment_of.get(m.customer_id),
        }
        for m, value_now, value_later, new in at_risk[:MEMBERS_SHOWN]
    ]
    changes = {
        "kind": "bonus",
        "key": f"{CAMPAIGN_KEY_PREFIX}{now:%Y%m%d%H%M%S}",
        "name": "Keep your tier: double points",
        "multiplier": _plain(CAMPAIGN_MULTIPLIER),
        "starts_at": now.isoformat(),
        "ends_at": later.isoformat(),
        "segments": segments,
    }
    return Suggestion(
        kind=TIER_AT_RISK,
        key=WINDOW_KEY,
        title=f"{len(ids)} members will lose their tier within {WINDOW_DAYS} days",
        method=(
            f"Each member's qualifying {q.measure.value} over the {q.period.value} period, "
            f"now and at the end of the next {WINDOW_DAYS} days with no new orders, against "
            f"the tier rules (downgrade: {downgrade.value}); listed when the tier they would "
            "hold then is lower than the one they hold now."
        ),
        period_from=now,
        period_to=later,
        figures={
            "members_at_risk": len(ids),
            "measure": q.measure.value,
            "period": q.period.value,
            "downgrade": downgrade.value,
            "segments": ", ".join(segments),
            "members_reached": reached,
            "members_unreachable": len(ids) - reached,
            "campaign_audience": reached_in_segments,
        },
        members=members,
        members_total=len(ids),
        actions=(
            Action(
                "create_campaign",
                (
                    f"Double points on orders for the next {WINDOW_DAYS} days for members in "
                    + (f"the segments {', '.join(segments)}" if segments else "every segment")
                    + ": campaigns target segments, not lists of members."
                ),
                "earning_rules.create_rule (POST /api/v1/earning-rules)",
                changes,
            ),
        ),
    )


# --- b. points expiring ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Reminder:
    customer_id: int
    points: int
    expires_at: datetime
    key: str


def _due_reminders(session: Session, shop: Shop, now: datetime) -> list[_Reminder]:
    policy = ExpiryPolicy(shop.expiry_policy)
    if policy is ExpiryPolicy.NEVER:
        return []
    totals = expiry.member_totals(
        session, shop, (0, 2**62), now=now, id_range=True, reminder_days=WINDOW_DAYS
    )
    found: list[_Reminder] = []
    for t in totals:
        plan = expiry.plan_member(
            t, policy, months=shop.expiry_months, reminder_days=WINDOW_DAYS, now=now
        )
        if plan.reminder is not None and plan.reminder_key is not None:
            found.append(
                _Reminder(
                    t.customer_id, plan.reminder.points, plan.reminder.expires_at, plan.reminder_key
                )
            )
    sent: set[str] = set()
    for start in range(0, len(found), CHUNK):
        keys = [r.key for r in found[start : start + CHUNK]]
        sent.update(
            session.scalars(
                select(LoyaltyEvent.dedupe_key).where(
                    LoyaltyEvent.shop_id == shop.id, LoyaltyEvent.dedupe_key.in_(keys)
                )
            )
        )
    return sorted(
        (r for r in found if r.key not in sent), key=lambda r: (r.expires_at, r.customer_id)
    )


def _points_expiring(session: Session, shop: Shop, now: datetime) -> Suggestion | None:
    due = _due_reminders(session, shop, now)
    if not due:
        return None
    refs = _refs(session, shop.id, [r.customer_id for r in due[:MEMBERS_SHOWN]])
    emailing = emails.EmailType.POINTS_EXPIRING.value in email_outbox.enabled_types(
        session, shop.id
    )
    return Suggestion(
        kind=POINTS_EXPIRING,
        key=WINDOW_KEY,
        title=f"{len(due)} members have points expiring within {WINDOW_DAYS} days",
        method=(
            f"The shop's expiry policy ({shop.expiry_policy}, {shop.expiry_months} months) "
            f"applied to each member's ledger as the hourly expiry pass does, looking "
            f"{WINDOW_DAYS} days ahead; members already sent this reminder are left out."
        ),
        period_from=now,
        period_to=now + timedelta(days=WINDOW_DAYS),
        figures={
            "members": len(due),
            "points": sum(r.points for r in due),
            "first_expiry": due[0].expires_at.isoformat(),
            "policy": shop.expiry_policy,
            "email_enabled": emailing,
        },
        members=[
            {
                "customer_id": refs.get(r.customer_id, ""),
                "points": r.points,
                "expires_at": r.expires_at.isoformat(),
            }
            for r in due[:MEMBERS_SHOWN]
        ],
        members_total=len(due),
        actions=(
            Action(
                "send_reminders",
                "Send each of them the points-expiring reminder now"
                + ("" if emailing else " (the email is switched off: only the event is recorded)"),
                "loyalty event points_expiring -> email outbox (as the expiry pass)",
                {"members": len(due)},
            ),
        ),
    )


def _send_reminders(session: Session, shop: Shop, now: datetime) -> dict[str, Any]:
    due = _due_reminders(session, shop, now)
    repositories.lock_members(session, shop.id, sorted(r.customer_id for r in due))
    rows = [
        expiry.reminder_row(
            shop.id, r.customer_id, expiry_rules.Upcoming(r.points, r.expires_at), r.key, now
        )
        for r in due
    ]
    written = repositories.insert_many_ignoring_conflict(
        session, LoyaltyEvent, rows, ("shop_id", "dedupe_key")
    )
    return {"reminders": written, "points": sum(r.points for r in due)}


# --- c. rewards nobody redeems --------------------------------------------------------------


def _proposed_cost(cost: int) -> int:
    """A quarter off, rounded down to a multiple of 10 from 100 points up; at least 1."""
    lower = cost * 3 // 4
    if lower >= 100:
        lower -= lower % 10
    return max(1, lower)


def _unredeemed_rewards(
    session: Session, shop: Shop, now: datetime, *, only: int | None = None
) -> list[Suggestion]:
    since = now - timedelta(days=REWARD_DAYS)
    query = select(Reward).where(
        Reward.shop_id == shop.id,
        Reward.archived_at.is_(None),
        Reward.points_cost.is_not(None),
        Reward.points_cost > 1,
        Reward.updated_at <= since,
    )
    if only is not None:
        query = query.where(Reward.id == only)
    candidates = list(session.scalars(query.order_by(Reward.id)))
    if not candidates:
        return []
    redeemed = set(
        session.scalars(
            select(Redemption.reward_id).where(
                Redemption.shop_id == shop.id,
                Redemption.reward_id.in_([r.id for r in candidates]),
                Redemption.created_at >= since,
                Redemption.status != "failed",
            )
        )
    )
    idle = [r for r in candidates if r.id not in redeemed]
    if not idle:
        return []
    spendable = repositories.balance_columns(now)[0]
    cheapest = min(int(r.points_cost or 0) for r in idle)
    balances: dict[int, int] = {
        int(cid): int(points)
        for cid, points in session.execute(
            select(LedgerEntry.customer_id, spendable)
            .where(LedgerEntry.shop_id == shop.id)
            .group_by(LedgerEntry.customer_id)
            .having(spendable >= cheapest)
        )
    }
    thresholds = {
        t.id: t.threshold for t in session.scalars(select(Tier).where(Tier.shop_id == shop.id))
    }
    held: dict[int, Decimal] = {}
    if any(r.min_tier_id is not None for r in idle):
        for cid, tier_id in session.execute(
            select(MemberTier.customer_id, MemberTier.tier_id).where(
                MemberTier.shop_id == shop.id, MemberTier.tier_id.is_not(None)
            )
        ):
            if tier_id in thresholds:
                held[cid] = thresholds[tier_id]
    out = []
    for r in idle:
        cost = int(r.points_cost or 0)
        need = thresholds.get(r.min_tier_id) if r.min_tier_id is not None else None
        able = sorted(
            cid
            for cid, points in balances.items()
            if int(points) >= cost and (need is None or held.get(cid, Decimal(-1)) >= need)
        )
        if not able:
            continue
        proposed = _proposed_cost(cost)
        out.append(
            Suggestion(
                kind=UNREDEEMED_REWARD,
                key=str(r.id),
                title=f"Nobody redeemed {r.name!r} in {REWARD_DAYS} days",
                method=(
                    f"Redemptions of this reward (any but failed ones) since {since.date()}, "
                    "its terms unchanged since then; members who could afford it: spendable "
                    "points now at least its cost"
                    + (" and a tier at or above its minimum tier." if need is not None else ".")
                ),
                period_from=since,
                period_to=now,
                figures={
                    "redemptions": 0,
                    "points_cost": cost,
                    "members_able": len(able),
                    "proposed_cost": proposed,
                },
                members_total=len(able),
                rewards=[{"id": r.id, "name": r.name, "kind": r.kind, "points_cost": cost}],
                actions=(
                    Action(
                        "lower_cost",
                        f"Lower its cost from {cost} to {proposed} points (a quarter off)",
                        "rewards.update_reward (PATCH /api/v1/rewards/{id})",
                        {"points_cost": proposed},
                    ),
                    Action(
                        "archive",
                        "Archive it: shoppers no longer see it",
                        "rewards.archive_reward (POST /api/v1/rewards/{id}/archive)",
                        {},
                    ),
                ),
            )
        )
    return out


# --- d. the earn rate -----------------------------------------------------------------------


def _start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _net_points(session: Session, shop_id: int, first: date, end: date) -> int:
    d = AnalyticsDay
    return int(
        session.scalar(
            select(func.coalesce(func.sum(d.points_net), 0)).where(
                d.shop_id == shop_id, d.day >= first, d.day < end
            )
        )
        or 0
    )


def _revenue_micros(session: Session, shop_id: int, currency: str, first: date, end: date) -> int:
    o = AnalyticsOrderDay
    return int(
        session.scalar(
            select(func.coalesce(func.sum(o.gross_micros - o.refunded_micros), 0)).where(
                o.shop_id == shop_id,
                o.member.is_(True),
                o.currency == currency,
                o.day >= first,
                o.day < end,
            )
        )
        or 0
    )


def _currency(session: Session, shop_id: int, first: date, end: date) -> str | None:
    value = analytics.point_value(session, shop_id)
    if value is not None:
        return value[1]
    o = AnalyticsOrderDay
    top = session.execute(
        select(o.currency)
        .where(o.shop_id == shop_id, o.member.is_(True), o.day >= first, o.day < end)
        .group_by(o.currency)
        .order_by(func.sum(o.orders).desc(), o.currency)
        .limit(1)
    ).first()
    return None if top is None else str(top[0])


def _rate_changed_since(session: Session, shop: Shop, since: datetime) -> bool:
    """Whether an order paid since `since` earned at a base rate other than today's (its
    stored rate is the base rate times the member's tier multiplier)."""
    multipliers = {Decimal(1)} | {
        Decimal(str(m))
        for m in session.scalars(
            select(Tier.multiplier).where(Tier.shop_id == shop.id, Tier.archived_at.is_(None))
        )
    }
    allowed = {(Decimal(str(shop.points_per_unit)) * m).normalize() for m in multipliers}
    rates = session.scalars(
        select(Order.earning_rate)
        .where(
            Order.shop_id == shop.id,
            Order.paid_at >= since,
            Order.earned_points.is_not(None),
            Order.earning_rate.is_not(None),
        )
        .distinct()
    )
    return any(Decimal(str(r)).normalize() not in allowed for r in rates)


def _earn_rate(session: Session, shop: Shop, now: datetime) -> Suggestion | None:
    complete = analytics.complete_before(session, shop.id)
    if complete is None:
        return None
    end = min(complete, now.date())
    mid = end - timedelta(days=RATE_DAYS)
    first = mid - timedelta(days=RATE_DAYS)
    currency = _currency(session, shop.id, first, end)
    if currency is None:
        return None
    net_before, net_last = (
        _net_points(session, shop.id, first, mid),
        _net_points(session, shop.id, mid, end),
    )
    rev_before, rev_last = (
        _revenue_micros(session, shop.id, currency, first, mid),
        _revenue_micros(session, shop.id, currency, mid, end),
    )
    if min(net_before, net_last, rev_before, rev_last) <= 0:
        return None
    points_growth = Decimal(net_last) / Decimal(net_before)
    revenue_growth = Decimal(rev_last) / Decimal(rev_before)
    if points_growth <= revenue_growth * RATE_TOLERANCE:
        return None
    rate = Decimal(str(shop.points_per_unit))
    proposed = max(
        RATE_STEP, (rate * revenue_growth / points_growth).quantize(RATE_STEP, ROUND_DOWN)
    )
    if proposed >= rate or _rate_changed_since(session, shop, _start(first)):
        return None
    micros = Decimal(analytics.MICROS)
    return Suggestion(
        kind=EARN_RATE,
        key=RATE_KEY,
        title="Points outstanding grow faster than member revenue",
        method=(
            "From the analytics daily aggregates (complete UTC days): the net points added "
            "(issued less reversed, redeemed and expired) and member revenue (paid orders of "
            f"members in {currency}, less refunds) over the last {RATE_DAYS} days against the "
            f"{RATE_DAYS} days before. Proposed rate = current rate x revenue growth / points "
            "growth, rounded down to 4 decimals, so points grow with revenue again."
        ),
        period_from=_start(first),
        period_to=_start(end),
        figures={
            "points_added_before": net_before,
            "points_added_last": net_last,
            "revenue_before": f"{Decimal(rev_before) / micros:.2f}",
            "revenue_last": f"{Decimal(rev_last) / micros:.2f}",
            "currency": currency,
            "points_growth": f"{points_growth:.4f}",
            "revenue_growth": f"{revenue_growth:.4f}",
            "points_per_unit": _plain(rate),
            "proposed_points_per_unit": _plain(proposed),
        },
        actions=(
            Action(
                "lower_earn_rate",
                f"Lower the earn rate from {_plain(rate)} to {_plain(proposed)} points per unit",
                "program.update_program (PATCH /api/v1/program)",
                {"points_per_unit": _plain(proposed)},
            ),
        ),
    )


# --- e. products that sell too little but loyal members buy ------------------------------


def _safe_key(product_ref: str) -> str:
    """A suggestion key fit for a URL path segment (a Shopify gid has slashes)."""
    if re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", product_ref):
        return product_ref
    return "p" + hashlib.sha256(product_ref.encode()).hexdigest()[:16]


def _boosted_products(session: Session, shop_id: int, now: datetime) -> set[str]:
    """Products named by a bonus campaign running now (ours or the merchant's own)."""
    found: set[str] = set()
    for text in session.scalars(
        select(EarningRule.product_ids).where(
            EarningRule.shop_id == shop_id,
            EarningRule.kind == "bonus",
            EarningRule.archived_at.is_(None),
            EarningRule.ends_at > now,
            EarningRule.product_ids.is_not(None),
        )
    ):
        found.update(str(p) for p in json.loads(text or "[]"))
    return found


def _product_bonus(
    session: Session, shop: Shop, now: datetime, *, only: str | None = None
) -> list[Suggestion]:
    since = now - timedelta(days=PRODUCT_DAYS)
    in_period = (
        OrderLine.shop_id == shop.id,
        OrderLine.ordered_at >= since,
        OrderLine.ordered_at < now,
    )
    sold = session.execute(
        select(
            OrderLine.product_ref,
            func.max(OrderLine.title),
            func.sum(OrderLine.quantity),
            func.count(func.distinct(OrderLine.customer_id)),
        )
        .where(*in_period)
        .group_by(OrderLine.product_ref)
    ).all()
    if len(sold) < MIN_PRODUCTS:
        return []
    units = sorted(int(row[2] or 0) for row in sold)
    # The bottom third: at most the units of the product a third of the way up.
    ceiling = units[len(units) // 3 - 1] if len(units) >= 3 else units[0]
    loyal = dict(
        session.execute(
            select(OrderLine.product_ref, func.count(func.distinct(OrderLine.customer_id)))
            .join(
                CustomerScore,
                (CustomerScore.shop_id == OrderLine.shop_id)
                & (CustomerScore.customer_id == OrderLine.customer_id),
            )
            .where(*in_period, CustomerScore.segment.in_(LOYAL_SEGMENTS))
            .group_by(OrderLine.product_ref)
        ).all()
    )
    boosted = _boosted_products(session, shop.id, now)
    found: list[Suggestion] = []
    for product_ref, title, sold_units, buyers in sorted(sold, key=lambda r: str(r[0])):
        key = _safe_key(str(product_ref))
        if only is not None and key != only:
            continue
        loyal_buyers = int(loyal.get(product_ref, 0))
        buyers = int(buyers or 0)
        if (
            int(sold_units or 0) > ceiling
            or loyal_buyers < MIN_LOYAL_BUYERS
            or loyal_buyers * 2 < buyers
            or str(product_ref) in boosted
        ):
            continue
        rank = 1 + sum(1 for u in units if u < int(sold_units or 0))
        name = f"Double points on {title}"[:100]
        changes = {
            "kind": "bonus",
            "key": f"{PRODUCT_KEY_PREFIX}{key}-{now:%Y%m%d%H%M%S}"[:64],
            "name": name,
            "multiplier": _plain(CAMPAIGN_MULTIPLIER),
            "product_ids": [str(product_ref)],
            "starts_at": now.isoformat(),
            "ends_at": (now + timedelta(days=PRODUCT_CAMPAIGN_DAYS)).isoformat(),
        }
        found.append(
            Suggestion(
                kind=PRODUCT_BONUS,
                key=key,
                title=f"{title}: few sales, but loyal members buy it",
                method=(
                    f"Units sold per product over the last {PRODUCT_DAYS} days (paid orders' "
                    f"lines); this one is in the bottom third ({rank} of {len(units)} from the "
                    f"bottom), and {loyal_buyers} of its {buyers} buyers are in the champions "
                    "or loyal segments."
                ),
                period_from=since,
                period_to=now,
                figures={
                    "product": str(product_ref),
                    "product_title": str(title),
                    "units_sold": int(sold_units or 0),
                    "rank_from_bottom": rank,
                    "products_sold": len(units),
                    "buyers": buyers,
                    "loyal_buyers": loyal_buyers,
                },
                actions=(
                    Action(
                        "boost_product",
                        f"Double points on {title} for the next {PRODUCT_CAMPAIGN_DAYS} days.",
                        "earning_rules.create_rule (POST /api/v1/earning-rules)",
                        changes,
                    ),
                ),
            )
        )
    return found


# --- listing and acting ---------------------------------------------------------------------


def compute(session: Session, shop: Shop, *, now: datetime) -> list[Suggestion]:
    """Every suggestion that holds for the shop now, in the order of `KINDS`."""
    found: list[Suggestion] = []
    for one in (_tier_at_risk, _points_expiring):
        s = one(session, shop, now)
        if s is not None:
            found.append(s)
    found.extend(_unredeemed_rewards(session, shop, now))
    rate = _earn_rate(session, shop, now)
    if rate is not None:
        found.append(rate)
    found.extend(_product_bonus(session, shop, now))
    return found


def list_suggestions(uow: UnitOfWork, shop_id: int, *, now: datetime) -> list[dict[str, Any]]:
    """The shop's suggestions now, each with its evidence and actions (read only)."""
    with uow:
        shop = uow.session.get(Shop, shop_id)
        if shop is None:
            raise ShopNotFound()
        return [s.as_dict() for s in compute(uow.session, shop, now=now)]


class _Joined(UnitOfWork):
    """The caller's transaction lent to a service function: its `with` and `commit()` do
    nothing, so the service's writes commit (or roll back) with the caller's."""

    def __init__(self, outer: UnitOfWork) -> None:
        self._outer = outer

    @property
    def session(self) -> Session:
        return self._outer.session

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def commit(self) -> None:
        self._outer.session.flush()

    def after_commit(self, fn: Callable[[], None]) -> None:
        self._outer.after_commit(fn)


def _current(session: Session, shop: Shop, kind: str, key: str, now: datetime) -> Suggestion:
    """The suggestion (kind, key) as it holds now: SuggestionNotFound for a kind or key that
    cannot exist in this shop, SuggestionNotApplicable when its condition no longer holds."""
    found: Suggestion | None = None
    if kind in (TIER_AT_RISK, POINTS_EXPIRING):
        if key != WINDOW_KEY:
            raise SuggestionNotFound(f"no suggestion {kind}/{key}")
        found = (_tier_at_risk if kind == TIER_AT_RISK else _points_expiring)(session, shop, now)
    elif kind == UNREDEEMED_REWARD:
        reward_id = int(key) if key.isdigit() and len(key) < 19 else None
        if (
            reward_id is None
            or session.scalar(
                select(Reward.id).where(Reward.shop_id == shop.id, Reward.id == reward_id)
            )
            is None
        ):
            raise SuggestionNotFound(f"no suggestion {kind}/{key}")
        listed = _unredeemed_rewards(session, shop, now, only=reward_id)
        found = listed[0] if listed else None
    elif kind == EARN_RATE:
        if key != RATE_KEY:
            raise SuggestionNotFound(f"no suggestion {kind}/{key}")
        found = _earn_rate(session, shop, now)
    elif kind == PRODUCT_BONUS:
        listed = _product_bonus(session, shop, now, only=key)
        if not listed:
            sold = session.scalar(
                select(func.count()).where(
                    OrderLine.shop_id == shop.id, OrderLine.product_ref == key
                )
            )
            if not sold and not key.startswith("p"):
                raise SuggestionNotFound(f"no suggestion {kind}/{key}")
        found = listed[0] if listed else None
    else:
        raise SuggestionNotFound(f"no suggestion kind {kind!r}")
    if found is None:
        raise SuggestionNotApplicable(f"suggestion {kind}/{key} no longer applies")
    return found


def apply(
    uow: UnitOfWork, shop_id: int, kind: str, key: str, action: str, *, now: datetime
) -> dict[str, Any]:
    """Do one action of a suggestion, in one transaction: the shop row is locked (acting
    twice at once runs one after the other), the suggestion computed again, and the action
    taken through the API's own service function. SuggestionNotFound (unknown kind, key or
    action), SuggestionNotApplicable (its condition no longer holds: already done), or
    the service's own errors."""
    with uow:
        session = uow.session
        shop = session.get(Shop, shop_id, with_for_update=True)
        if shop is None:
            raise ShopNotFound()
        suggestion = _current(session, shop, kind, key, now)
        chosen = next((a for a in suggestion.actions if a.name == action), None)
        if chosen is None:
            raise SuggestionNotFound(f"suggestion {kind}/{key} has no action {action!r}")
        joined = _Joined(uow)
        result: dict[str, Any]
        if chosen.name == "create_campaign":
            body = {
                **chosen.changes,
                "starts_at": now,
                "ends_at": now + timedelta(days=WINDOW_DAYS),
            }
            result, _ = earning_rules.create_rule(joined, shop_id, body, now=now)
        elif chosen.name == "boost_product":
            body = {
                **chosen.changes,
                "starts_at": now,
                "ends_at": now + timedelta(days=PRODUCT_CAMPAIGN_DAYS),
            }
            result, _ = earning_rules.create_rule(joined, shop_id, body, now=now)
        elif chosen.name == "send_reminders":
            result = _send_reminders(session, shop, now)
        elif chosen.name == "lower_cost":
            result = rewards.update_reward(joined, shop_id, int(key), chosen.changes, now=now)
        elif chosen.name == "archive":
            result = rewards.archive_reward(joined, shop_id, int(key), now=now)
        else:
            result = program.update_program(joined, shop_id, chosen.changes, now=now)
        out = {"kind": kind, "key": key, "action": action, "result": result}
        uow.commit()
    return out
