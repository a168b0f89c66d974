"""Referral campaigns and referrals: codes, claims, attribution, review and rewards.

How one referral runs:
1. Every member has a referral code (given the first time it is asked for) and a link
   `https://<store>/?ref=<code>`.
2. A friend who arrives through the link *claims* the offer (signed in, or with an email):
   a `referrals` row and a zero-point redemption that the store turns into the friend's
   single-use discount code, exactly as a points redemption is issued.
3. The friend's first qualifying paid order is attributed to the referral by, in order:
   the friend's code on the order (survives any device or browser), the advocate's code in
   the order's attributes (the widget puts it on the cart), or the order's email being the
   one the friend claimed with. The checks run then; any that trips holds the referral
   (`flagged`) for the merchant instead of paying.
4. When the order's pending period has passed (the scheduler's `settle_due`), the advocate
   is rewarded once (idempotency key `referral:<id>:advocate`). A cancellation or refund
   within the period voids the referral; after it, the reward stands.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from plugin_server.db import repositories
from plugin_server.db.models import (
    Customer,
    LedgerEntry,
    LoyaltyEvent,
    Order,
    OrderRefund,
    Redemption,
    Referral,
    ReferralCampaign,
    Shop,
)
from plugin_server.db.unit_of_work import UnitOfWork
from plugin_server.domain import referrals as rules
from plugin_server.domain.errors import (
    AlreadyReferred,
    CustomerNotFound,
    NoReferralCampaign,
    NotNewCustomer,
    OwnReferralCode,
    ReferralCampaignNotFound,
    ReferralCodeNotFound,
    ReferralNotFound,
    ReferralNotReviewable,
    ShopInactive,
    ValidationFailed,
)
from plugin_server.domain.ledger import EntryKind
from plugin_server.domain.referrals import Flag, Status
from plugin_server.services import redemptions

logger = logging.getLogger(__name__)

_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


# --- campaigns ----------------------------------------------------------------------------


def campaign_view(c: ReferralCampaign, *, now: datetime | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": c.id,
        "name": c.name,
        "starts_at": c.starts_at.isoformat(),
        "ends_at": _iso(c.ends_at),
        "friend_discount_kind": c.friend_discount_kind,
        "friend_discount_value": _money(c.friend_discount_value),
        "currency": c.currency,
        "friend_code_valid_days": c.friend_code_valid_days,
        "advocate_reward_kind": c.advocate_reward_kind,
        "advocate_points": c.advocate_points,
        "advocate_discount_kind": c.advocate_discount_kind,
        "advocate_discount_value": _money(c.advocate_discount_value),
        "min_order_subtotal": _money(c.min_order_subtotal),
        "advocate_limit": c.advocate_limit,
        "advocate_period_limit": c.advocate_period_limit,
        "advocate_limit_period": c.advocate_limit_period,
        "archived": c.archived_at is not None,
        "created_at": c.created_at.isoformat(),
        "updated_at": c.updated_at.isoformat(),
    }
    if now is not None:
        out["live"] = _is_live(c, now)
    return out


def _is_live(c: ReferralCampaign, at: datetime) -> bool:
    return c.archived_at is None and c.starts_at <= at and (c.ends_at is None or at < c.ends_at)


def _columns(c: ReferralCampaign) -> dict[str, Any]:
    return {name: getattr(c, name) for name in rules.FIELDS}


def create_campaign(
    uow: UnitOfWork, shop_id: int, fields: Mapping[str, Any], *, now: datetime
) -> dict[str, Any]:
    values = rules.validate_campaign(fields)
    with uow:
        campaign = ReferralCampaign(shop_id=shop_id, created_at=now, updated_at=now, **values)
        uow.session.add(campaign)
        uow.session.flush()
        out = campaign_view(campaign, now=now)
        uow.commit()
    return out


def _campaign(
    session: Session, shop_id: int, campaign_id: int, *, lock: bool = False
) -> ReferralCampaign:
    stmt = select(ReferralCampaign).where(
        ReferralCampaign.shop_id == shop_id, ReferralCampaign.id == campaign_id
    )
    found = session.scalars(stmt.with_for_update() if lock else stmt).one_or_none()
    if found is None:
        raise ReferralCampaignNotFound(f"no referral campaign {campaign_id} in this shop")
    return found


def list_campaigns(
    uow: UnitOfWork, shop_id: int, *, status: str, now: datetime
) -> list[dict[str, Any]]:
    with uow:
        stmt = select(ReferralCampaign).where(ReferralCampaign.shop_id == shop_id)
        if status == "active":
            stmt = stmt.where(ReferralCampaign.archived_at.is_(None))
        elif status == "archived":
            stmt = stmt.where(ReferralCampaign.archived_at.is_not(None))
        return [
            campaign_view(c, now=now)
            for c in uow.session.scalars(
                stmt.order_by(ReferralCampaign.starts_at.desc(), ReferralCampaign.id.desc())
            )
        ]


def get_campaign(
    uow: UnitOfWork, shop_id: int, campaign_id: int, *, now: datetime
) -> dict[str, Any]:
    with uow:
        return campaign_view(_campaign(uow.session, shop_id, campaign_id), now=now)


def update_campaign(
    uow: UnitOfWork, shop_id: int, campaign_id: int, changes: Mapping[str, Any], *, now: datetime
) -> dict[str, Any]:
    """Change a campaign's terms. Referrals already claimed keep the friend's code as it was
    issued; the advocate reward of referrals not yet rewarded follows the new terms."""
    with uow:
        campaign = _campaign(uow.session, shop_id, campaign_id, lock=True)
        values = rules.validate_campaign(changes, _columns(campaign))
        for name, value in values.items():
            setattr(campaign, name, value)
        campaign.updated_at = now
        out = campaign_view(campaign, now=now)
        uow.commit()
    return out


def archive_campaign(
    uow: UnitOfWork, shop_id: int, campaign_id: int, *, now: datetime
) -> dict[str, Any]:
    """Stop a campaign: no new claims. Referrals already claimed still complete."""
    with uow:
        campaign = _campaign(uow.session, shop_id, campaign_id, lock=True)
        if campaign.archived_at is None:
            campaign.archived_at = campaign.updated_at = now
        out = campaign_view(campaign, now=now)
        uow.commit()
    return out


def live_campaign(
    session: Session | Connection, shop_id: int, at: datetime
) -> ReferralCampaign | None:
    """The campaign friends can claim now: when several overlap, the one that started last."""
    stmt = (
        select(ReferralCampaign)
        .where(
            ReferralCampaign.shop_id == shop_id,
            ReferralCampaign.archived_at.is_(None),
            ReferralCampaign.starts_at <= at,
            or_(ReferralCampaign.ends_at.is_(None), ReferralCampaign.ends_at > at),
        )
        .order_by(ReferralCampaign.starts_at.desc(), ReferralCampaign.id.desc())
        .limit(1)
    )
    if isinstance(session, Session):
        return session.scalars(stmt).first()
    row = session.execute(stmt).first()
    return None if row is None else row[0]


def offer_view(c: ReferralCampaign) -> dict[str, Any]:
    """What the storefront tells shoppers about the live campaign."""
    return {
        "campaign_id": c.id,
        "friend": {
            "kind": c.friend_discount_kind,
            "value": _money(c.friend_discount_value),
            "currency": c.currency,
            "valid_days": c.friend_code_valid_days,
        },
        "advocate": {
            "kind": c.advocate_reward_kind,
            "points": c.advocate_points,
            "discount_kind": c.advocate_discount_kind,
            "discount_value": _money(c.advocate_discount_value),
            "currency": c.currency,
        },
        "min_order_subtotal": _money(c.min_order_subtotal),
        "ends_at": _iso(c.ends_at),
    }


# --- members' codes -----------------------------------------------------------------------


def new_member_code(first_name: str | None) -> str:
    prefix = rules.code_prefix(first_name)
    tail = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(10 - len(prefix) // 2))
    return (prefix + tail)[:14]


def link_for(shop_domain: str, code: str) -> str:
    """The store's home page with the code. Shopify shops are known by their myshopify
    domain (it redirects to the shop's own domain, keeping the query); WooCommerce stores
    by their URL."""
    base = shop_domain.rstrip("/") if "://" in shop_domain else f"https://{shop_domain}"
    return f"{base}/?ref={code}"


def assign_code(conn: Connection, shop_id: int, customer_id: int, first_name: str | None) -> str:
    """The member's referral code, giving one if they have none. Safe under concurrency:
    the UPDATE only fills an empty code, and a (rare) clash with another member's code
    is retried with a new one inside a savepoint."""
    for _ in range(8):
        code = new_member_code(first_name)
        try:
            with conn.begin_nested():
                conn.execute(
                    update(Customer)
                    .where(
                        Customer.id == customer_id,
                        Customer.shop_id == shop_id,
                        Customer.referral_code.is_(None),
                    )
                    .values(referral_code=code)
                )
        except IntegrityError:
            continue
        current = conn.scalar(select(Customer.referral_code).where(Customer.id == customer_id))
        assert current is not None
        return current
    raise RuntimeError("could not find a free referral code")  # pragma: no cover


def member_referral(
    session: Session, shop: Shop, customer: Customer, *, now: datetime
) -> dict[str, Any]:
    """A member's code, link and how their referrals stand (for the customer API)."""
    code = customer.referral_code or assign_code(
        session.connection(), shop.id, customer.id, customer.first_name
    )
    counts = _counts_by_status(session, shop.id, customer.id)
    return {
        "code": code,
        "link": link_for(shop.domain, code),
        "referred": {s.value: int(counts.get(s.value, 0)) for s in Status},
    }


def _counts_by_status(conn: Session | Connection, shop_id: int, advocate_id: int) -> dict[str, int]:
    """How many of the advocate's referrals are in each status."""
    rows = conn.execute(
        select(Referral.status, func.count())
        .where(Referral.shop_id == shop_id, Referral.advocate_id == advocate_id)
        .group_by(Referral.status)
    ).all()
    return {status: int(n) for status, n in rows}


def storefront_referral(
    conn: Connection, shop_id: int, shop_domain: str, customer_id: int, code: str
) -> dict[str, Any]:
    """The widget's referral slot: the member's code, link and friends so far."""
    counts = _counts_by_status(conn, shop_id, customer_id)
    return {
        "code": code,
        "link": link_for(shop_domain, code),
        "friends_joined": int(sum(counts.values())),
        "friends_pending": int(counts.get("pending", 0) + counts.get("flagged", 0)),
        "friends_rewarded": int(counts.get("rewarded", 0)),
    }


def _advocate_by_code(session: Session, shop_id: int, raw_code: str) -> Customer:
    code = rules.normalise_code(raw_code)
    advocate = None
    if code is not None:
        advocate = session.scalars(
            select(Customer).where(Customer.shop_id == shop_id, Customer.referral_code == code)
        ).one_or_none()
    if advocate is None:
        raise ReferralCodeNotFound("this referral code is not one of this shop's")
    return advocate


def offer_for_code(
    uow: UnitOfWork, shop_id: int, raw_code: str, *, now: datetime
) -> dict[str, Any]:
    """What a friend arriving through a link is offered, and by whom (first name only)."""
    with uow:
        advocate = _advocate_by_code(uow.session, shop_id, raw_code)
        campaign = live_campaign(uow.session, shop_id, now)
        if campaign is None:
            raise NoReferralCampaign("this shop has no referral offer running")
        assert advocate.referral_code is not None
        return {
            "code": advocate.referral_code,
            "advocate_first_name": advocate.first_name,
            "offer": offer_view(campaign),
        }


# --- claims -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Claim:
    view: dict[str, Any]
    created: bool
    redemption_id: int | None  # the friend's code to have issued, after the commit


def claim_view(r: Referral, redemption: Redemption | None) -> dict[str, Any]:
    status = redemption.status if redemption is not None else None
    return {
        "referral_id": r.id,
        "status": status or "none",
        # The code is only worth showing once the store has it.
        "code": redemption.code
        if redemption is not None and status in (redemptions.ISSUED, redemptions.USED)
        else None,
        "title": json.loads(redemption.discount)["title"] if redemption is not None else None,
        "expires_at": _iso(redemption.expires_at) if redemption is not None else None,
    }


def _friend_discount(c: ReferralCampaign) -> dict[str, Any]:
    percent = c.friend_discount_kind == "percentage"
    title = "Friend offer: " + rules.describe_discount(
        c.friend_discount_kind, c.friend_discount_value, c.currency
    )
    return {
        "kind": c.friend_discount_kind,
        "title": title,
        "amount": None if percent else f"{c.friend_discount_value:.2f}",
        "currency": None if percent else c.currency,
        "percent": f"{c.friend_discount_value:.2f}" if percent else None,
        "min_subtotal": None,
        "product_ids": [],
        "collection_ids": [],
    }


def _free_code(
    session: Session,
    shop_id: int,
    customer_id: int,
    discount: dict[str, Any],
    valid_days: int,
    fingerprint: str,
    *,
    now: datetime,
) -> Redemption:
    """A zero-point redemption: a code the store will create, costing the member nothing."""
    redemption = Redemption(
        shop_id=shop_id,
        customer_id=customer_id,
        reward_id=None,
        points=0,
        code=redemptions.new_code(),
        status=redemptions.PENDING,
        discount=json.dumps(discount),
        idempotency_key=None,
        request_fingerprint=hashlib.sha256(fingerprint.encode()).hexdigest(),
        attempts=0,
        expires_at=now + timedelta(days=valid_days),
        created_at=now,
        updated_at=now,
    )
    session.add(redemption)
    session.flush()
    return redemption


def _claims_from(
    session: Session, shop_id: int, address_key: str | None, device_key: str | None, now: datetime
) -> int:
    keys = []
    if address_key:
        keys.append(Referral.claim_address_key == address_key)
    if device_key:
        keys.append(Referral.claim_device_key == device_key)
    if not keys:
        return 0
    return int(
        session.scalar(
            select(func.count())
            .select_from(Referral)
            .where(
                Referral.shop_id == shop_id,
                Referral.created_at > now - rules.CLAIM_WINDOW,
                or_(*keys),
            )
        )
        or 0
    )


def claim(
    uow: UnitOfWork,
    shop_id: int,
    raw_code: str,
    *,
    customer_ref: str | None,
    email: str | None,
    address: str | None,
    device: str | None,
    now: datetime,
) -> Claim:
    """A friend takes the offer behind an advocate's code: their discount code is recorded
    (pending at the store) and the referral begins. Repeating the claim returns it as it is.

    Refused with a clear error: an unknown code, no live campaign, the advocate's own code,
    an email already referred by someone else, or an email that has already ordered here.
    """
    if customer_ref is None and (not email or not rules.valid_email(email.strip())):
        raise ValidationFailed("give the email your code should be sent to", field="email")
    with uow:
        session = uow.session
        shop = session.get(Shop, shop_id)
        assert shop is not None
        if not shop.active:
            raise ShopInactive("the shop has uninstalled the app")
        advocate = _advocate_by_code(session, shop_id, raw_code)
        campaign = live_campaign(session, shop_id, now)
        if campaign is None:
            raise NoReferralCampaign("this shop has no referral offer running")
        friend: Customer | None = None
        if customer_ref is not None:
            friend = repositories.customer_by_ref(session, shop_id, customer_ref)
            if friend is None:
                friend = _member_row(session, shop_id, customer_ref, email=None, now=now)
            email = friend.email or email
        if friend is not None and friend.id == advocate.id:
            raise OwnReferralCode("this is your own referral code: share it with friends")
        key = rules.email_key(email)
        if key is not None and key == rules.email_key(advocate.email):
            raise OwnReferralCode("this is your own referral code: share it with friends")
        existing = _existing_claim(session, shop_id, key, friend)
        if existing is not None:
            if existing.advocate_id != advocate.id:
                raise AlreadyReferred("this email has already been referred by another member")
            found = (
                session.get(Redemption, existing.friend_redemption_id)
                if existing.friend_redemption_id
                else None
            )
            pending = found.id if found is not None and found.status == "pending" else None
            return Claim(claim_view(existing, found), False, pending)
        if _ordered_before(session, shop_id, key, friend.id if friend else None):
            raise NotNewCustomer(
                "referral offers are for a first order, and this email has ordered here before"
            )
        if friend is None:
            assert email is not None
            friend = _member_row(
                session, shop_id, "guest:" + email.strip().lower(), email=email.strip(), now=now
            )
        address_key, device_key = rules.source_key(address), rules.source_key(device)
        flags = []
        if (
            _claims_from(session, shop_id, address_key, device_key, now)
            >= rules.CLAIMS_PER_SOURCE_PER_DAY
        ):
            flags.append(Flag.CLAIM_VELOCITY.value)
        redemption = _free_code(
            session,
            shop_id,
            friend.id,
            _friend_discount(campaign),
            campaign.friend_code_valid_days,
            f"referral:{advocate.id}:{key}",
            now=now,
        )
        referral = Referral(
            shop_id=shop_id,
            campaign_id=campaign.id,
            advocate_id=advocate.id,
            friend_id=friend.id,
            friend_email_key=key,
            status=Status.CLAIMED.value,
            flags=",".join(flags),
            friend_redemption_id=redemption.id,
            friend_code=redemption.code,
            claim_address_key=address_key,
            claim_device_key=device_key,
            created_at=now,
            updated_at=now,
        )
        session.add(referral)
        try:
            session.flush()
        except IntegrityError:
            # The same friend claimed at the same moment elsewhere: theirs stands.
            raise AlreadyReferred("this friend has just been referred") from None
        out = Claim(claim_view(referral, redemption), True, redemption.id)
        uow.commit()
    return out


def _member_row(
    session: Session, shop_id: int, ref: str, *, email: str | None, now: datetime
) -> Customer:
    member: Customer = repositories.upsert_locked(
        session,
        Customer,
        {
            "shop_id": shop_id,
            "customer_ref": ref,
            "email": email,
            "first_name": None,
            "last_name": None,
            "created_at": now,
            "updated_at": now,
        },
        ("shop_id", "customer_ref"),
        keep_existing=("email", "first_name", "last_name"),
    )
    return member


def _existing_claim(
    session: Session, shop_id: int, key: str | None, friend: Customer | None
) -> Referral | None:
    conditions = []
    if key is not None:
        conditions.append(Referral.friend_email_key == key)
    if friend is not None:
        conditions.append(Referral.friend_id == friend.id)
    if not conditions:
        return None
    return session.scalars(
        select(Referral)
        .where(Referral.shop_id == shop_id, or_(*conditions))
        .order_by(Referral.id)
        .limit(1)
    ).first()


def _ordered_before(
    session: Session,
    shop_id: int,
    key: str | None,
    friend_id: int | None,
    *,
    before_order: int | None = None,
    before: datetime | None = None,
) -> bool:
    """Whether these people have a paid order here (other than `before_order`)."""
    who = []
    if key is not None:
        who.append(Order.email_key == key)
    if friend_id is not None:
        who.append(Order.customer_id == friend_id)
    if not who:
        return False
    stmt = select(Order.id).where(
        Order.shop_id == shop_id, or_(*who), Order.earning_base.is_not(None)
    )
    if before_order is not None:
        stmt = stmt.where(Order.id != before_order)
    if before is not None:
        stmt = stmt.where(Order.created_at < before)
    return session.scalar(stmt.limit(1)) is not None


# --- orders -------------------------------------------------------------------------------


def on_order(
    session: Session,
    shop: Shop,
    order: Order,
    *,
    paid_now: bool,
    subtotal: Decimal | None,
    codes: tuple[str, ...],
    attributes: Mapping[str, str],
    email: str | None,
    paid_at: datetime,
    now: datetime,
) -> None:
    """Attribute a newly paid order to a referral, or void the referral its order qualified
    when that order is cancelled or refunded within its pending period. Runs inside the
    order event's transaction, after its entries."""
    linked = session.scalars(
        select(Referral)
        .where(Referral.shop_id == shop.id, Referral.order_id == order.id)
        .with_for_update()
    ).one_or_none()
    if linked is not None:
        _maybe_void(session, linked, order, now=now)
        return
    if not paid_now or subtotal is None:
        return
    referral, how = _attribute(session, shop, order, codes, attributes, email, now=now)
    if referral is None or how is None:
        return
    campaign = session.get(ReferralCampaign, referral.campaign_id)
    assert campaign is not None
    why_not = rules.qualifies(
        subtotal,
        paid_at,
        {
            "min_order_subtotal": campaign.min_order_subtotal,
            "starts_at": campaign.starts_at,
            "ends_at": campaign.ends_at,
        },
    )
    if why_not is not None:
        logger.info(
            "order does not qualify its referral: %s",
            why_not,
            extra={"shop_id": shop.id, "referral_id": referral.id},
        )
        return
    if order.customer_id is not None:
        # The account that ordered is the friend (they may have claimed as a guest).
        referral.friend_id = order.customer_id
    flags = set(referral.flags.split(",")) - {""}
    flags.update(
        f.value
        for f in rules.flags_for(
            _facts(session, shop.id, referral, order, campaign, now=now),
            rules.Limits(campaign.advocate_limit, campaign.advocate_period_limit),
        )
    )
    referral.flags = ",".join(sorted(flags))
    referral.order_id = order.id
    referral.order_subtotal = subtotal
    referral.attributed_by = how
    referral.qualifies_at = max(order.earn_available_at or now, now)
    referral.status = (Status.FLAGGED if flags else Status.PENDING).value
    referral.updated_at = now
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        # This friend's referral is already qualified by another order: first order wins.
        session.expire(referral)
        return
    if flags:
        _event(session, referral, "referral_flagged", {"flags": sorted(flags)}, now=now)
    logger.info(
        "referral qualified",
        extra={"shop_id": shop.id, "referral_id": referral.id, "status": referral.status},
    )


def _attribute(
    session: Session,
    shop: Shop,
    order: Order,
    codes: tuple[str, ...],
    attributes: Mapping[str, str],
    email: str | None,
    *,
    now: datetime,
) -> tuple[Referral | None, str | None]:
    wanted = sorted({c.strip().upper() for c in codes if c.strip()})
    base = select(Referral).where(Referral.shop_id == shop.id).with_for_update()
    if wanted:
        found = session.scalars(base.where(Referral.friend_code.in_(wanted))).first()
        if found is not None:
            return _if_open(found, rules.Attribution.DISCOUNT_CODE)
    key = rules.email_key(email)
    friend_id = order.customer_id
    raw = attributes.get(rules.ORDER_ATTRIBUTE)
    if raw:
        try:
            advocate = _advocate_by_code(session, shop.id, raw)
        except ReferralCodeNotFound:
            advocate = None
        if advocate is not None:
            existing = _existing_claim(session, shop.id, key, _customer(session, friend_id))
            if existing is not None:
                return _if_open(existing, rules.Attribution.ORDER_ATTRIBUTE)
            campaign = live_campaign(session, shop.id, now)
            if campaign is None:
                return None, None
            referral = Referral(
                shop_id=shop.id,
                campaign_id=campaign.id,
                advocate_id=advocate.id,
                friend_id=friend_id,
                friend_email_key=key,
                status=Status.CLAIMED.value,
                flags="",
                created_at=now,
                updated_at=now,
            )
            session.add(referral)
            try:
                with session.begin_nested():
                    session.flush()
            except IntegrityError:
                return None, None
            return referral, rules.Attribution.ORDER_ATTRIBUTE.value
    if key is not None:
        found = session.scalars(base.where(Referral.friend_email_key == key)).first()
        if found is not None:
            return _if_open(found, rules.Attribution.EMAIL)
    return None, None


def _customer(session: Session, customer_id: int | None) -> Customer | None:
    return None if customer_id is None else session.get(Customer, customer_id)


def _if_open(r: Referral, how: rules.Attribution) -> tuple[Referral | None, str | None]:
    # Only the friend's first qualifying order counts; a referral that already has one
    # (or was closed) is not qualified again by a later order.
    if r.status != Status.CLAIMED or r.order_id is not None:
        return None, None
    return r, how.value


def _facts(
    session: Session,
    shop_id: int,
    r: Referral,
    order: Order,
    campaign: ReferralCampaign,
    *,
    now: datetime,
) -> rules.ReferralFacts:
    advocate = session.get(Customer, r.advocate_id)
    assert advocate is not None
    advocate_orders = session.execute(
        select(Order.email_key, Order.shipping_key).where(
            Order.shop_id == shop_id, Order.customer_id == r.advocate_id
        )
    ).all()
    email_keys = {k for k, _ in advocate_orders if k}
    own = rules.email_key(advocate.email)
    if own:
        email_keys.add(own)
    live = [Status.CLAIMED, Status.PENDING, Status.FLAGGED, Status.REWARDED]
    qualified = (
        select(func.count())
        .select_from(Referral)
        .where(
            Referral.shop_id == shop_id,
            Referral.advocate_id == r.advocate_id,
            Referral.id != r.id,
            Referral.status.in_([s.value for s in live[1:]]),
        )
    )
    in_period = 0
    if campaign.advocate_limit_period is not None:
        start = rules.period_start(now, campaign.advocate_limit_period)
        in_period = int(session.scalar(qualified.where(Referral.updated_at >= start)) or 0)
    return rules.ReferralFacts(
        advocate_id=r.advocate_id,
        friend_id=r.friend_id,
        advocate_email_keys=frozenset(email_keys),
        friend_email_key=order.email_key or r.friend_email_key,
        advocate_address_keys=frozenset(s for _, s in advocate_orders if s),
        friend_address_key=order.shipping_key,
        # Ordered before the referral began: an existing customer, not a new one.
        friend_ordered_before=_ordered_before(
            session,
            shop_id,
            order.email_key or r.friend_email_key,
            r.friend_id,
            before_order=order.id,
            before=r.created_at,
        ),
        claims_from_same_source=0,  # counted when the claim was made (its flag is kept)
        advocate_referrals=int(session.scalar(qualified) or 0),
        advocate_referrals_in_period=in_period,
    )


def _maybe_void(session: Session, r: Referral, order: Order, *, now: datetime) -> None:
    if r.status not in (Status.PENDING, Status.FLAGGED):
        return  # rewarded (the period had passed), rejected or voided already
    reason = _void_reason(session, r, order)
    if reason is None:
        return
    r.status, r.void_reason, r.updated_at = Status.VOIDED.value, reason, now
    logger.info("referral voided: %s", reason, extra={"referral_id": r.id})


def _void_reason(session: Session, r: Referral, order: Order) -> str | None:
    if order.cancelled:
        return "the friend's order was cancelled"
    if order.fully_refunded:
        return "the friend's order was refunded"
    if order.refund_count and r.order_subtotal is not None:
        campaign = session.get(ReferralCampaign, r.campaign_id)
        assert campaign is not None
        refunded = session.scalar(
            select(func.coalesce(func.sum(OrderRefund.lines_subtotal), 0)).where(
                OrderRefund.shop_id == r.shop_id, OrderRefund.order_id == order.id
            )
        )
        kept = r.order_subtotal - Decimal(str(refunded or 0))
        if kept <= 0 or kept < campaign.min_order_subtotal:
            return "the friend's order was refunded below the qualifying amount"
    return None


def _event(
    session: Session, r: Referral, kind: str, payload: dict[str, Any], *, now: datetime
) -> None:
    repositories.insert_ignoring_conflict(
        session,
        LoyaltyEvent,
        {
            "shop_id": r.shop_id,
            "customer_id": r.advocate_id,
            "kind": kind,
            "payload": json.dumps({"referral_id": r.id, **payload}),
            "dedupe_key": f"{kind}:{r.id}",
            "created_at": now,
        },
        ("shop_id", "dedupe_key"),
    )


# --- rewards ------------------------------------------------------------------------------


def _reward(session: Session, r: Referral, *, now: datetime) -> int | None:
    """Pay the advocate once (the referral and its order are locked); the id of a discount
    code to have issued after the commit, if the reward is one."""
    order = session.get(Order, r.order_id) if r.order_id is not None else None
    if order is not None:
        reason = _void_reason(session, r, order)
        if reason is not None:
            r.status, r.void_reason, r.updated_at = Status.VOIDED.value, reason, now
            return None
    campaign = session.get(ReferralCampaign, r.campaign_id)
    shop = session.get(Shop, r.shop_id)
    assert campaign is not None
    assert shop is not None
    friend = _customer(session, r.friend_id)
    who = friend.first_name if friend is not None and friend.first_name else "a friend"
    label = f"Referral: {who}'s first order"
    redemption_id = None
    if campaign.advocate_reward_kind == "points":
        assert campaign.advocate_points is not None
        # The advocate's row lock, as every writer of their balance and tier takes it.
        session.get(Customer, r.advocate_id, with_for_update=True)
        repositories.insert_ignoring_conflict(
            session,
            LedgerEntry,
            {
                "shop_id": r.shop_id,
                "customer_id": r.advocate_id,
                "points": campaign.advocate_points,
                "kind": EntryKind.REFERRAL_BONUS.value,
                "reason": label[:255],
                "source_type": "referral",
                "source_ref": str(r.id),
                "order_id": None,
                "idempotency_key": f"referral:{r.id}:advocate",
                "created_at": now,
                "available_at": now,
            },
            ("shop_id", "idempotency_key"),
        )
        # Tiers measure what orders earn, so a referral bonus moves no one.
    else:
        assert campaign.advocate_discount_kind is not None
        assert campaign.advocate_discount_value is not None
        percent = campaign.advocate_discount_kind == "percentage"
        discount: dict[str, Any] = {
            "kind": campaign.advocate_discount_kind,
            "title": label
            + ": "
            + rules.describe_discount(
                campaign.advocate_discount_kind, campaign.advocate_discount_value, campaign.currency
            ),
            "amount": None if percent else f"{campaign.advocate_discount_value:.2f}",
            "currency": None if percent else campaign.currency,
            "percent": f"{campaign.advocate_discount_value:.2f}" if percent else None,
            "min_subtotal": None,
            "product_ids": [],
            "collection_ids": [],
        }
        code = _free_code(
            session, r.shop_id, r.advocate_id, discount, 90, f"referral:{r.id}:advocate", now=now
        )
        r.advocate_redemption_id = redemption_id = code.id
    r.status, r.rewarded_at, r.updated_at = Status.REWARDED.value, now, now
    _event(session, r, "referral_rewarded", {}, now=now)
    return redemption_id


def settle_due(
    uow_factory: Callable[[], UnitOfWork], *, now: datetime, limit: int = 500
) -> tuple[int, list[int]]:
    """Reward the advocates whose friends' orders have passed their pending period; how many,
    and the advocates' discount codes to have issued. One transaction per referral, so a
    scheduler that runs twice or late pays nothing twice."""
    with uow_factory() as uow:
        due = list(
            uow.session.scalars(
                select(Referral.id)
                .where(Referral.status == Status.PENDING.value, Referral.qualifies_at <= now)
                .order_by(Referral.qualifies_at, Referral.id)
                .limit(limit)
            )
        )
    rewarded, to_issue = 0, []
    for referral_id in due:
        with uow_factory() as uow:
            r = uow.session.get(Referral, referral_id, with_for_update=True)
            if (
                r is None
                or r.status != Status.PENDING.value
                or r.qualifies_at is None
                or r.qualifies_at > now
            ):
                continue
            issue = _reward(uow.session, r, now=now)
            paid = r.status == Status.REWARDED.value
            uow.commit()
        rewarded += paid
        if issue is not None:
            to_issue.append(issue)
    return rewarded, to_issue


# --- the merchant's view and review ------------------------------------------------------


def referral_view(r: Referral, refs: Mapping[int, str], order_ref: str | None) -> dict[str, Any]:
    return {
        "id": r.id,
        "campaign_id": r.campaign_id,
        "advocate_id": refs.get(r.advocate_id),
        "friend_id": refs.get(r.friend_id) if r.friend_id is not None else None,
        "status": r.status,
        "flags": [f for f in r.flags.split(",") if f],
        "attributed_by": r.attributed_by,
        "order_id": order_ref,
        "order_subtotal": _money(r.order_subtotal),
        "qualifies_at": _iso(r.qualifies_at),
        "friend_code_redemption_id": r.friend_redemption_id,
        "advocate_redemption_id": r.advocate_redemption_id,
        "reviewed_at": _iso(r.reviewed_at),
        "review_note": r.review_note,
        "rewarded_at": _iso(r.rewarded_at),
        "void_reason": r.void_reason,
        "created_at": r.created_at.isoformat(),
        "updated_at": r.updated_at.isoformat(),
    }


def _views(session: Session, rows: list[Referral]) -> list[dict[str, Any]]:
    people = {r.advocate_id for r in rows} | {r.friend_id for r in rows if r.friend_id}
    refs = (
        dict(
            session.execute(
                select(Customer.id, Customer.customer_ref).where(Customer.id.in_(people))
            ).all()
        )
        if people
        else {}
    )
    order_ids = {r.order_id for r in rows if r.order_id}
    orders = (
        dict(
            session.execute(select(Order.id, Order.order_ref).where(Order.id.in_(order_ids))).all()
        )
        if order_ids
        else {}
    )
    return [referral_view(r, refs, orders.get(r.order_id) if r.order_id else None) for r in rows]


def list_referrals(
    uow: UnitOfWork,
    shop_id: int,
    *,
    status: str | None,
    advocate_ref: str | None,
    before: int | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Newest first; `before` pages on (an id from the previous page)."""
    with uow:
        session = uow.session
        stmt = select(Referral).where(Referral.shop_id == shop_id)
        if status is not None:
            stmt = stmt.where(Referral.status == status)
        if advocate_ref is not None:
            advocate = repositories.customer_by_ref(session, shop_id, advocate_ref)
            if advocate is None:
                raise CustomerNotFound(f"no customer {advocate_ref!r} in this shop")
            stmt = stmt.where(Referral.advocate_id == advocate.id)
        if before is not None:
            stmt = stmt.where(Referral.id < before)
        rows = list(session.scalars(stmt.order_by(Referral.id.desc()).limit(limit)))
        return _views(session, rows)


def _referral(session: Session, shop_id: int, referral_id: int, *, lock: bool = False) -> Referral:
    stmt = select(Referral).where(Referral.shop_id == shop_id, Referral.id == referral_id)
    found = session.scalars(stmt.with_for_update() if lock else stmt).one_or_none()
    if found is None:
        raise ReferralNotFound(f"no referral {referral_id} in this shop")
    return found


def get_referral(uow: UnitOfWork, shop_id: int, referral_id: int) -> dict[str, Any]:
    with uow:
        return _views(uow.session, [_referral(uow.session, shop_id, referral_id)])[0]


def review(
    uow: UnitOfWork,
    shop_id: int,
    referral_id: int,
    *,
    approve: bool,
    note: str | None,
    now: datetime,
) -> tuple[dict[str, Any], int | None]:
    """The merchant's decision on a held referral. Approving one whose pending period has
    passed rewards the advocate now; otherwise the scheduler does when it passes. A
    pending (unflagged) referral may still be rejected before it is rewarded."""
    with uow:
        session = uow.session
        r = _referral(session, shop_id, referral_id, lock=True)
        allowed = (Status.FLAGGED,) if approve else (Status.FLAGGED, Status.PENDING, Status.CLAIMED)
        if r.status not in allowed:
            verb = "approved" if approve else "rejected"
            raise ReferralNotReviewable(f"a {r.status} referral cannot be {verb}")
        r.reviewed_at, r.review_note, r.updated_at = now, note, now
        issue = None
        if approve:
            r.status = Status.PENDING.value
            if r.qualifies_at is not None and r.qualifies_at <= now:
                issue = _reward(session, r, now=now)
        else:
            r.status = Status.REJECTED.value
        out = _views(session, [r])[0]
        uow.commit()
    return out, issue


def report(
    uow: UnitOfWork, shop_id: int, *, since: datetime | None, until: datetime | None
) -> dict[str, Any]:
    """How referrals stand: by status, how many were flagged and what became of them, and
    what the advocates were given."""
    with uow:
        session = uow.session
        window = [Referral.shop_id == shop_id]
        if since is not None:
            window.append(Referral.created_at >= since)
        if until is not None:
            window.append(Referral.created_at < until)
        by_status = dict(
            session.execute(
                select(Referral.status, func.count()).where(*window).group_by(Referral.status)
            ).all()
        )
        flagged = [Referral.flags != ""]
        reviewed = dict(
            session.execute(
                select(Referral.status, func.count())
                .where(*window, *flagged)
                .group_by(Referral.status)
            ).all()
        )
        flag_rows = session.scalars(select(Referral.flags).where(*window, *flagged)).all()
        by_flag = {f.value: 0 for f in Flag}
        for flags in flag_rows:
            for f in flags.split(","):
                if f in by_flag:
                    by_flag[f] += 1
        paid = [LedgerEntry.shop_id == shop_id, LedgerEntry.source_type == "referral"]
        if since is not None:
            paid.append(LedgerEntry.created_at >= since)
        if until is not None:
            paid.append(LedgerEntry.created_at < until)
        points = session.scalar(select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(*paid))
        revenue = session.scalar(
            select(func.coalesce(func.sum(Referral.order_subtotal), 0)).where(
                *window, Referral.status == Status.REWARDED.value
            )
        )
        return {
            "since": _iso(since),
            "until": _iso(until),
            "by_status": {s.value: int(by_status.get(s.value, 0)) for s in Status},
            "flagged": {
                "total": int(sum(reviewed.values())),
                "awaiting_review": int(reviewed.get(Status.FLAGGED.value, 0)),
                "approved": int(
                    reviewed.get(Status.PENDING.value, 0) + reviewed.get(Status.REWARDED.value, 0)
                ),
                "rejected": int(reviewed.get(Status.REJECTED.value, 0)),
                "voided": int(reviewed.get(Status.VOIDED.value, 0)),
                "by_flag": by_flag,
            },
            # Paid within the window (a referral claimed earlier may be rewarded in it).
            "advocate_points": int(points or 0),
            "rewarded_order_subtotal": _money(Decimal(str(revenue or 0))),
        }
