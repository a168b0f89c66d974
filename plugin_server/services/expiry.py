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
    BigInteger,
    Connection,
    Select,
    and_,
    bindparam,
    case,
    delete,
    false,
    func,
    literal,
    null,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from plugin_server.db import email_outbox, outbox, repositories
from plugin_server.db.models import LedgerEntry, LoyaltyEvent, Order, PeriodicRun, Shop
from plugin_server.db.types import UTCDateTime
from plugin_server.db.unit_of_work import UnitOfWork
from plugin_server.domain import expiry, outbound
from plugin_server.domain.expiry import ExpiryPolicy
from plugin_server.domain.ledger import EntryKind
from plugin_server.services import member_chunks

logger = logging.getLogger(__name__)

CHUNK = 5000
EXPIRING_EVENT = "points_expiring"
# An order's own points and its campaign bonus, with what refunds take back of each: one
# batch, timed by the order.
_ORDER_KINDS = (
    EntryKind.EARN_ORDER.value,
    EntryKind.REVERSE_ORDER.value,
    EntryKind.CAMPAIGN_BONUS.value,
    EntryKind.REVERSE_CAMPAIGN_BONUS.value,
)
_CREDIT_KINDS = frozenset(
    {
        *_ORDER_KINDS,
        EntryKind.REFERRAL_BONUS.value,
        EntryKind.RULE_BONUS.value,
        EntryKind.TIER_BONUS.value,
        EntryKind.REDEEM_REFUND.value,
        # Moved guest points keep their batch's time: the debit empties the guest's batch,
        # the credit refills the same batch on the account.
        EntryKind.GUEST_MERGE_OUT.value,
        EntryKind.GUEST_MERGE_IN.value,
    }
)
_ACTIVITY_KINDS = frozenset(
    {
        EntryKind.EARN_ORDER.value,
        EntryKind.CAMPAIGN_BONUS.value,
        EntryKind.REDEEM.value,
        EntryKind.ADJUSTMENT.value,
        EntryKind.IMPORT.value,
        EntryKind.REFERRAL_BONUS.value,
        EntryKind.RULE_BONUS.value,
    }
)
# Credits when positive, spending when negative: manual adjustments and CSV imports.
_ADJUSTING_KINDS = (EntryKind.ADJUSTMENT.value, EntryKind.IMPORT.value)
_CREDIT = or_(
    LedgerEntry.kind.in_(sorted(_CREDIT_KINDS)),
    and_(LedgerEntry.kind.in_(_ADJUSTING_KINDS), LedgerEntry.points > 0),
)
_SPEND = or_(
    LedgerEntry.kind == EntryKind.REDEEM.value,
    and_(LedgerEntry.kind.in_(_ADJUSTING_KINDS), LedgerEntry.points < 0),
)
# Earning or redeeming keeps a member active; a refund or an expiry does not.
_ACTIVITY = LedgerEntry.kind.in_(sorted(_ACTIVITY_KINDS))
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
    only: Any = None,
) -> Select[Any]:
    """Each member's totals (the columns of `MemberTotals`, in order and by name); `only`:
    a further condition on the customer id (an array of ids on PostgreSQL)."""
    spendable = repositories.balance_columns(now)[0]
    points = LedgerEntry.points
    where = [
        LedgerEntry.shop_id == shop_id,
        # A range reads the (shop, customer) index in order, with no long IN list.
        LedgerEntry.customer_id.between(*customer_ids)
        if id_range
        else LedgerEntry.customer_id.in_(customer_ids),
    ]
    if only is not None:
        where.append(only)
    return (
        select(
            LedgerEntry.customer_id,
            func.coalesce(
                func.sum(case((and_(_CREDIT, cutoff >= _BATCH_TIME), points), else_=0)), 0
            ).label("due"),
            func.coalesce(
                func.sum(case((and_(_CREDIT, soon >= _BATCH_TIME), points), else_=0)), 0
            ).label("due_soon"),
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
            ).label("next_batch_at"),
            (-func.coalesce(func.sum(case((_SPEND, points), else_=0)), 0)).label("spent"),
            (
                -func.coalesce(
                    func.sum(case((LedgerEntry.kind == EntryKind.EXPIRY.value, points), else_=0)),
                    0,
                )
            ).label("expired"),
            spendable.label("spendable"),
            type_coerce(
                func.max(case((_ACTIVITY, LedgerEntry.created_at), else_=None)), UTCDateTime()
            ).label("last_activity_at"),
        )
        .select_from(LedgerEntry)
        .outerjoin(Order, Order.id == LedgerEntry.order_id)
        .where(*where)
        .group_by(LedgerEntry.customer_id)
    )


