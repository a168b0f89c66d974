"""VIP tiers: the catalog, each member's tier, and recalculating it.

Members move up as soon as an order's points become theirs to count (the drain refreshes
the member in the order's own transaction) and, for what only time changes (pending
points becoming available, periods ending), on the scheduler's hourly pass. When the
merchant changes the tiers or how members qualify, the next tick recalculates every member
from scratch, in chunks. Every change is a `tier_changes` row (the history that also says
which tier a member held when an order was paid) and a `tier_changed` event; reaching a
tier for the first time pays its entry points once.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    String,
    and_,
    bindparam,
    case,
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
from plugin_server.db.models import (
    Customer,
    LedgerEntry,
    LoyaltyEvent,
    MemberTier,
    Order,
    OrderRefund,
    Shop,
    Tier,
    TierChange,
)
from plugin_server.db.types import UTCDateTime
from plugin_server.db.unit_of_work import UnitOfWork
from plugin_server.domain import outbound
from plugin_server.domain import tiers as rules
from plugin_server.domain.errors import ShopNotFound, TierNotFound, ValidationFailed
from plugin_server.domain.ledger import EntryKind
from plugin_server.domain.tiers import Downgrade, TierLevel, TierMeasure, TierPeriod
from plugin_server.services import member_chunks

logger = logging.getLogger(__name__)

CHUNK = 5000
TIER_EVENT = "tier_changed"
ZERO = Decimal(0)


def view(tier: Tier) -> dict[str, Any]:
    return {
        "id": tier.id,
        "name": tier.name,
        "threshold": plain(tier.threshold),
        "multiplier": plain(tier.multiplier),
        "entry_points": tier.entry_points,
        "status": "archived" if tier.archived_at else "active",
        "created_at": tier.created_at.isoformat(),
        "updated_at": tier.updated_at.isoformat(),
    }


def plain(value: Decimal) -> str:
    """A decimal as a short string: 1000, 1.5, 250.5."""
    return format(value.normalize(), "f")


def _shop(session: Session, shop_id: int, *, lock: bool = False) -> Shop:
    shop = session.get(Shop, shop_id, with_for_update=lock)
    if shop is None:
        raise ShopNotFound()
    return shop


def _tier(session: Session, shop_id: int, tier_id: int) -> Tier:
    tier = session.scalars(
        select(Tier).where(Tier.shop_id == shop_id, Tier.id == tier_id).with_for_update()
    ).one_or_none()
    if tier is None:
        raise TierNotFound(f"no tier {tier_id} in this shop")
    return tier


def active_tiers(session: Session, shop_id: int) -> list[Tier]:
    return list(
        session.scalars(
            select(Tier)
            .where(Tier.shop_id == shop_id, Tier.archived_at.is_(None))
            .order_by(Tier.threshold)
        )
    )


def _check_unique_threshold(
    session: Session, shop_id: int, threshold: Decimal, except_id: int | None
) -> None:
    clash = session.scalar(
        select(func.count()).where(
            Tier.shop_id == shop_id,
            Tier.archived_at.is_(None),
            Tier.threshold == threshold,
            Tier.id != (except_id or 0),
        )
    )
    if clash:
        raise ValidationFailed("another active tier has this threshold", field="threshold")


def create_tier(
    uow: UnitOfWork, shop_id: int, body: dict[str, Any], *, now: datetime
) -> dict[str, Any]:
    """A new tier; members are recalculated by the next scheduler tick."""
    values = rules.validate_tier(body)
    with uow:
        shop = _shop(uow.session, shop_id, lock=True)  # serialises tier changes per shop
        rules.check_threshold_fits(values["threshold"], TierMeasure(shop.tier_measure))
        _check_unique_threshold(uow.session, shop_id, values["threshold"], None)
        tier = Tier(shop_id=shop_id, created_at=now, updated_at=now, **values)
        uow.session.add(tier)
        shop.tiers_changed_at = now
        uow.session.flush()
        out = view(tier)
        uow.commit()
    return out


def list_tiers(uow: UnitOfWork, shop_id: int, *, status: str = "active") -> list[dict[str, Any]]:
    with uow:
        query = select(Tier).where(Tier.shop_id == shop_id)
        if status == "active":
            query = query.where(Tier.archived_at.is_(None))
        elif status == "archived":
            query = query.where(Tier.archived_at.is_not(None))
        return [view(t) for t in uow.session.scalars(query.order_by(Tier.threshold, Tier.id))]


def get_tier(uow: UnitOfWork, shop_id: int, tier_id: int) -> dict[str, Any]:
    with uow:
        return view(_tier(uow.session, shop_id, tier_id))


def update_tier(
    uow: UnitOfWork, shop_id: int, tier_id: int, changes: dict[str, Any], *, now: datetime
) -> dict[str, Any]:
    """Change a tier after launch: every member is recalculated by the next tick."""
    if not changes:
        raise ValidationFailed("send at least one field to change")
    with uow:
        shop = _shop(uow.session, shop_id, lock=True)
        tier = _tier(uow.session, shop_id, tier_id)
        if tier.archived_at is not None:
            raise ValidationFailed("an archived tier cannot change", field="body")
        current = {
            "name": tier.name,
            "threshold": tier.threshold,
            "multiplier": tier.multiplier,
            "entry_points": tier.entry_points,
        }
        values = rules.validate_tier(changes, current)
        rules.check_threshold_fits(values["threshold"], TierMeasure(shop.tier_measure))
        _check_unique_threshold(uow.session, shop_id, values["threshold"], tier.id)
        for column, value in values.items():
            setattr(tier, column, value)
        tier.updated_at = shop.tiers_changed_at = now
        out = view(tier)
        uow.commit()
    return out


def archive_tier(uow: UnitOfWork, shop_id: int, tier_id: int, *, now: datetime) -> dict[str, Any]:
    """Retire a tier (idempotent): its members are recalculated by the next tick."""
    with uow:
        shop = _shop(uow.session, shop_id, lock=True)
        tier = _tier(uow.session, shop_id, tier_id)
        if tier.archived_at is None:
            tier.archived_at = tier.updated_at = shop.tiers_changed_at = now
        out = view(tier)
        uow.commit()
    return out


# --- measuring members ---------------------------------------------------------------------

_ORDER_KINDS = (EntryKind.EARN_ORDER.value, EntryKind.REVERSE_ORDER.value)


@dataclass(frozen=True, slots=True)
class Qualifying:
    """How a shop's members qualify: what is measured, and over which period."""

    shop_id: int
    measure: TierMeasure
    period: TierPeriod

    @classmethod
    def of(cls, shop: Shop) -> Qualifying:
        return cls(shop.id, TierMeasure(shop.tier_measure), TierPeriod(shop.tier_period))


