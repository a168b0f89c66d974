"""Turning normalised order events into ledger entries.

The outcome for an order is a function of the set of facts known about it (was it paid and
for how much, which refunds exist, was it cancelled), never of the order in which webhooks
delivered those facts: every event first merges its facts into the locked order row, then the
ledger is brought to the state those facts call for.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime

from sqlalchemy.orm import Session

from plugin_server.db import repositories
from plugin_server.db.models import Customer, LedgerEntry, Order, OrderRefund, Shop
from plugin_server.domain import ledger
from plugin_server.domain import orders as domain
from plugin_server.domain.ledger import EntryKind
from plugin_server.services import redemptions, tiers
from plugin_server.services.shops import earning_rules

logger = logging.getLogger(__name__)


class LedgerConflict(Exception):
    """Another transaction wrote the same ledger entry; retrying the job is safe."""


def upsert_customer(
    session: Session, shop_id: int, customer: domain.Customer, *, guests_earn: bool, now: datetime
) -> Customer | None:
    """The member for a platform customer (or, if the shop lets guests earn, a guest's email).

    Returns None for a guest when guests do not earn, or a guest without an email.
    """
    if customer.customer_ref:
        ref = customer.customer_ref
    elif guests_earn and customer.email:
        ref = "guest:" + customer.email
    else:
        return None
    member: Customer = repositories.upsert_locked(
        session,
        Customer,
        {
            "shop_id": shop_id,
            "customer_ref": ref,
            "email": customer.email,
            "first_name": customer.first_name,
            "last_name": customer.last_name,
            "created_at": now,
            "updated_at": now,
        },
        ("shop_id", "customer_ref"),
        keep_existing=("email", "first_name", "last_name"),
    )
    return member


def _snapshot(order: Order) -> ledger.EarningSnapshot | None:
    if order.earned_points is None or order.earning_base is None:
        return None
    assert order.earning_rate is not None
    assert order.currency is not None
    assert order.order_total is not None
    assert order.earn_available_at is not None
    return ledger.EarningSnapshot(
        base=order.earning_base,
        rate=order.earning_rate,
        points=order.earned_points,
        includes_shipping=bool(order.earn_includes_shipping),
        includes_tax=bool(order.earn_includes_tax),
        taxes_included=bool(order.taxes_included),
        currency=order.currency,
        total=order.order_total,
        presentment_currency=order.presentment_currency,
        presentment_total=order.presentment_total,
        available_at=order.earn_available_at,
    )


def _add_entry(session: Session, entry: dict[str, object]) -> int:
    entry_id = repositories.insert_ignoring_conflict(
        session, LedgerEntry, entry, ("shop_id", "idempotency_key")
    )
    if entry_id is None:
        raise LedgerConflict(f"ledger entry {entry['idempotency_key']} already exists")
    return entry_id


def _label(order: Order) -> str:
    return f"order {order.name or order.order_ref}"


def apply_order_event(
    session: Session, shop: Shop, event: domain.OrderEvent, *, now: datetime
) -> list[int]:
    """Merge one order event into its order and append the entries it calls for.

    Must run inside the caller's transaction. Safe to repeat: a duplicate event merges no new
    facts and so appends nothing. Returns the ids of the new ledger entries.
    """
    rules = earning_rules(shop)
    order = repositories.lock_order(session, shop.id, event.order_ref, now)
    member = None
    if event.customer is not None:
        member = upsert_customer(
            session, shop.id, event.customer, guests_earn=rules.guests_earn, now=now
        )
    if order.customer_id is None and member is not None:
        order.customer_id = member.id
    if event.name:
        order.name = event.name
    if event.status:
        order.status = event.status
    if event.discount_codes:
        order.discount_codes = "\n".join(event.discount_codes)
        redemptions.mark_used(session, shop.id, event.discount_codes, event.order_ref, now=now)
    # Cancellation and full refund are one-way: a stale "processing" payload delivered
    # after a cancellation must not bring the order's points back.
    order.cancelled = order.cancelled or event.cancelled
    order.fully_refunded = order.fully_refunded or event.fully_refunded
    order.updated_at = now

    for refund in event.refunds:
        new_refund = repositories.insert_ignoring_conflict(
            session,
            OrderRefund,
            {
                "shop_id": shop.id,
                "order_id": order.id,
                "refund_ref": refund.refund_ref,
                "lines_subtotal": refund.lines_subtotal,
                "shipping": refund.shipping,
                "tax": refund.tax,
                "amount": refund.amount,
                "amount_currency": refund.amount_currency,
                "has_line_items": refund.has_line_items,
                "occurred_at": refund.occurred_at,
                "created_at": now,
            },
            ("shop_id", "order_id", "refund_ref"),
        )
        if new_refund is not None:
            order.refund_count += 1

    new_entries: list[int] = []
    if (
        order.earned_points is None
        and event.totals is not None
        and event.status in rules.award_statuses
    ):
        new_entries += _earn(session, shop, order, event, rules, now=now)
    new_entries += _reverse(session, shop, order, now=now)
    if new_entries and order.customer_id is not None and shop.tiers_changed_at is not None:
        # The member's row lock, as the scheduler's recalculation takes it.
        session.get(Customer, order.customer_id, with_for_update=True)
        tiers.refresh_members(session, shop, [order.customer_id], now=now)
    return new_entries


def _earn(
    session: Session,
    shop: Shop,
    order: Order,
    event: domain.OrderEvent,
    rules: ledger.EarningRules,
    *,
    now: datetime,
) -> list[int]:
    assert event.totals is not None
    paid_at = event.occurred_at or now
    tier_name = None
    if order.customer_id is not None:
        # The tier the member held when the order was paid, whenever its webhook arrives.
        multiplier, tier_name = tiers.multiplier_at(session, shop, order.customer_id, paid_at)
        if multiplier != 1:
            rules = replace(rules, points_per_unit=rules.points_per_unit * multiplier)
    snap = ledger.plan_earning(event.totals, rules, paid_at=paid_at, now=now)
    order.earning_base = snap.base
    order.earning_rate = snap.rate
    order.earn_includes_shipping = snap.includes_shipping
    order.earn_includes_tax = snap.includes_tax
    order.taxes_included = snap.taxes_included
    order.currency = snap.currency
    order.order_total = snap.total
    order.presentment_currency = snap.presentment_currency
    order.presentment_total = snap.presentment_total
    order.earn_available_at = snap.available_at
    if order.customer_id is None:
        # A guest checkout in a shop where guests do not earn: the order is known and
        # settled at zero, so a later refund has nothing to take back.
        order.earned_points = 0
        order.earn_skipped_reason = "guest checkout"
        return []
    order.earned_points = snap.points
    if snap.points == 0:
        order.earn_skipped_reason = "nothing to earn on"
        return []
    entry_id = _add_entry(
        session,
        {
            "shop_id": shop.id,
            "customer_id": order.customer_id,
            "points": snap.points,
            "kind": EntryKind.EARN_ORDER.value,
            "reason": f"Points for {_label(order)}"
            + (
                f" ({tier_name}, {tiers.plain(rules.points_per_unit / shop.points_per_unit)}x)"
                if tier_name and rules.points_per_unit != shop.points_per_unit
                else ""
            ),
            "source_type": "order",
            "source_ref": order.order_ref,
            "order_id": order.id,
            "idempotency_key": f"order:{order.order_ref}:earn",
            "created_at": now,
            "available_at": max(now, snap.available_at),
        },
    )
    logger.info(
        "order earned points",
        extra={"shop_id": shop.id, "order_id": order.id, "points": snap.points},
    )
    return [entry_id]


def _reverse(session: Session, shop: Shop, order: Order, *, now: datetime) -> list[int]:
    voided = order.cancelled or order.fully_refunded
    if not (voided or order.refund_count):
        return []  # nothing can have been taken back yet: skip the queries below
    snap = _snapshot(order)
    if snap is None or snap.points == 0 or order.customer_id is None:
        return []
    refunds = [
        domain.Refund(
            refund_ref=r.refund_ref,
            lines_subtotal=r.lines_subtotal,
            shipping=r.shipping,
            tax=r.tax,
            amount=r.amount,
            amount_currency=r.amount_currency,
            has_line_items=r.has_line_items,
        )
        for r in repositories.order_refunds(session, shop.id, order.id)
    ]
    target = ledger.points_to_reverse(snap, refunds, voided=voided)
    already, count = repositories.order_reversals(session, shop.id, order.id)
    delta = target - already
    if delta <= 0:
        return []
    if order.cancelled:
        reason = f"{_label(order).capitalize()} was cancelled"
    elif order.fully_refunded or target == snap.points:
        reason = f"{_label(order).capitalize()} was refunded in full"
    else:
        reason = f"Refund on {_label(order)}"
    entry_id = _add_entry(
        session,
        {
            "shop_id": shop.id,
            "customer_id": order.customer_id,
            "points": -delta,
            "kind": EntryKind.REVERSE_ORDER.value,
            "reason": reason,
            "source_type": "order",
            "source_ref": order.order_ref,
            "order_id": order.id,
            "idempotency_key": f"order:{order.order_ref}:reversal:{count + 1}",
            # Taking back points that are still pending reduces what is pending, not what the
            # shopper can spend today.
            "created_at": now,
            "available_at": max(now, snap.available_at),
        },
    )
    return [entry_id]