def member_totals(
    session: Session,
    shop: Shop,
    customer_ids: Sequence[int] | tuple[int, int],
    *,
    now: datetime,
    id_range: bool = False,
    reminder_days: int | None = None,
) -> list[MemberTotals]:
    """Each member's expiry totals under the shop's policy, from one aggregate query: of
    the members in `customer_ids`, or with an id from `customer_ids[0]` to
    `customer_ids[1]` when `id_range`; `reminder_days` (the shop's by default) sets how
    far ahead `due_soon` and `next_batch_at` look."""
    days = shop.expiry_reminder_days if reminder_days is None else reminder_days
    cutoff = expiry.months_before(now, shop.expiry_months)
    soon = expiry.months_before(now + timedelta(days=days), shop.expiry_months)
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
    connections: int = member_chunks.CONNECTIONS,
) -> dict[str, int]:
    """Expire what is due in one shop, `chunk` members per transaction.

    On PostgreSQL each chunk is planned and written by the database itself (`_chunk_in_sql`,
    the same rules as `plan_member` written as SQL), `connections` chunks at once; elsewhere
    rows come back to `plan_member` (`_chunk_in_python`), one chunk at a time. Either way
    only the members something will be written for are locked, and they are read again
    under the lock."""
    chunks = member_chunks.MemberChunks(shop_id, chunk)
    parts = member_chunks.on_connections(
        lambda: _expire_chunks(uow_factory, chunks, now=now, dry_run=dry_run),
        member_chunks.workers(uow_factory, connections),
    )
    return member_chunks.summed(parts, _NOTHING)


def _expire_chunks(
    uow_factory: Callable[[], UnitOfWork],
    chunks: member_chunks.MemberChunks,
    *,
    now: datetime,
    dry_run: bool,
) -> dict[str, int]:
    """One worker's share of `expire_shop`: chunks taken from `chunks` until none is left."""
    counts = dict(_NOTHING)
    backlog = False
    while True:
        with uow_factory() as uow:
            session = uow.session
            shop = session.get(Shop, chunks.shop_id)
            if shop is None or shop.expiry_policy == ExpiryPolicy.NEVER.value:
                return counts
            bounds = chunks.next(session)
            if bounds is None:
                return counts
            if session.get_bind().dialect.name == "postgresql":
                done, wrote = _chunk_in_sql(session, shop, bounds, now, lock_all=backlog)
            else:
                done, wrote = _chunk_in_python(session, shop, bounds, now)
            # Most of the last chunk had something due (a first run, a missed day): lock
            # the next chunk whole and skip reading it first.
            backlog = 2 * done["members_expired"] > done["members_checked"]
            for key, n in done.items():
                counts[key] += n
            if wrote and not dry_run:
                uow.commit()


def _chunk_in_python(
    session: Session, shop: Shop, bounds: tuple[int, int, int], now: datetime
) -> tuple[dict[str, int], bool]:
    """One chunk of members: (counts, whether it wrote)."""
    ids = repositories.member_ids_between(session, shop.id, bounds[1], bounds[2])
    counts = {**_NOTHING, "members_checked": len(ids)}
    totals = member_totals(session, shop, (ids[0], ids[-1]), now=now, id_range=True)
    due = sorted(t.customer_id for t, plan in _plans(shop, totals, now) if plan.writes)
    if not due:
        return counts, False  # most chunks on most runs: read, no locks taken
    # Lock only the members something will be written for (the row a redemption or an
    # adjustment locks too), then read them again under the lock: a spend that committed
    # in between is counted, and none can start until we commit.
    repositories.lock_members(session, shop.id, due)
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
    return counts, True