def _counted_orders(q: Qualifying, customer_ids: Sequence[int], now: datetime) -> Any:
    start = rules.window_start(now, q.period)
    where = [
        Order.shop_id == q.shop_id,
        Order.customer_id.in_(customer_ids),
        Order.earned_points.is_not(None),
        Order.cancelled.is_(False),
        Order.fully_refunded.is_(False),
        Order.earn_available_at <= now,  # still pending: does not count yet
    ]
    if start is not None:
        where.append(Order.earn_available_at >= start)
    return and_(*where)


def measure_values(
    session: Session | Connection, q: Qualifying, customer_ids: Sequence[int], *, now: datetime
) -> dict[int, Decimal]:
    """Each member's qualifying value under the shop's measure and period."""
    if not customer_ids:
        return {}
    values: dict[int, Decimal] = defaultdict(lambda: ZERO)
    if q.measure is TierMeasure.POINTS_EARNED:
        start = rules.window_start(now, q.period)
        batch_time = func.coalesce(Order.earn_available_at, LedgerEntry.available_at)
        conditions = [
            LedgerEntry.shop_id == q.shop_id,
            LedgerEntry.customer_id.in_(customer_ids),
            LedgerEntry.kind.in_(_ORDER_KINDS),
            batch_time <= now,
        ]
        if start is not None:
            conditions.append(batch_time >= start)
        rows = session.execute(
            select(LedgerEntry.customer_id, func.sum(LedgerEntry.points))
            .select_from(LedgerEntry)
            .outerjoin(Order, Order.id == LedgerEntry.order_id)
            .where(*conditions)
            .group_by(LedgerEntry.customer_id)
        )
        for customer_id, points in rows:
            values[int(customer_id)] = Decimal(int(points or 0))
    elif q.measure is TierMeasure.ORDERS:
        rows = session.execute(
            select(Order.customer_id, func.count())
            .where(_counted_orders(q, customer_ids, now))
            .group_by(Order.customer_id)
        )
        for customer_id, count in rows:
            values[int(customer_id)] = Decimal(int(count))
    else:
        # Money is summed here, not in SQL: SQLite keeps exact decimals as text and would
        # add them as floats.
        orders = session.execute(
            select(Order.id, Order.customer_id, Order.order_total, Order.currency).where(
                _counted_orders(q, customer_ids, now)
            )
        ).all()
        refunded: dict[int, Decimal] = defaultdict(lambda: ZERO)
        if orders:
            currency_of = {o.id: o.currency for o in orders}
            for order_id, amount, currency in session.execute(
                select(OrderRefund.order_id, OrderRefund.amount, OrderRefund.amount_currency).where(
                    OrderRefund.shop_id == q.shop_id,
                    OrderRefund.order_id.in_(list(currency_of)),
                )
            ):
                if currency is None or currency == currency_of[order_id]:
                    refunded[order_id] += amount
        for order_id, owner, total, _ in orders:
            assert owner is not None  # counted orders belong to a member
            values[owner] += max(ZERO, (total or ZERO) - refunded[order_id])
    return {cid: values[cid] for cid in customer_ids}


