"""Privacy-law duties: export what we hold on a customer, erase it, erase a whole shop.

Erasing a customer keeps the ledger (its entries hold no personal data and the shop's totals
must stay consistent) but removes every personal field and every stored webhook body about
them. Erasing a shop deletes everything the shop ever sent us, ledger included: the one
deletion the ledger's trigger allows, and only inside this transaction.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, or_, select, update
from sqlalchemy.orm import Session

from plugin_server.db import repositories
from plugin_server.db.models import (
    AnalyticsDay,
    AnalyticsMemberDay,
    AnalyticsOrderDay,
    AnalyticsReferralDay,
    AnalyticsState,
    Collection,
    CollectionProduct,
    Customer,
    CustomerScore,
    DataExport,
    EarningRule,
    EmailMessage,
    EmailSettings,
    EmailTemplate,
    EmailUnsubscribe,
    InstallState,
    LedgerEntry,
    LedgerPurge,
    LoyaltyEvent,
    MemberTier,
    Order,
    OrderBonus,
    OrderHistory,
    OrderLine,
    OrderRefund,
    OrderSync,
    PredictionModel,
    Redemption,
    Referral,
    ReferralCampaign,
    Reward,
    Shop,
    Tier,
    TierChange,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookReceipt,
    WidgetUseDay,
)
from plugin_server.domain import referrals as referral_rules
from plugin_server.domain.orders import PrivacyEvent

# Children before parents, so foreign keys never block the purge.
_SHOP_TABLES = (
    EmailMessage,
    EmailUnsubscribe,
    EmailTemplate,
    EmailSettings,
    AnalyticsDay,
    AnalyticsMemberDay,
    AnalyticsOrderDay,
    AnalyticsReferralDay,
    AnalyticsState,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    LedgerEntry,
    LoyaltyEvent,
    TierChange,
    MemberTier,
    CustomerScore,
    WidgetUseDay,
    PredictionModel,
    Referral,
    ReferralCampaign,
    OrderLine,
    OrderRefund,
    OrderBonus,
    Order,
    OrderHistory,
    OrderSync,
    Redemption,
    Customer,
    Reward,
    EarningRule,
    CollectionProduct,
    Collection,
    Tier,
    DataExport,
    WebhookReceipt,
)


def _members(session: Session, shop_id: int, event: PrivacyEvent) -> list[Customer]:
    """The customer records the request is about: by platform id, and guests by email."""
    assert event.customer is not None
    refs = [r for r in (event.customer.customer_ref,) if r]
    if event.customer.email:
        refs.append("guest:" + event.customer.email)
    conditions: list[ColumnElement[bool]] = [Customer.customer_ref.in_(refs)] if refs else []
    if event.customer.email:
        conditions.append(Customer.email == event.customer.email)
    if not conditions:
        return []
    return list(
        session.scalars(
            select(Customer)
            .where(Customer.shop_id == shop_id, or_(*conditions))
            .order_by(Customer.id)
        )
    )


def export_customer_data(
    session: Session, shop: Shop, event: PrivacyEvent, *, now: datetime
) -> int:
    """Store everything we hold on the customer for the merchant to hand over; its id.

    Idempotent per data request: a repeated delivery keeps the first export.
    """
    members = _members(session, shop.id, event)
    member_ids = [m.id for m in members]
    orders = list(
        session.scalars(
            select(Order)
            .where(
                Order.shop_id == shop.id,
                or_(Order.customer_id.in_(member_ids), Order.order_ref.in_(event.order_refs)),
            )
            .order_by(Order.id)
        )
    )
    entries = list(
        session.scalars(
            select(LedgerEntry)
            .where(LedgerEntry.shop_id == shop.id, LedgerEntry.customer_id.in_(member_ids))
            .order_by(LedgerEntry.id)
        )
    )
    redeemed = list(
        session.scalars(
            select(Redemption)
            .where(Redemption.shop_id == shop.id, Redemption.customer_id.in_(member_ids))
            .order_by(Redemption.id)
        )
    )
    bought = list(
        session.scalars(
            select(OrderLine)
            .where(
                OrderLine.shop_id == shop.id,
                or_(
                    OrderLine.customer_id.in_(member_ids),
                    OrderLine.order_ref.in_(event.order_refs),
                ),
            )
            .order_by(OrderLine.ordered_at, OrderLine.id)
        )
    )
    sent_emails = list(
        session.scalars(
            select(EmailMessage)
            .where(EmailMessage.shop_id == shop.id, EmailMessage.customer_id.in_(member_ids))
            .order_by(EmailMessage.id)
        )
    )
    unsubscribed = set(
        session.scalars(
            select(EmailUnsubscribe.customer_id).where(
                EmailUnsubscribe.shop_id == shop.id, EmailUnsubscribe.customer_id.in_(member_ids)
            )
        )
    )
    payload: dict[str, Any] = {
        "shop": shop.domain,
        "generated_at": now.isoformat(),
        "customers": [
            {
                "customer_id": m.customer_ref,
                "email": m.email,
                "first_name": m.first_name,
                "last_name": m.last_name,
                "birthday": (
                    f"--{m.birth_month:02d}-{m.birth_day:02d}"  # ISO 8601 without a year
                    if m.birth_month and m.birth_day
                    else None
                ),
                "referral_code": m.referral_code,
                "member_since": m.created_at.isoformat(),
                "balance": repositories.balance(session, shop.id, m.id, now).spendable,
                "emails_unsubscribed": m.id in unsubscribed,
            }
            for m in members
        ],
        "orders": [
            {
                "order_id": o.order_ref,
                "name": o.name,
                "status": o.status,
                "points_earned": o.earned_points,
                "cancelled": o.cancelled,
                "discount_codes": (o.discount_codes or "").split("\n") if o.discount_codes else [],
            }
            for o in orders
        ],
        "order_lines": [
            {
                "order_id": line.order_ref,
                "product_id": line.product_ref,
                "variant_id": line.variant_ref,
                "title": line.title,
                "quantity": line.quantity,
                "amount": str(line.amount),
                "currency": line.currency,
                "ordered_at": line.ordered_at.isoformat(),
            }
            for line in bought
        ],
        "ledger": [
            {
                "points": e.points,
                "kind": e.kind,
                "reason": e.reason,
                "created_at": e.created_at.isoformat(),
                "available_at": e.available_at.isoformat(),
            }
            for e in entries
        ],
        "redemptions": [
            {
                "points": r.points,
                "status": r.status,
                "code": r.code,
                "discount": json.loads(r.discount),
                "created_at": r.created_at.isoformat(),
                "expires_at": r.expires_at.isoformat(),
                "used_order_id": r.used_order_ref,
            }
            for r in redeemed
        ],
        "emails": [
            {
                "type": m.type,
                "status": m.status,
                "to": m.to_address,
                "subject": m.subject,
                "created_at": m.created_at.isoformat(),
                "sent_at": m.sent_at.isoformat() if m.sent_at else None,
            }
            for m in sent_emails
        ],
    }
    customer = event.customer
    assert customer is not None
    request_ref = event.request_ref or "unnumbered"
    repositories.insert_ignoring_conflict(
        session,
        DataExport,
        {
            "shop_id": shop.id,
            "request_ref": request_ref,
            "customer_ref": customer.customer_ref or f"email:{customer.email}",
            "payload": json.dumps(payload),
            "created_at": now,
        },
        ("shop_id", "request_ref"),
    )
    export_id = session.scalar(
        select(DataExport.id).where(
            DataExport.shop_id == shop.id, DataExport.request_ref == request_ref
        )
    )
    assert export_id is not None
    return export_id


def redact_customer(
    session: Session, shop: Shop, event: PrivacyEvent, *, now: datetime | None = None
) -> int:
    """Erase the customer's personal data; their ledger entries and the shop's totals stay.

    Returns how many customer records were erased (0 when already erased: idempotent).
    With `now`, their orders count as changed then, so the next analytics build recomputes
    those days without the email digests (guest buyers are keyed by them).
    """
    customer = event.customer
    assert customer is not None
    members = _members(session, shop.id, event)
    subject_refs = {r for r in (customer.customer_ref,) if r}
    subject_refs.update(m.customer_ref for m in members)
    order_refs = set(event.order_refs)
    order_refs.update(
        session.scalars(
            select(Order.order_ref).where(
                Order.shop_id == shop.id, Order.customer_id.in_([m.id for m in members])
            )
        )
    )
    for member in members:
        digest = hashlib.sha256(f"{shop.id}:{member.customer_ref}".encode()).hexdigest()[:24]
        member.customer_ref = f"redacted:{digest}"
        member.email = member.first_name = member.last_name = None
        member.birth_month = member.birth_day = member.birthday_set_at = None
        member.referral_code = None  # their link stops working; referrals keep their ids
    ids = [m.id for m in members]
    # The digests of their email and address go too; referrals keep only the ids.
    session.execute(
        update(Order)
        .where(Order.shop_id == shop.id, Order.order_ref.in_(order_refs))
        .values(
            email_key=None, shipping_key=None, **({"updated_at": now} if now is not None else {})
        )
    )
    # Their rows of the order history (read from the store for scoring) go entirely.
    history_match: list[ColumnElement[bool]] = (
        [OrderHistory.order_ref.in_(order_refs)] if order_refs else []
    )
    if subject_refs:
        history_match.append(OrderHistory.customer_ref.in_(subject_refs))
    if customer.email:
        history_match.append(OrderHistory.email_key == referral_rules.email_key(customer.email))
    if history_match:
        session.execute(
            delete(OrderHistory).where(OrderHistory.shop_id == shop.id, or_(*history_match))
        )
    # What they bought (read by the offers recommender) goes entirely too.
    line_match: list[ColumnElement[bool]] = (
        [OrderLine.order_ref.in_(order_refs)] if order_refs else []
    )
    if ids:
        line_match.append(OrderLine.customer_id.in_(ids))
    if line_match:
        session.execute(delete(OrderLine).where(OrderLine.shop_id == shop.id, or_(*line_match)))
    if ids:  # when they looked at the widget
        session.execute(
            delete(WidgetUseDay).where(
                WidgetUseDay.shop_id == shop.id, WidgetUseDay.customer_id.in_(ids)
            )
        )
    if ids:
        session.execute(
            update(Referral)
            .where(Referral.shop_id == shop.id, Referral.friend_id.in_(ids))
            .values(friend_email_key=None, claim_address_key=None, claim_device_key=None)
        )
    # Outbound webhook deliveries about them (their platform id, or a guest's email) go
    # too, with their attempt logs; pending ones are never sent.
    if ids:
        about = select(WebhookDelivery.id).where(
            WebhookDelivery.shop_id == shop.id, WebhookDelivery.customer_id.in_(ids)
        )
        session.execute(delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(about)))
        session.execute(
            delete(WebhookDelivery).where(
                WebhookDelivery.shop_id == shop.id, WebhookDelivery.customer_id.in_(ids)
            )
        )
    # Emails to them (their address, the subject) go, queued ones unsent. An
    # unsubscription stays: it holds only ids, and keeps them unsubscribed.
    if ids:
        session.execute(
            delete(EmailMessage).where(
                EmailMessage.shop_id == shop.id, EmailMessage.customer_id.in_(ids)
            )
        )
    # Stored webhook bodies hold names, emails and addresses: remove those about them.
    session.execute(
        delete(WebhookReceipt).where(
            WebhookReceipt.shop_id == shop.id,
            or_(
                WebhookReceipt.customer_ref.in_(subject_refs),
                WebhookReceipt.order_ref.in_(order_refs),
            ),
        )
    )
    session.execute(
        delete(DataExport).where(
            DataExport.shop_id == shop.id, DataExport.customer_ref.in_(subject_refs)
        )
    )
    return len(members)


def redact_shop(session: Session, shop_id: int) -> None:
    """Delete every row the shop owns, the shop itself last."""
    session.add(LedgerPurge(shop_id=shop_id))
    session.flush()
    for model in _SHOP_TABLES:
        session.execute(delete(model).where(model.shop_id == shop_id))
    session.execute(delete(LedgerPurge).where(LedgerPurge.shop_id == shop_id))
    shop = session.get(Shop, shop_id)
    if shop is not None:
        session.execute(
            delete(InstallState).where(
                InstallState.platform == shop.platform, InstallState.shop_domain == shop.domain
            )
        )
    session.execute(delete(Shop).where(Shop.id == shop_id))


def list_exports(session: Session, shop_id: int) -> list[dict[str, Any]]:
    return [
        {
            "id": e.id,
            "request_id": e.request_ref,
            "customer_id": e.customer_ref,
            "created_at": e.created_at.isoformat(),
        }
        for e in session.scalars(
            select(DataExport).where(DataExport.shop_id == shop_id).order_by(DataExport.id.desc())
        )
    ]


def get_export(session: Session, shop_id: int, export_id: int) -> dict[str, Any] | None:
    export = session.scalars(
        select(DataExport).where(DataExport.shop_id == shop_id, DataExport.id == export_id)
    ).one_or_none()
    if export is None:
        return None
    return {
        "id": export.id,
        "request_id": export.request_ref,
        "customer_id": export.customer_ref,
        "created_at": export.created_at.isoformat(),
        "data": json.loads(export.payload),
    }