# --- the same plan, in SQL (PostgreSQL) -----------------------------------------------------


def _utc(moment: Any) -> Any:
    """A timestamptz as the UTC wall-clock time (a timestamp without zone)."""
    return func.timezone("UTC", moment)


def _months_after_sql(moment: Any, months: int) -> Any:
    """`expiry.months_after` in SQL: month arithmetic on the UTC wall clock, the day
    clamped to the end of a shorter month, as PostgreSQL's interval arithmetic does."""
    return type_coerce(
        func.timezone("UTC", _utc(moment) + func.make_interval(0, months)), UTCDateTime()
    )


def _isoformat_sql(moment: Any) -> Any:
    """`datetime.isoformat()` of a UTC time, in SQL: microseconds only when not zero."""
    wall = _utc(moment)
    micro = func.to_char(wall, "US")
    return func.concat(
        func.to_char(wall, 'YYYY-MM-DD"T"HH24:MI:SS'),
        case((micro != "000000", func.concat(".", micro)), else_=""),
        "+00:00",
    )


def plan_query(
    shop: Shop, lo: int, hi: int, *, now: datetime, only: Sequence[int] | None = None
) -> Select[Any]:
    """`plan_member` for every member with an id from `lo` to `hi` (and in `only`), in SQL:
    customer_id, expire, expired_after, reminder_points, reminder_expires_at, reminder_key
    (NULL when there is no reminder); members with no entries have nothing to plan."""
    cutoff = expiry.months_before(now, shop.expiry_months)
    soon = expiry.months_before(now + timedelta(days=shop.expiry_reminder_days), shop.expiry_months)
    months, days = shop.expiry_months, shop.expiry_reminder_days
    condition = None
    if only is not None:
        condition = LedgerEntry.customer_id == func.any(
            bindparam("only_ids", list(only), type_=ARRAY(BigInteger))
        )
    t = _totals_query(
        shop.id, (lo, hi), now=now, cutoff=cutoff, soon=soon, id_range=True, only=condition
    ).subquery("t")
    cid = t.c.customer_id
    none = null()
    if ExpiryPolicy(shop.expiry_policy) is ExpiryPolicy.BATCH:
        target = func.greatest(0, t.c.due - t.c.spent)
        expire = func.greatest(0, func.least(target - t.c.expired, t.c.spendable))
        p = select(t, target.label("target"), expire.label("expire")).subquery("p")
        future = func.greatest(0, p.c.due_soon - p.c.spent)
        upcoming = func.least(
            future - func.greatest(p.c.target, p.c.expired + p.c.expire),
            p.c.spendable - p.c.expire,
        )
        reminding = and_(p.c.next_batch_at.is_not(None), upcoming > 0) if days else false()
        return select(
            p.c.customer_id,
            p.c.expire,
            (p.c.expired + p.c.expire).label("expired_after"),
            case((reminding, upcoming), else_=none).label("reminder_points"),
            case((reminding, _months_after_sql(p.c.next_batch_at, months)), else_=none).label(
                "reminder_expires_at"
            ),
            case(
                (reminding, func.concat(f"{EXPIRING_EVENT}:", p.c.customer_id, ":", future)),
                else_=none,
            ).label("reminder_key"),
        )
    # Inactivity: everything spendable, once the last activity is `months` old.
    expires_at = _months_after_sql(t.c.last_activity_at, months)
    lapsed = and_(t.c.last_activity_at.is_not(None), expires_at <= now)
    everything = case((lapsed, func.greatest(0, t.c.spendable)), else_=0)
    reminding = (
        and_(
            t.c.last_activity_at.is_not(None),
            expires_at > now,
            expires_at <= now + timedelta(days=days),
            t.c.spendable > 0,
        )
        if days
        else false()
    )
    return select(
        cid,
        everything.label("expire"),
        (t.c.expired + everything).label("expired_after"),
        case((reminding, t.c.spendable), else_=none).label("reminder_points"),
        case((reminding, expires_at), else_=none).label("reminder_expires_at"),
        case(
            (
                reminding,
                func.concat(
                    f"{EXPIRING_EVENT}:", cid, ":inactive:", _isoformat_sql(t.c.last_activity_at)
                ),
            ),
            else_=none,
        ).label("reminder_key"),
    )