# --- recalculating ---------------------------------------------------------------------------


def _levels(tiers: Sequence[Tier]) -> list[TierLevel]:
    return [TierLevel(t.id, t.threshold) for t in tiers]


def _decide(
    shop: Shop,
    tiers_by_id: dict[int, Tier],
    value: Decimal,
    held: MemberTier | None,
    *,
    now: datetime,
    from_scratch: bool,
) -> TierLevel | None:
    held_level = (
        TierLevel(held.tier_id, tiers_by_id[held.tier_id].threshold)
        if held is not None and held.tier_id in tiers_by_id
        else None
    )
    return rules.next_tier(
        held_level,
        held.reached_at if held is not None else None,
        rules.qualifying_tier(value, _levels(list(tiers_by_id.values()))),
        downgrade=Downgrade(shop.tier_downgrade),
        period=TierPeriod(shop.tier_period),
        now=now,
        from_scratch=from_scratch,
    )


@dataclass
class _Writes:
    """What one chunk's tier changes write, sent as a few bulk statements."""

    held: list[dict[str, Any]]
    changes: list[dict[str, Any]]
    events: list[dict[str, Any]]
    bonuses: list[dict[str, Any]]


def _apply(
    writes: _Writes,
    shop: Shop,
    tiers_by_id: dict[int, Tier],
    customer_id: int,
    value: Decimal,
    held: MemberTier | None,
    *,
    now: datetime,
    from_scratch: bool,
) -> str | None:
    """Plan one member's tier change into `writes`; 'up', 'down' or None."""
    new = _decide(shop, tiers_by_id, value, held, now=now, from_scratch=from_scratch)
    old_id = held.tier_id if held is not None else None
    new_id = new.id if new is not None else None
    if new_id == old_id:
        return None
    old_threshold = tiers_by_id[old_id].threshold if old_id in tiers_by_id else ZERO
    direction = "up" if new is not None and new.threshold > old_threshold else "down"
    reason = (
        "recalculated" if from_scratch else ("qualified" if direction == "up" else "period_end")
    )
    writes.held.append(
        {
            "shop_id": shop.id,
            "customer_id": customer_id,
            "tier_id": new_id,
            "reached_at": now,
            "updated_at": now,
        }
    )
    writes.changes.append(
        {
            "shop_id": shop.id,
            "customer_id": customer_id,
            "from_tier_id": old_id,
            "to_tier_id": new_id,
            "reason": reason,
            "changed_at": now,
        }
    )
    new_name = tiers_by_id[new_id].name if new_id is not None else None
    old_name = tiers_by_id[old_id].name if old_id in tiers_by_id else None
    writes.events.append(
        {
            "shop_id": shop.id,
            "customer_id": customer_id,
            "kind": TIER_EVENT,
            "payload": json.dumps({"from": old_name, "to": new_name, "direction": direction}),
            # One event per change: the member, the moment, and from which tier to which.
            "dedupe_key": f"{TIER_EVENT}:{customer_id}:{now.isoformat()}:{old_id}:{new_id}",
            "created_at": now,
        }
    )
    if direction == "up" and new_id is not None and tiers_by_id[new_id].entry_points > 0:
        tier = tiers_by_id[new_id]
        writes.bonuses.append(
            {
                "shop_id": shop.id,
                "customer_id": customer_id,
                "points": tier.entry_points,
                "kind": EntryKind.TIER_BONUS.value,
                "reason": f"Welcome to {tier.name}",
                "source_type": "tier",
                "source_ref": str(tier.id),
                "order_id": None,
                # Once per member and tier, ever: falling back and climbing again pays
                # nothing.
                "idempotency_key": f"tier:{tier.id}:{customer_id}",
                "created_at": now,
                "available_at": now,
            }
        )
    return direction


