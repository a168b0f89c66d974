"""Expiring points on each shop's policy (see `plugin_server.domain.expiry`).

The scheduler calls `run_due` every tick; it works at most once an hour across every
scheduler process (a `periodic_runs` claim). Members are taken in chunks, each chunk one
transaction: their rows are locked (redemptions lock the same rows), their totals come from
one aggregate query, and the expiry entries and reminders are inserted in bulk. Every
entry's idempotency key is the member's cumulative expired total after it, so two runs at
once, a repeated run or a late one can never expire the same points twice.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    and_,
    bindparam,
    case,
    delete,
    func,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.orm import Session

from plugin_server.db import repositories
from plugin_server.db.models import LedgerEntry, LoyaltyEvent, Order, PeriodicRun, Shop
from plugin_server.db.types import UTCDateTime
from plugin_server.db.unit_of_work import UnitOfWork
from plugin_server.domain import expiry
from plugin_server.domain.expiry import ExpiryPolicy
from plugin_server.domain.ledger import EntryKind

logger = logging.getLogger(__name__)

CHUNK = 5000
EXPIRING_EVENT = "points_expiring"
_ORDER_KINDS = (EntryKind.EARN_ORDER.value, EntryKind.REVERSE_ORDER.value)
_CREDIT = or_(
    LedgerEntry.kind.in_(
        [
            *_ORDER_KINDS,
            EntryKind.REFERRAL_BONUS.value,
            EntryKind.RULE_BONUS.value,
            EntryKind.TIER_BONUS.value,
            EntryKind.REDEEM_REFUND.value,
        ]
    ),
    and_(LedgerEntry.kind == EntryKind.ADJUSTMENT.value, LedgerEntry.points > 0),
)
_SPEND = or_(
    LedgerEntry.kind == EntryKind.REDEEM.value,
    and_(LedgerEntry.kind == EntryKind.ADJUSTMENT.value, LedgerEntry.points < 0),
)
# Earning or redeeming keeps a member active; a refund or an expiry does not.
_ACTIVITY = LedgerEntry.kind.in_(
    [
        EntryKind.EARN_ORDER.value,
        EntryKind.REDEEM.value,
        EntryKind.ADJUSTMENT.value,
        EntryKind.REFERRAL_BONUS.value,
        EntryKind.RULE_BONUS.value,
    ]
)
# An order's points form one batch from when the order's points became due, reversals
# included, so a refund takes from its own order's batch rather than from the oldest.
_BATCH_TIME = case(
    (
        LedgerEntry.kind.in_(_ORDER_KINDS),
        func.coalesce(Order.earn_available_at, LedgerEntry.available_at),
    ),
    else_=LedgerEntry.available_at,
)


@dataclass(frozen=True, slots=True)
class MemberTotals:
    customer_id: int
    due: int  # credits of batches due by the cutoff
    due_soon: int  # ... and by the reminder cutoff
    next_batch_at: datetime | None  # the first batch due between the two cutoffs
    spent: int
    expired: int
    spendable: int
    last_activity_at: datetime | None


@dataclass
class ExpiryRun:
    shops: int = 0
    members_checked: int = 0
    members_expired: int = 0
    points_expired: int = 0
    reminders: int = 0
    by_shop: dict[int, dict[str, int]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "shops": self.shops,
            "members_checked": self.members_checked,
            "members_expired": self.members_expired,
            "points_expired": self.points_expired,
            "reminders": self.reminders,
        }


def _totals_query(
    shop_id: int,
    customer_ids: Sequence[int] | tuple[int, int],
    *,
    now: datetime,
    cutoff: datetime,
    soon: datetime,
    id_range: bool = False,
) -> Select[Any]:
    spendable = repositories.balance_columns(now)[0]
    points = LedgerEntry.points
    return (
        select(
            LedgerEntry.customer_id,
            func.coalesce(
                func.sum(case((and_(_CREDIT, cutoff >= _BATCH_TIME), points), else_=0)), 0
            ),
            func.coalesce(func.sum(case((and_(_CREDIT, soon >= _BATCH_TIME), points), else_=0)), 0),
            type_coerce(
                func.min(
                    case(
                        (
                            and_(_CREDIT, points > 0, cutoff < _BATCH_TIME, soon >= _BATCH_TIME),
                            _BATCH_TIME,
                        ),
                        else_=None,
                    )
                ),
                UTCDateTime(),
            ),
            -func.coalesce(func.sum(case((_SPEND, points), else_=0)), 0),
            -func.coalesce(
                func.sum(case((LedgerEntry.kind == EntryKind.EXPIRY.value, points), else_=0)), 0
            ),
            spendable,
            type_coerce(
                func.max(case((_ACTIVITY, LedgerEntry.created_at), else_=None)), UTCDateTime()
            ),
        )
        .select_from(LedgerEntry)
        .outerjoin(Order, Order.id == LedgerEntry.order_id)
        .where(
            LedgerEntry.shop_id == shop_id,
            # A range reads the (shop, customer) index in order, with no long IN list.
            LedgerEntry.customer_id.between(*customer_ids)
            if id_range
            else LedgerEntry.customer_id.in_(customer_ids),
        )
        .group_by(LedgerEntry.customer_id)
    )


def member_totals(
    session: Session,
    shop: Shop,
    customer_ids: Sequence[int] | tuple[int, int],
    *,
    now: datetime,
    id_range: bool = False,
) -> list[MemberTotals]:
    """Each member's expiry totals under the shop's policy, from one aggregate query: of
    the members in `customer_ids`, or with an id from `customer_ids[0]` to
    `customer_ids[1]` when `id_range`."""
    cutoff = expiry.months_before(now, shop.expiry_months)
    soon = expiry.months_before(now + timedelta(days=shop.expiry_reminder_days), shop.expiry_months)
    rows = session.execute(
        _totals_query(shop.id, customer_ids, now=now, cutoff=cutoff, soon=soon, id_range=id_range)
    )
    return [
        MemberTotals(int(r[0]), int(r[1]), int(r[2]), r[3], int(r[4]), int(r[5]), int(r[6]), r[7])
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class MemberPlan:
    expire: int
    expired_after: int
    reminder: expiry.Upcoming | None
    reminder_key: str | None

    @property
    def writes(self) -> bool:
        return self.expire > 0 or self.reminder_key is not None


def plan_member(
    t: MemberTotals, policy: ExpiryPolicy, *, months: int, reminder_days: int, now: datetime
) -> MemberPlan:
    """What to write for one member now: an expiry of how many points, and a reminder."""
    expire, reminder, key = 0, None, None
    if policy is ExpiryPolicy.BATCH:
        target = max(0, t.due - t.spent)
        expire = expiry.to_expire(target, t.expired, t.spendable)
        if reminder_days and t.next_batch_at is not None:
            future = max(0, t.due_soon - t.spent)
            upcoming = min(future - max(target, t.expired + expire), t.spendable - expire)
            if upcoming > 0:
                reminder = expiry.Upcoming(upcoming, expiry.months_after(t.next_batch_at, months))
                key = f"{EXPIRING_EVENT}:{t.customer_id}:{future}"
    elif policy is ExpiryPolicy.INACTIVITY and t.last_activity_at is not None:
        expires_at = expiry.months_after(t.last_activity_at, months)
        if expires_at <= now:
            expire = max(0, t.spendable)
        elif (
            reminder_days and expires_at <= now + timedelta(days=reminder_days) and t.spendable > 0
        ):
            reminder = expiry.Upcoming(t.spendable, expires_at)
            key = f"{EXPIRING_EVENT}:{t.customer_id}:inactive:{t.last_activity_at.isoformat()}"
    return MemberPlan(expire, t.expired + expire, reminder, key)


def expire_shop(
    uow_factory: Callable[[], UnitOfWork],
    shop_id: int,
    *,
    now: datetime,
    chunk: int = CHUNK,
    dry_run: bool = False,
) -> dict[str, int]:
    """Expire what is due in one shop, `chunk` members per transaction."""
    counts = {"members_checked": 0, "members_expired": 0, "points_expired": 0, "reminders": 0}
    after = 0
    while True:
        with uow_factory() as uow:
            session = uow.session
            shop = session.get(Shop, shop_id)
            if shop is None or shop.expiry_policy == ExpiryPolicy.NEVER.value:
                return counts
            ids = repositories.member_ids_after(session, shop_id, after, chunk)
            if not ids:
                return counts
            after = ids[-1]
            counts["members_checked"] += len(ids)
            totals = member_totals(session, shop, (ids[0], ids[-1]), now=now, id_range=True)
            due = sorted(t.customer_id for t, plan in _plans(shop, totals, now) if plan.writes)
            if not due:
                continue  # most chunks on most runs: read, nothing to write, no locks taken
            # Lock only the members something will be written for (the row a redemption or
            # an adjustment locks too), then read them again under the lock: a spend that
            # committed in between is counted, and none can start until we commit.
            repositories.lock_members(session, shop_id, due)
            policy = ExpiryPolicy(shop.expiry_policy)
            entries, events = [], []
            for t, plan in _plans(shop, member_totals(session, shop, due, now=now), now):
                if plan.expire > 0:
                    entries.append(_expiry_entry(shop, t.customer_id, plan, policy, now))
                    counts["members_expired"] += 1
                    counts["points_expired"] += plan.expire
                if plan.reminder is not None and plan.reminder_key is not None:
                    events.append(_reminder(shop.id, t.customer_id, plan, now))
            if entries:
                repositories.insert_many_ignoring_conflict(
                    session, LedgerEntry, entries, ("shop_id", "idempotency_key")
                )
            if events:
                counts["reminders"] += repositories.insert_many_ignoring_conflict(
                    session, LoyaltyEvent, events, ("shop_id", "dedupe_key")
                )
            if not dry_run:
                uow.commit()


def _plans(
    shop: Shop, totals: Sequence[MemberTotals], now: datetime
) -> list[tuple[MemberTotals, MemberPlan]]:
    policy = ExpiryPolicy(shop.expiry_policy)
    return [
        (
            t,
            plan_member(
                t,
                policy,
                months=shop.expiry_months,
                reminder_days=shop.expiry_reminder_days,
                now=now,
            ),
        )
        for t in totals
    ]


def _expiry_entry(
    shop: Shop, customer_id: int, plan: MemberPlan, policy: ExpiryPolicy, now: datetime
) -> dict[str, Any]:
    why = (
        f"no points earned or spent for {shop.expiry_months} months"
        if policy is ExpiryPolicy.INACTIVITY
        else f"earned more than {shop.expiry_months} months ago"
    )
    return {
        "shop_id": shop.id,
        "customer_id": customer_id,
        "points": -plan.expire,
        "kind": EntryKind.EXPIRY.value,
        "reason": f"Points expired ({why})",
        "source_type": "expiry",
        "source_ref": policy.value,
        "order_id": None,
        # The member's cumulative expired total after this entry: unique per member, and
        # the same for two runs that saw the same ledger.
        "idempotency_key": f"expiry:{customer_id}:{plan.expired_after}",
        "created_at": now,
        "available_at": now,
    }


def _reminder(shop_id: int, customer_id: int, plan: MemberPlan, now: datetime) -> dict[str, Any]:
    assert plan.reminder is not None
    assert plan.reminder_key is not None
    return {
        "shop_id": shop_id,
        "customer_id": customer_id,
        "kind": EXPIRING_EVENT,
        "payload": json.dumps(
            {"points": plan.reminder.points, "expires_at": plan.reminder.expires_at.isoformat()}
        ),
        "dedupe_key": plan.reminder_key,
        "created_at": now,
    }


def expire_all(
    uow_factory: Callable[[], UnitOfWork],
    *,
    now: datetime,
    shop_id: int | None = None,
    chunk: int = CHUNK,
    dry_run: bool = False,
) -> ExpiryRun:
    """Expire what is due in every active shop with a policy (or in one shop)."""
    with uow_factory() as uow:
        query = select(Shop.id).where(
            Shop.active.is_(True), Shop.expiry_policy != ExpiryPolicy.NEVER.value
        )
        if shop_id is not None:
            query = query.where(Shop.id == shop_id)
        shop_ids = list(uow.session.scalars(query.order_by(Shop.id)))
    run = ExpiryRun(shops=len(shop_ids))
    for sid in shop_ids:
        counts = expire_shop(uow_factory, sid, now=now, chunk=chunk, dry_run=dry_run)
        run.by_shop[sid] = counts
        run.members_checked += counts["members_checked"]
        run.members_expired += counts["members_expired"]
        run.points_expired += counts["points_expired"]
        run.reminders += counts["reminders"]
        if counts["points_expired"]:
            logger.info("expired points", extra={"shop": sid, **counts})
    return run


def claim_period(uow: UnitOfWork, name: str, *, now: datetime) -> bool:
    """True for the first caller in this period across every process; False after."""
    with uow:
        claimed = repositories.insert_many_ignoring_conflict(
            uow.session, PeriodicRun, [{"name": name, "started_at": now}], ("name",)
        )
        uow.session.execute(
            delete(PeriodicRun).where(PeriodicRun.started_at < now - timedelta(days=7))
        )
        uow.commit()
    return claimed == 1


def run_due(uow_factory: Callable[[], UnitOfWork], *, now: datetime) -> ExpiryRun | None:
    """The scheduler's hourly expiry pass; None when another run has this hour."""
    if not claim_period(uow_factory(), f"points-expiry:{now:%Y-%m-%dT%H}", now=now):
        return None
    return expire_all(uow_factory, now=now)


