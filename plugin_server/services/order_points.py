"""Turning normalised order events into ledger entries.

The outcome for an order is a function of the set of facts known about it (was it paid and
for how much, which refunds exist, was it cancelled), never of the order in which webhooks
delivered those facts: every event first merges its facts into the locked order row, then the
ledger is brought to the state those facts call for.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin_server.db import repositories
from plugin_server.db.models import (
    Customer,
    EarningRule,
    LedgerEntry,
    Order,
    OrderBonus,
    OrderRefund,
    Shop,
)
from plugin_server.domain import ledger
from plugin_server.domain import orders as domain
from plugin_server.domain import referrals as referral_rules
from plugin_server.domain.ledger import EntryKind
from plugin_server.services import earning_rules as rule_service
from plugin_server.services import guest_merge, order_lines, redemptions, referrals, scores, tiers
from plugin_server.services.shops import earning_rules

logger = logging.getLogger(__name__)


class LedgerConflict(Exception):
    """Another transaction wrote the same ledger entry; retrying the job is safe."""


def upsert_customer(
    session: Session, shop: Shop, customer: domain.Customer, *, guests_earn: bool, now: datetime
) -> tuple[Customer | None, list[int]]:
    """The member for a platform customer (or, if `guests_earn`, a guest's email), and the
    ids of the ledger entries that moved a guest's points to it if this is the account's
    first appearance (`services.guest_merge`).

    The member is None for a guest when guests do not earn, or a guest without an email.
    """
    if customer.customer_ref:
        ref = customer.customer_ref
    elif guests_earn and customer.email:
        ref = "guest:" + customer.email
    else:
        return None, []
    guest = guest_merge.lock_guest_for_new_account(
        session, shop, customer.customer_ref, customer.email
    )
    member: Customer = repositories.upsert_locked(
        session,
        Customer,
        {
            "shop_id": shop.id,
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
    moved = guest_merge.merge_guest(session, shop, guest, member, now=now) if guest else []
    return member, moved


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
        excluded_lines=frozenset(json.loads(order.excluded_lines or "[]")),
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
    member: Customer | None = None
    new_entries: list[int] = []
    if event.customer is not None:
        member, new_entries = upsert_customer(
            session, shop, event.customer, guests_earn=rules.guests_earn, now=now
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
    buyer_email = event.customer.email if event.customer is not None else None
    if order.email_key is None and buyer_email:
        order.email_key = referral_rules.email_key(buyer_email)
    if order.shipping_key is None and event.shipping_address:
        order.shipping_key = referral_rules.address_key(event.shipping_address)
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
                "lines": _refund_lines_json(refund),
                "created_at": now,
            },
            ("shop_id", "order_id", "refund_ref"),
        )
        if new_refund is not None:
            order.refund_count += 1

    paid_now = (
        order.earned_points is None
        and event.totals is not None
        and event.status in rules.award_statuses
    )
    if paid_now:
        new_entries += _earn(session, shop, order, event, rules, now=now)
        assert event.totals is not None
        # What it bought, once: `paid_now` holds for one event per order, and the lines'
        # unique key makes a replayed or concurrent delivery write nothing more.
        order_lines.record_lines(
            session,
            shop.id,
            order_ref=order.order_ref,
            order_id=order.id,
            customer_id=order.customer_id,
            lines=event.lines,
            currency=event.totals.currency,
            ordered_at=order.paid_at or now,
            now=now,
        )
    new_entries += _reverse(session, shop, order, now=now)
    if paid_now or order.cancelled or order.fully_refunded or order.refund_count:
        referrals.on_order(
            session,
            shop,
            order,
            paid_now=paid_now,
            subtotal=event.totals.subtotal if event.totals is not None else None,
            codes=event.discount_codes,
            attributes=dict(event.attributes),
            email=buyer_email,
            paid_at=event.occurred_at or now,
            now=now,
        )
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
    # Collections are matched against the shop's copy as it is now, when the order is
    # paid; the bonus snapshot keeps the lines that qualified, so refunds never re-match.
    never_earn, campaigns = rule_service.order_rules(
        session, shop.id, {line.product_ref for line in event.lines if line.product_ref}
    )
    excluded = [line for line in event.lines if line.product_ref in never_earn]
    snap = ledger.plan_earning(event.totals, rules, paid_at=paid_at, now=now, excluded=excluded)
    if snap.excluded_lines:
        order.excluded_lines = json.dumps(sorted(snap.excluded_lines))
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
    order.paid_at = paid_at
    if order.customer_id is None:
        # A guest checkout in a shop where guests do not earn: the order is known and
        # settled at zero, so a later refund has nothing to take back.
        order.earned_points = 0
        order.earn_skipped_reason = "guest checkout"
        return []
    order.earned_points = snap.points
    if snap.points == 0:
        order.earn_skipped_reason = (
            "only products that never earn" if excluded else "nothing to earn on"
        )
        return _campaign_bonus(session, shop, order, snap, event.lines, campaigns, paid_at, now=now)
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
    bonus = _campaign_bonus(session, shop, order, snap, event.lines, campaigns, paid_at, now=now)
    return [entry_id, *bonus]


def _refund_lines_json(refund: domain.Refund) -> str | None:
    if not refund.lines:
        return None
    return json.dumps([[r.line_ref, str(r.subtotal), str(r.tax)] for r in refund.lines])


def _refund_lines(stored: str | None) -> tuple[domain.RefundLine, ...]:
    return tuple(
        domain.RefundLine(line_ref=ref, subtotal=Decimal(subtotal), tax=Decimal(tax))
        for ref, subtotal, tax in json.loads(stored or "[]")
    )


def _campaign_bonus(
    session: Session,
    shop: Shop,
    order: Order,
    snap: ledger.EarningSnapshot,
    lines: tuple[domain.OrderLine, ...],
    campaigns: list[ledger.Campaign],
    paid_at: datetime,
    *,
    now: datetime,
) -> list[int]:
    """The campaign bonus the order earns (at most one: the best), as its own entry naming
    the campaign, pending as long as the order's points are."""
    if not campaigns:
        return []
    segment = None
    if order.customer_id is not None and any(c.segments for c in campaigns):
        # The segment as last computed (services.scores), not recomputed for this order.
        segment = scores.segment_of(session, shop.id, order.customer_id)
    bonus = ledger.plan_campaign_bonus(campaigns, snap, lines, paid_at=paid_at, segment=segment)
    if bonus is None:
        return []
    campaign, given = bonus.campaign, bonus.snapshot
    repositories.insert_ignoring_conflict(
        session,
        OrderBonus,
        {
            "shop_id": shop.id,
            "order_id": order.id,
            "rule_id": campaign.rule_id,
            "base": given.base,
            "points": given.points,
            "includes_shipping": given.includes_shipping,
            "line_refs": (
                json.dumps(sorted(given.only_lines)) if given.only_lines is not None else None
            ),
            "created_at": now,
        },
        ("shop_id", "order_id", "rule_id"),
    )
    terms = f" ({tiers.plain(campaign.multiplier)}x)" if campaign.multiplier else ""
    entry_id = _add_entry(
        session,
        {
            "shop_id": shop.id,
            "customer_id": order.customer_id,
            "points": given.points,
            "kind": EntryKind.CAMPAIGN_BONUS.value,
            "reason": f"{campaign.name}{terms}: bonus on {_label(order)}",
            "source_type": rule_service.SOURCE,
            "source_ref": campaign.key,
            "order_id": order.id,
            "idempotency_key": f"order:{order.order_ref}:campaign:{campaign.rule_id}",
            "created_at": now,
            "available_at": max(now, given.available_at),
        },
    )
    logger.info(
        "order earned a campaign bonus",
        extra={
            "shop_id": shop.id,
            "order_id": order.id,
            "rule_id": campaign.rule_id,
            "points": given.points,
        },
    )
    return [entry_id]


def _reverse_bonuses(
    session: Session,
    shop: Shop,
    order: Order,
    snap: ledger.EarningSnapshot,
    refunds: list[domain.Refund],
    *,
    voided: bool,
    now: datetime,
) -> list[int]:
    """Take back the refunded share of the order's campaign bonus, on the bonus's own
    snapshot (its qualifying lines), never more than it gave and never twice."""
    new_entries = []
    for bonus, key in session.execute(
        select(OrderBonus, EarningRule.key)
        .join(EarningRule, EarningRule.id == OrderBonus.rule_id)
        .where(OrderBonus.shop_id == shop.id, OrderBonus.order_id == order.id)
        .order_by(OrderBonus.id)
    ).all():
        given = replace(
            snap,
            base=bonus.base,
            points=bonus.points,
            includes_shipping=bonus.includes_shipping,
            only_lines=(
                frozenset(json.loads(bonus.line_refs)) if bonus.line_refs is not None else None
            ),
        )
        target = ledger.points_to_reverse(given, refunds, voided=voided)
        already, count = session.execute(
            select(
                func.coalesce(func.sum(LedgerEntry.points), 0), func.count(LedgerEntry.id)
            ).where(
                LedgerEntry.shop_id == shop.id,
                LedgerEntry.order_id == order.id,
                LedgerEntry.kind == EntryKind.REVERSE_CAMPAIGN_BONUS.value,
                LedgerEntry.source_ref == key,
            )
        ).one()
        delta = target + int(already)  # reversals are negative
        if delta <= 0:
            continue
        new_entries.append(
            _add_entry(
                session,
                {
                    "shop_id": shop.id,
                    "customer_id": order.customer_id,
                    "points": -delta,
                    "kind": EntryKind.REVERSE_CAMPAIGN_BONUS.value,
                    "reason": f"Bonus taken back: {_label(order)} was "
                    + ("cancelled" if order.cancelled else "refunded"),
                    "source_type": rule_service.SOURCE,
                    "source_ref": key,
                    "order_id": order.id,
                    "idempotency_key": (
                        f"order:{order.order_ref}:campaign:{bonus.rule_id}:reversal:{count + 1}"
                    ),
                    "created_at": now,
                    "available_at": max(now, snap.available_at),
                },
            )
        )
    return new_entries


def _reverse(session: Session, shop: Shop, order: Order, *, now: datetime) -> list[int]:
    voided = order.cancelled or order.fully_refunded
    if not (voided or order.refund_count):
        return []  # nothing can have been taken back yet: skip the queries below
    snap = _snapshot(order)
    if snap is None or order.customer_id is None:
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
            lines=_refund_lines(r.lines),
        )
        for r in repositories.order_refunds(session, shop.id, order.id)
    ]
    bonus = _reverse_bonuses(session, shop, order, snap, refunds, voided=voided, now=now)
    if snap.points == 0:
        return bonus
    target = ledger.points_to_reverse(snap, refunds, voided=voided)
    already, count = repositories.order_reversals(session, shop.id, order.id)
    delta = target - already
    if delta <= 0:
        return bonus
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
    return [entry_id, *bonus]