def refresh_members(
    session: Session,
    shop: Shop,
    customer_ids: Sequence[int],
    *,
    now: datetime,
    from_scratch: bool = False,
) -> dict[str, int]:
    """Bring these members' tiers up to date inside the caller's transaction (the caller
    holds their rows): one read of their values, and a few bulk writes for the changes."""
    counts = {"members": len(customer_ids), "up": 0, "down": 0}
    tiers_by_id = {t.id: t for t in active_tiers(session, shop.id)}
    held = {
        m.customer_id: m
        for m in session.scalars(
            select(MemberTier).where(
                MemberTier.shop_id == shop.id, MemberTier.customer_id.in_(customer_ids)
            )
        )
    }
    values = measure_values(session, Qualifying.of(shop), customer_ids, now=now)
    writes = _Writes([], [], [], [])
    for customer_id in customer_ids:
        moved = _apply(
            writes,
            shop,
            tiers_by_id,
            customer_id,
            values[customer_id],
            held.get(customer_id),
            now=now,
            from_scratch=from_scratch,
        )
        if moved:
            counts[moved] += 1
    if writes.held:
        repositories.upsert_many(
            session,
            MemberTier,
            writes.held,
            ("shop_id", "customer_id"),
            update=("tier_id", "reached_at", "updated_at"),
        )
        repositories.insert_many_ignoring_conflict(session, TierChange, writes.changes, ())
        repositories.insert_many_ignoring_conflict(
            session, LoyaltyEvent, writes.events, ("shop_id", "dedupe_key")
        )
        repositories.insert_many_ignoring_conflict(
            session, LedgerEntry, writes.bonuses, ("shop_id", "idempotency_key")
        )
        session.expire_all()  # the ORM's copies of member_tiers are stale now
    return counts


def recalculate_shop(
    uow_factory: Callable[[], UnitOfWork],
    shop_id: int,
    *,
    now: datetime,
    from_scratch: bool = False,
    chunk: int = CHUNK,
    connections: int = member_chunks.CONNECTIONS,
) -> dict[str, int]:
    """Every member of the shop, `chunk` members per transaction.

    On PostgreSQL each chunk is decided and written by the database itself
    (`_chunk_in_sql`: the rules of `domain.tiers.next_tier` as SQL), `connections` chunks at
    once; elsewhere members' rows come back to Python (`_chunk_in_python`), one chunk at a
    time. Either way a chunk is read without locks and only the members whose tier changes
    are locked, read again and written. Chunks hold different members, so two at once never
    wait on each other."""
    chunks = member_chunks.MemberChunks(shop_id, chunk)
    parts = member_chunks.on_connections(
        lambda: _recalculate_chunks(uow_factory, chunks, now=now, from_scratch=from_scratch),
        member_chunks.workers(uow_factory, connections),
    )
    return member_chunks.summed(parts, ("members", "up", "down"))


def _recalculate_chunks(
    uow_factory: Callable[[], UnitOfWork],
    chunks: member_chunks.MemberChunks,
    *,
    now: datetime,
    from_scratch: bool,
) -> dict[str, int]:
    """One worker's share of a pass: chunks taken from `chunks` until none is left."""
    totals = {"members": 0, "up": 0, "down": 0}
    busy = False
    while True:
        with uow_factory() as uow:
            session = uow.session
            shop = _shop(session, chunks.shop_id)
            bounds = chunks.next(session)
            if bounds is None:
                return totals
            if session.get_bind().dialect.name == "postgresql":
                counts = _chunk_in_sql(
                    session, shop, bounds, now=now, from_scratch=from_scratch, lock_all=busy
                )
            else:
                counts = _chunk_in_python(session, shop, bounds, now=now, from_scratch=from_scratch)
            # Most of the last chunk moved (a recalculation from scratch): lock the next
            # chunk whole and skip reading it first.
            busy = 2 * (counts["up"] + counts["down"]) > counts["members"]
            if counts["up"] or counts["down"] or counts.get("locked"):
                uow.commit()
        for key in totals:
            totals[key] += counts[key]


def _chunk_in_python(
    session: Session,
    shop: Shop,
    bounds: tuple[int, int, int],
    *,
    now: datetime,
    from_scratch: bool,
) -> dict[str, int]:
    _, lo, hi = bounds
    ids = repositories.member_ids_between(session, shop.id, lo, hi)
    counts = {"members": len(ids), "up": 0, "down": 0}
    moving = _moving(session, shop, ids, now=now, from_scratch=from_scratch)
    if not moving:
        return counts  # most chunks of most passes: read, nothing to write, no locks
    # Lock only the members whose tier changes (the drain takes the same row lock when an
    # order moves a member), then decide again under the lock.
    repositories.lock_members(session, shop.id, moving)
    moved = refresh_members(session, shop, moving, now=now, from_scratch=from_scratch)
    return {**counts, "up": moved["up"], "down": moved["down"], "locked": 1}


def _moving(
    session: Session, shop: Shop, ids: Sequence[int], *, now: datetime, from_scratch: bool
) -> list[int]:
    """The members among `ids` whose tier would change now."""
    tiers_by_id = {t.id: t for t in active_tiers(session, shop.id)}
    held = {
        m.customer_id: m
        for m in session.scalars(
            select(MemberTier).where(MemberTier.shop_id == shop.id, MemberTier.customer_id.in_(ids))
        )
    }
    values = measure_values(session, Qualifying.of(shop), ids, now=now)
    moving = []
    for cid in ids:
        member = held.get(cid)
        new = _decide(shop, tiers_by_id, values[cid], member, now=now, from_scratch=from_scratch)
        old_id = member.tier_id if member is not None else None
        if (new.id if new is not None else None) != old_id:
            moving.append(cid)
    return moving