def _chunk_in_sql(
    session: Session, shop: Shop, bounds: tuple[int, int, int], now: datetime, *, lock_all: bool
) -> tuple[dict[str, int], bool]:
    """`_chunk_in_python` with the reading, planning and writing done by PostgreSQL: no
    member's rows travel to Python, only the ids of those something is due for. With
    `lock_all`, every member of the chunk is locked first and read once, under the lock."""
    checked, lo, hi = bounds
    repositories.plan_for_chunks(session)
    if lock_all:
        repositories.lock_member_range(session, shop.id, lo, hi)
        return _write_plans(session, shop, lo, hi, None, now, checked), True
    p = plan_query(shop, lo, hi, now=now).subquery("plan")
    stored = (
        select(LoyaltyEvent.id)
        .where(LoyaltyEvent.shop_id == shop.id, LoyaltyEvent.dedupe_key == p.c.reminder_key)
        .exists()
    )
    due = list(
        session.scalars(
            select(p.c.customer_id)
            # A reminder already stored would be skipped by the insert: no need to lock.
            .where(or_(p.c.expire > 0, and_(p.c.reminder_key.is_not(None), ~stored)))
            .order_by(p.c.customer_id)
        )
    )
    if not due:
        return {**_NOTHING, "members_checked": checked}, False
    repositories.lock_member_ids(session, shop.id, due)
    return _write_plans(session, shop, due[0], due[-1], due, now, checked), True


_NOTHING = {"members_checked": 0, "members_expired": 0, "points_expired": 0, "reminders": 0}


def _write_plans(
    session: Session,
    shop: Shop,
    lo: int,
    hi: int,
    only: Sequence[int] | None,
    now: datetime,
    checked: int,
) -> dict[str, int]:
    """Read the (locked) members again (a new statement, so a spend committed meanwhile
    counts), plan, and insert the entries and reminders, in one statement; the counts."""
    counts = {**_NOTHING, "members_checked": checked}
    plan = plan_query(shop, lo, hi, now=now, only=only).cte("plan")
    policy = ExpiryPolicy(shop.expiry_policy)
    entry = _expiry_entry(shop, 0, MemberPlan(0, 0, None, None), policy, now)
    entries = (
        pg_insert(LedgerEntry)
        .from_select(
            list(_ENTRY_COLUMNS),
            select(
                literal(shop.id, BigInteger),
                plan.c.customer_id,
                -plan.c.expire,
                *(literal(entry[c], LedgerEntry.__table__.c[c].type) for c in _ENTRY_COLUMNS[3:8]),
                func.concat("expiry:", plan.c.customer_id, ":", plan.c.expired_after),
                literal(now, UTCDateTime()),
                literal(now, UTCDateTime()),
            ).where(plan.c.expire > 0),
        )
        .on_conflict_do_nothing(index_elements=["shop_id", "idempotency_key"])
        .returning(LedgerEntry.id)
        .cte("entries")
    )
    payload = func.concat(
        '{"points": ',
        plan.c.reminder_points,
        ', "expires_at": "',
        _isoformat_sql(plan.c.reminder_expires_at),
        '"}',
    )
    reminders = (
        pg_insert(LoyaltyEvent)
        .from_select(
            ["shop_id", "customer_id", "kind", "payload", "dedupe_key", "created_at"],
            select(
                literal(shop.id, BigInteger),
                plan.c.customer_id,
                literal(EXPIRING_EVENT),
                payload,
                plan.c.reminder_key,
                literal(now, UTCDateTime()),
            ).where(plan.c.reminder_key.is_not(None)),
        )
        .on_conflict_do_nothing(index_elements=["shop_id", "dedupe_key"])
        .returning(LoyaltyEvent.id)
        .cte("reminders")
    )
    expired = select(plan.c.expire).where(plan.c.expire > 0).subquery()
    # Webhooks: the new rows' ids come back for the outbox only when the shop has an
    # endpoint for these topics; otherwise the statement is exactly what it was.
    publishing = outbox.subscribed(
        session, shop.id, (outbound.POINTS_EXPIRED, outbound.POINTS_EXPIRING)
    ) or email_outbox.wanted(session, shop.id, email_outbox.EXPIRY_TYPES)
    published = (
        [select(func.array_agg(cte.c.id)).scalar_subquery() for cte in (entries, reminders)]
        if publishing
        else []
    )
    row = session.execute(
        select(
            select(func.count()).select_from(expired).scalar_subquery(),
            select(func.coalesce(func.sum(expired.c.expire), 0)).scalar_subquery(),
            select(func.count()).select_from(reminders).scalar_subquery(),
            select(func.count()).select_from(entries).scalar_subquery(),
            *published,
        )
    ).one()
    if publishing:
        outbox.publish(session, LedgerEntry, row[4] or [])
        outbox.publish(session, LoyaltyEvent, row[5] or [])
        # Expiry entries call for no email: only the reminders do.
        email_outbox.publish(session, LoyaltyEvent, row[5] or [])
    counts["members_expired"] = int(row[0])
    counts["points_expired"] = int(row[1])
    counts["reminders"] = int(row[2])
    return counts