def upcoming_for(
    conn: Connection | Session,
    shop_id: int,
    customer_id: int,
    *,
    policy: str,
    months: int,
    spendable: int,
    now: datetime,
) -> expiry.Upcoming | None:
    """The member's next expiry under the shop's policy: how many points, and when."""
    rule = ExpiryPolicy(policy)
    if rule is ExpiryPolicy.NEVER or spendable <= 0:
        return None
    rows = conn.execute(_ENTRIES, {"shop_id": shop_id, "customer_id": customer_id}).all()
    if rule is ExpiryPolicy.INACTIVITY:
        active = [created for _, _, kind, created in rows if kind in _ACTIVITY_KINDS]
        if not active:
            return None
        return expiry.Upcoming(spendable, expiry.months_after(max(active), months))
    batches: dict[datetime, int] = {}
    spent = expired = 0
    for batch_time, points, kind, _ in rows:
        if kind in _CREDIT_KINDS or (kind == EntryKind.ADJUSTMENT.value and points > 0):
            batches[batch_time] = batches.get(batch_time, 0) + points
        elif kind == EntryKind.REDEEM.value or (kind == EntryKind.ADJUSTMENT.value and points < 0):
            spent -= points
        elif kind == EntryKind.EXPIRY.value:
            expired -= points
    upcoming = expiry.next_batch_expiry(
        [expiry.Batch(p, t) for t, p in batches.items()], spent, expired, months=months, now=now
    )
    if upcoming is None:
        return None
    return expiry.Upcoming(min(upcoming.points, spendable), upcoming.expires_at)


# A member's entries with each one's batch time, built once (the storefront's hot path).
_ENTRIES = (
    select(
        type_coerce(_BATCH_TIME, UTCDateTime()),
        LedgerEntry.points,
        LedgerEntry.kind,
        LedgerEntry.created_at,
    )
    .select_from(LedgerEntry)
    .outerjoin(Order, Order.id == LedgerEntry.order_id)
    .where(
        LedgerEntry.shop_id == bindparam("shop_id"),
        LedgerEntry.customer_id == bindparam("customer_id"),
    )
)
_CREDIT_KINDS = frozenset(
    {
        *_ORDER_KINDS,
        EntryKind.REFERRAL_BONUS.value,
        EntryKind.RULE_BONUS.value,
        EntryKind.TIER_BONUS.value,
        EntryKind.REDEEM_REFUND.value,
    }
)
_ACTIVITY_KINDS = frozenset(
    {
        EntryKind.EARN_ORDER.value,
        EntryKind.REDEEM.value,
        EntryKind.ADJUSTMENT.value,
        EntryKind.REFERRAL_BONUS.value,
        EntryKind.RULE_BONUS.value,
    }
)