# --- the same decisions, in SQL (PostgreSQL) -------------------------------------------------


def _ids_condition(column: Any, lo: int, hi: int, only: Sequence[int] | None) -> Any:
    """`column` from `lo` to `hi` (an index range), and among `only` when given."""
    condition = column.between(lo, hi)
    if only is not None:
        ids = bindparam("only_ids", list(only), type_=ARRAY(BigInteger))
        condition = and_(condition, column == func.any(ids))
    return condition


def value_query(
    q: Qualifying, lo: int, hi: int, *, now: datetime, only: Sequence[int] | None = None
) -> Any:
    """`measure_values` as one aggregate over the members with an id from `lo` to `hi`
    (and in `only`): customer_id, value; members with nothing counted have no row."""
    start = rules.window_start(now, q.period)
    if q.measure is TierMeasure.POINTS_EARNED:
        batch_time = func.coalesce(Order.earn_available_at, LedgerEntry.available_at)
        conditions = [
            LedgerEntry.shop_id == q.shop_id,
            _ids_condition(LedgerEntry.customer_id, lo, hi, only),
            LedgerEntry.kind.in_(_ORDER_KINDS),
            batch_time <= now,
        ]
        if start is not None:
            conditions.append(batch_time >= start)
        return (
            select(
                LedgerEntry.customer_id.label("customer_id"),
                func.sum(LedgerEntry.points).label("value"),
            )
            .select_from(LedgerEntry)
            .outerjoin(Order, Order.id == LedgerEntry.order_id)
            .where(*conditions)
            .group_by(LedgerEntry.customer_id)
        )
    where = [
        Order.shop_id == q.shop_id,
        _ids_condition(Order.customer_id, lo, hi, only),
        Order.earned_points.is_not(None),
        Order.cancelled.is_(False),
        Order.fully_refunded.is_(False),
        Order.earn_available_at <= now,
    ]
    if start is not None:
        where.append(Order.earn_available_at >= start)
    value: Any
    if q.measure is TierMeasure.ORDERS:
        value = func.count()
    else:
        refunded = (
            select(func.sum(OrderRefund.amount))
            .where(
                OrderRefund.shop_id == q.shop_id,
                OrderRefund.order_id == Order.id,
                or_(
                    OrderRefund.amount_currency.is_(None),
                    OrderRefund.amount_currency == Order.currency,
                ),
            )
            .scalar_subquery()
        )
        # Exact NUMERIC arithmetic, as Python's Decimal.
        value = func.sum(
            func.greatest(0, func.coalesce(Order.order_total, 0) - func.coalesce(refunded, 0))
        )
    return (
        select(Order.customer_id.label("customer_id"), value.label("value"))
        .where(*where)
        .group_by(Order.customer_id)
    )


def _by_tier(column: Any, values: dict[int, Any], type_: Any = None) -> Any:
    """CASE column WHEN tier id THEN value ...: NULL for no tier or one not active."""
    if not values:
        return null()
    return case(
        *((column == tier_id, literal(v, type_)) for tier_id, v in values.items()), else_=null()
    )