_ENTRY_COLUMNS = (
    "shop_id",
    "customer_id",
    "points",
    "kind",
    "reason",
    "source_type",
    "source_ref",
    "order_id",
    "idempotency_key",
    "created_at",
    "available_at",
)


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
    return reminder_row(shop_id, customer_id, plan.reminder, plan.reminder_key, now)


def reminder_row(
    shop_id: int, customer_id: int, upcoming: expiry.Upcoming, key: str, now: datetime
) -> dict[str, Any]:
    """The `points_expiring` event row announcing `upcoming` (unique by `key`)."""
    return {
        "shop_id": shop_id,
        "customer_id": customer_id,
        "kind": EXPIRING_EVENT,
        "payload": json.dumps(
            {"points": upcoming.points, "expires_at": upcoming.expires_at.isoformat()}
        ),
        "dedupe_key": key,
        "created_at": now,
    }


def expire_all(
    uow_factory: Callable[[], UnitOfWork],
    *,
    now: datetime,
    shop_id: int | None = None,
    chunk: int = CHUNK,
    dry_run: bool = False,
    connections: int = member_chunks.CONNECTIONS,
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
        counts = expire_shop(
            uow_factory, sid, now=now, chunk=chunk, dry_run=dry_run, connections=connections
        )
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


def batches_left(conn: Connection | Session, shop_id: int, customer_id: int) -> list[expiry.Batch]:
    """The member's batches with what is left in each once spending and expiry took the
    oldest first (the batch policy's view of the balance, whatever the shop's policy)."""
    rows = conn.execute(_ENTRIES, {"shop_id": shop_id, "customer_id": customer_id}).all()
    batches: dict[datetime, int] = {}
    used = 0
    for batch_time, points, kind, _ in rows:
        if kind in _CREDIT_KINDS or (kind in _ADJUSTING_KINDS and points > 0):
            batches[batch_time] = batches.get(batch_time, 0) + points
        else:
            used -= points
    return expiry.remaining_batches([expiry.Batch(p, t) for t, p in batches.items()], used)


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
        if kind in _CREDIT_KINDS or (kind in _ADJUSTING_KINDS and points > 0):
            batches[batch_time] = batches.get(batch_time, 0) + points
        elif kind == EntryKind.REDEEM.value or (kind in _ADJUSTING_KINDS and points < 0):
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