def decision_query(
    shop: Shop,
    tiers: Sequence[Tier],
    lo: int,
    hi: int,
    *,
    now: datetime,
    from_scratch: bool,
    only: Sequence[int] | None = None,
) -> Any:
    """`_decide` for every member with an id from `lo` to `hi` (and in `only`), in SQL:
    customer_id, value, old_id (the tier held, NULL for none), new_id, moved, up."""
    q = Qualifying.of(shop)
    v = value_query(q, lo, hi, now=now, only=only).subquery("v")
    held = MemberTier.__table__
    value = func.coalesce(v.c.value, 0)
    active = {t.id: t for t in tiers}
    # The highest tier the value reaches (thresholds of active tiers are unique).
    reached = sorted(tiers, key=lambda t: t.threshold, reverse=True)
    qualified: Any = (
        case(*((value >= t.threshold, literal(t.id, BigInteger)) for t in reached), else_=null())
        if reached
        else null()
    )
    m = (
        select(
            Customer.id.label("customer_id"),
            value.label("value"),
            held.c.tier_id.label("old_id"),
            held.c.reached_at,
            qualified.label("qualified_id"),
        )
        .select_from(Customer)
        .outerjoin(v, v.c.customer_id == Customer.id)
        .outerjoin(held, and_(held.c.shop_id == shop.id, held.c.customer_id == Customer.id))
        .where(Customer.shop_id == shop.id, _ids_condition(Customer.id, lo, hi, only))
        .subquery("m")
    )
    threshold = {tier_id: t.threshold for tier_id, t in active.items()}
    held_threshold = _by_tier(m.c.old_id, threshold, Tier.threshold.type)
    qualified_threshold = _by_tier(m.c.qualified_id, threshold, Tier.threshold.type)
    period = TierPeriod(shop.tier_period)
    if from_scratch:
        new_id: Any = m.c.qualified_id
    else:
        # domain.tiers.next_tier: no (active) tier held -> the one qualified for; up or the
        # same at once; down never, or once the period the tier was reached in has ended.
        if Downgrade(shop.tier_downgrade) is Downgrade.NEVER:
            may_fall: Any = literal(False)
        else:
            may_fall = literal(now, UTCDateTime()) >= _held_until_sql(m.c.reached_at, period)
        new_id = case(
            (held_threshold.is_(None), m.c.qualified_id),
            (qualified_threshold >= held_threshold, m.c.qualified_id),
            (may_fall, m.c.qualified_id),
            else_=m.c.old_id,
        )
    d = select(m.c.customer_id, m.c.value, m.c.old_id, new_id.label("new_id")).subquery("d")
    new_threshold = _by_tier(d.c.new_id, threshold, Tier.threshold.type)
    old_threshold = func.coalesce(_by_tier(d.c.old_id, threshold, Tier.threshold.type), 0)
    return select(
        d.c.customer_id,
        d.c.value,
        d.c.old_id,
        d.c.new_id,
        d.c.new_id.is_distinct_from(d.c.old_id).label("moved"),
        and_(d.c.new_id.is_not(None), new_threshold > old_threshold).label("up"),
    )


def _held_until_sql(reached_at: Any, period: TierPeriod) -> Any:
    """`domain.tiers.held_until` in SQL, on the UTC wall clock."""
    wall: Any = func.timezone("UTC", reached_at)
    if period is TierPeriod.CALENDAR_YEAR:
        wall = func.date_trunc("year", wall) + func.make_interval(1)
    elif period is TierPeriod.ROLLING_12_MONTHS:
        wall = wall + func.make_interval(0, 12)
    return type_coerce(func.timezone("UTC", wall), UTCDateTime())


def _chunk_in_sql(
    session: Session,
    shop: Shop,
    bounds: tuple[int, int, int],
    *,
    now: datetime,
    from_scratch: bool,
    lock_all: bool = False,
) -> dict[str, int]:
    """`_chunk_in_python` decided and written by PostgreSQL: no member's row travels to
    Python, only the ids of those whose tier changes. With `lock_all`, every member of the
    chunk is locked first and read once, under the lock."""
    checked, lo, hi = bounds
    repositories.plan_for_chunks(session)
    counts = {"members": checked, "up": 0, "down": 0}
    tiers = active_tiers(session, shop.id)
    if lock_all:
        repositories.lock_member_range(session, shop.id, lo, hi)
        up, down = _write_moves(
            session, shop, tiers, lo, hi, None, now=now, from_scratch=from_scratch
        )
        return {**counts, "up": up, "down": down, "locked": 1}
    d = decision_query(shop, tiers, lo, hi, now=now, from_scratch=from_scratch).subquery()
    moving = list(
        session.scalars(select(d.c.customer_id).where(d.c.moved).order_by(d.c.customer_id))
    )
    if not moving:
        return counts  # most chunks of most passes: read, nothing to write, no locks
    # Lock only the members whose tier changes (the drain takes the same row lock when an
    # order moves a member), then decide again under the lock, in a new statement.
    repositories.lock_member_ids(session, shop.id, moving)
    up, down = _write_moves(
        session, shop, tiers, moving[0], moving[-1], moving, now=now, from_scratch=from_scratch
    )
    return {**counts, "up": up, "down": down, "locked": 1}


def _write_moves(
    session: Session,
    shop: Shop,
    tiers: Sequence[Tier],
    lo: int,
    hi: int,
    only: Sequence[int] | None,
    *,
    now: datetime,
    from_scratch: bool,
) -> tuple[int, int]:
    """`refresh_members`' decisions and writes for the (locked) members from `lo` to `hi`
    (and in `only`), in one statement: (up, down)."""
    moves = decision_query(
        shop, tiers, lo, hi, now=now, from_scratch=from_scratch, only=only
    ).subquery("decided")
    moves = select(moves).where(moves.c.moved).cte("moves")
    active = {t.id: t for t in tiers}
    at = literal(now, UTCDateTime())
    shop_id = literal(shop.id, BigInteger)
    direction = case((moves.c.up, "up"), else_="down")
    if from_scratch:
        reason: Any = literal("recalculated")
    else:
        reason = case((moves.c.up, "qualified"), else_="period_end")
    upsert = pg_insert(MemberTier).from_select(
        ["shop_id", "customer_id", "tier_id", "reached_at", "updated_at"],
        select(shop_id, moves.c.customer_id, moves.c.new_id, at, at),
    )
    held = (
        upsert.on_conflict_do_update(
            index_elements=["shop_id", "customer_id"],
            set_={c: upsert.excluded[c] for c in ("tier_id", "reached_at", "updated_at")},
        )
        .returning(MemberTier.id)
        .cte("held")
    )
    changes = (
        pg_insert(TierChange)
        .from_select(
            ["shop_id", "customer_id", "from_tier_id", "to_tier_id", "reason", "changed_at"],
            select(shop_id, moves.c.customer_id, moves.c.old_id, moves.c.new_id, reason, at),
        )
        .returning(TierChange.id)
        .cte("changes")
    )
    # The names as json.dumps writes them (computed here: a handful of tiers).
    name_json = {i: json.dumps(t.name) for i, t in active.items()}
    payload = func.concat(
        '{"from": ',
        func.coalesce(_by_tier(moves.c.old_id, name_json, String()), "null"),
        ', "to": ',
        func.coalesce(_by_tier(moves.c.new_id, name_json, String()), "null"),
        ', "direction": "',
        direction,
        '"}',
    )
    none = literal("None")
    events = (
        pg_insert(LoyaltyEvent)
        .from_select(
            ["shop_id", "customer_id", "kind", "payload", "dedupe_key", "created_at"],
            select(
                shop_id,
                moves.c.customer_id,
                literal(TIER_EVENT),
                payload,
                func.concat(
                    f"{TIER_EVENT}:",
                    moves.c.customer_id,
                    f":{now.isoformat()}:",
                    func.coalesce(func.cast(moves.c.old_id, String()), none),
                    ":",
                    func.coalesce(func.cast(moves.c.new_id, String()), none),
                ),
                at,
            ),
        )
        .on_conflict_do_nothing(index_elements=["shop_id", "dedupe_key"])
        .returning(LoyaltyEvent.id)
        .cte("events")
    )
    paying = {i: t for i, t in active.items() if t.entry_points > 0}
    bonuses = (
        pg_insert(LedgerEntry)
        .from_select(
            [
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
            ],
            select(
                shop_id,
                moves.c.customer_id,
                _by_tier(moves.c.new_id, {i: t.entry_points for i, t in paying.items()}),
                literal(EntryKind.TIER_BONUS.value),
                _by_tier(moves.c.new_id, {i: f"Welcome to {t.name}" for i, t in paying.items()}),
                literal("tier"),
                func.cast(moves.c.new_id, String()),
                literal(None, BigInteger),
                # Once per member and tier, ever: falling back and climbing again pays
                # nothing.
                func.concat("tier:", moves.c.new_id, ":", moves.c.customer_id),
                at,
                at,
            ).where(moves.c.up, moves.c.new_id.in_(list(paying) or [0])),
        )
        .on_conflict_do_nothing(index_elements=["shop_id", "idempotency_key"])
        .returning(LedgerEntry.id)
        .cte("bonuses")
    )
    # Webhooks: only when the shop has an endpoint for these topics do the new rows' ids
    # come back (for the outbox); otherwise the statement is exactly what it was.
    publishing = outbox.subscribed(
        session, shop.id, (outbound.TIER_CHANGED, outbound.POINTS_EARNED)
    ) or email_outbox.wanted(session, shop.id, email_outbox.TIER_TYPES)
    published = (
        [select(func.array_agg(cte.c.id)).scalar_subquery() for cte in (events, bonuses)]
        if publishing
        else []
    )
    row = session.execute(
        select(
            select(func.count()).select_from(moves).where(moves.c.up).scalar_subquery(),
            select(func.count()).select_from(moves).where(~moves.c.up).scalar_subquery(),
            *(
                select(func.count()).select_from(cte).scalar_subquery()
                for cte in (held, changes, events, bonuses)
            ),
            *published,
        )
    ).one()
    if publishing:
        outbox.publish(session, LoyaltyEvent, row[6] or [])
        outbox.publish(session, LedgerEntry, row[7] or [])
        email_outbox.publish(session, LoyaltyEvent, row[6] or [])
        email_outbox.publish(session, LedgerEntry, row[7] or [])
    return int(row[0]), int(row[1])


def run_due(uow_factory: Callable[[], UnitOfWork], *, now: datetime) -> dict[str, int]:
    """The scheduler's share: a shop whose tiers changed since its last recalculation is
    recalculated from scratch; every shop with tiers gets an hourly pass for what time
    alone changes (pending points becoming available, periods ending)."""
    from plugin_server.services.expiry import claim_period

    totals = {"members": 0, "up": 0, "down": 0}
    with uow_factory() as uow:
        shops = uow.session.execute(
            select(Shop.id, Shop.tiers_changed_at, Shop.tiers_recalculated_at).where(
                Shop.active.is_(True), Shop.tiers_changed_at.is_not(None)
            )
        ).all()
    hourly = bool(shops) and claim_period(uow_factory(), f"tiers:{now:%Y-%m-%dT%H}", now=now)
    for shop_id, changed_at, recalculated_at in shops:
        changed = recalculated_at is None or (
            changed_at is not None and recalculated_at < changed_at
        )
        if not (changed or hourly):
            continue
        counts = recalculate_shop(uow_factory, shop_id, now=now, from_scratch=changed)
        if changed:
            with uow_factory() as uow:
                shop = _shop(uow.session, shop_id, lock=True)
                # A change made while we worked leaves the shop due again.
                if shop.tiers_changed_at == changed_at:
                    shop.tiers_recalculated_at = changed_at
                uow.commit()
        for key, n in counts.items():
            totals[key] += n
    return totals


# --- reading ------------------------------------------------------------------------------------


def multiplier_at(
    session: Session, shop: Shop, customer_id: int, moment: datetime
) -> tuple[Decimal, str | None]:
    """The earning multiplier of the tier the member held at `moment`, and its name."""
    if shop.tiers_changed_at is None:
        return Decimal(1), None
    row = session.execute(
        select(Tier.multiplier, Tier.name)
        .join(TierChange, TierChange.to_tier_id == Tier.id)
        .where(
            TierChange.shop_id == shop.id,
            TierChange.customer_id == customer_id,
            TierChange.changed_at <= moment,
        )
        .order_by(TierChange.changed_at.desc(), TierChange.id.desc())
        .limit(1)
    ).first()
    if row is None:
        # No change at or before that moment: either no tier then, or the latest change
        # was to none.
        return Decimal(1), None
    return row[0], row[1]


def public_tiers(session: Session, shop: Shop) -> dict[str, Any] | None:
    """The shop's tiers and how members qualify, as shoppers may see them (cacheable with
    the shop); None when the shop has no tiers."""
    tiers = active_tiers(session, shop.id)
    if not tiers:
        return None
    return {
        "measure": shop.tier_measure,
        "period": shop.tier_period,
        "tiers": [_benefits(t) for t in tiers],
    }


def member_tier_view(
    conn: Session | Connection | None,
    shop_id: int,
    program: dict[str, Any] | None,
    customer_id: int | None,
    *,
    now: datetime,
) -> dict[str, Any] | None:
    """The member's tier, their progress to the next one and its benefits; None when the
    shop has no tiers. `program` is `public_tiers`."""
    if program is None:
        return None
    held_id = None
    value = ZERO
    if customer_id is not None and conn is not None:
        held_id = conn.execute(
            select(MemberTier.tier_id).where(
                MemberTier.shop_id == shop_id, MemberTier.customer_id == customer_id
            )
        ).scalar_one_or_none()
        q = Qualifying(shop_id, TierMeasure(program["measure"]), TierPeriod(program["period"]))
        value = measure_values(conn, q, [customer_id], now=now)[customer_id]
    tiers = program["tiers"]
    current = next((t for t in tiers if t["id"] == held_id), None)
    floor = Decimal(current["threshold"]) if current is not None else None
    upcoming = next((t for t in tiers if floor is None or Decimal(t["threshold"]) > floor), None)
    return {
        "measure": program["measure"],
        "period": program["period"],
        "value": plain(value),
        "current": current,
        "next": (
            {**upcoming, "remaining": plain(max(ZERO, Decimal(upcoming["threshold"]) - value))}
            if upcoming is not None
            else None
        ),
    }


def _benefits(tier: Tier) -> dict[str, Any]:
    return {
        "id": tier.id,
        "name": tier.name,
        "threshold": plain(tier.threshold),
        "multiplier": plain(tier.multiplier),
        "entry_points": tier.entry_points,
    }


def holds_at_least(session: Session, shop_id: int, customer_id: int, tier_id: int) -> bool:
    """Whether the member's tier now is `tier_id` or one with a higher threshold."""
    required = session.scalar(
        select(Tier.threshold).where(Tier.shop_id == shop_id, Tier.id == tier_id)
    )
    held = session.scalar(
        select(Tier.threshold)
        .join(MemberTier, MemberTier.tier_id == Tier.id)
        .where(
            MemberTier.shop_id == shop_id,
            MemberTier.customer_id == customer_id,
            Tier.archived_at.is_(None),
        )
    )
    return required is not None and held is not None and held >= required
