"""Personalised offers for one member: a few SQL reads, then the pure ranking rules of
plugin_server.domain.offers.

Bounded work per request: the member's own latest lines, up to NEIGHBOURS other customers
who bought one of their products (the most recent first) and at most NEIGHBOUR_LINES of
their lines, and the shop's latest SHOP_SAMPLE lines for popularity; every read is an
index range of one shop (ix_order_lines_*, ix_collection_products_product).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import String, cast, func, select
from sqlalchemy.orm import Session

from plugin_server.db import repositories
from plugin_server.db.models import (
    Collection,
    CollectionProduct,
    Customer,
    CustomerScore,
    EarningRule,
    LedgerEntry,
    MemberTier,
    Order,
    OrderLine,
    Reward,
    Shop,
    Tier,
)
from plugin_server.db.unit_of_work import UnitOfWork
from plugin_server.domain import offers as rules
from plugin_server.domain.earning_rules import BIRTHDAY_COOLDOWN, RuleKind
from plugin_server.domain.errors import CustomerNotFound, ShopNotFound
from plugin_server.domain.ledger import points_for
from plugin_server.services import tiers

OWN_LINES = 200
ANCHORS = 20
NEIGHBOURS = 200
NEIGHBOUR_LINES = 5000
SHOP_SAMPLE = 5000
POPULAR = 10
COLLECTION_PRODUCTS = 500


@dataclass(frozen=True, slots=True)
class _Line:
    id: int
    customer_id: int | None
    product_ref: str
    title: str
    quantity: int
    amount: Decimal
    currency: str
    order_ref: str
    ordered_at: datetime


_LINE_COLUMNS = (
    OrderLine.id,
    OrderLine.customer_id,
    OrderLine.product_ref,
    OrderLine.title,
    OrderLine.quantity,
    OrderLine.amount,
    OrderLine.currency,
    OrderLine.order_ref,
    OrderLine.ordered_at,
)


def _lines(session: Session, stmt: Any) -> list[_Line]:
    # Core rows: thousands of them, where the ORM's per-row work would dominate.
    return [_Line(*row) for row in session.connection().execute(stmt)]


# --- rewards -------------------------------------------------------------------------------


def _reward_options(session: Session, shop_id: int, customer_id: int) -> list[rules.RewardOption]:
    """The shop's active rewards this member's tier allows, with what each costs."""
    thresholds = dict(
        session.execute(
            select(Tier.id, Tier.threshold).where(
                Tier.shop_id == shop_id, Tier.archived_at.is_(None)
            )
        ).all()
    )
    held = session.scalar(
        select(MemberTier.tier_id).where(
            MemberTier.shop_id == shop_id, MemberTier.customer_id == customer_id
        )
    )
    held_threshold = thresholds.get(held) if held is not None else None
    options = []
    for reward in session.scalars(
        select(Reward)
        .where(Reward.shop_id == shop_id, Reward.archived_at.is_(None))
        .order_by(Reward.id)
    ):
        required = reward.min_tier_id
        if required is not None and (
            held_threshold is None
            or required not in thresholds
            or held_threshold < thresholds[required]
        ):
            continue
        cost = reward.min_points if reward.kind == "points_for_money" else reward.points_cost
        if cost is None or cost <= 0:
            continue
        options.append(rules.RewardOption(reward.id, reward.name, cost))
    return options


def _points_per_order(session: Session, shop: Shop, customer_id: int, now: datetime) -> int | None:
    """What one order of the member's average value earns at today's rate (their tier's
    multiplier included); None before their first paid order."""
    average = session.scalar(
        select(func.avg(Order.earning_base)).where(
            Order.shop_id == shop.id,
            Order.customer_id == customer_id,
            Order.earning_base.is_not(None),
            Order.cancelled.is_(False),
            Order.fully_refunded.is_(False),
        )
    )
    if average is None:
        return None
    multiplier, _ = tiers.multiplier_at(session, shop, customer_id, now)
    return points_for(Decimal(str(average)), shop.points_per_unit * multiplier)


def _next_birthday(month: int, day: int, today: date) -> date:
    for year in (today.year, today.year + 1):
        try:
            candidate = date(year, month, day)
        except ValueError:  # 29 February in a common year: celebrated on the 28th
            candidate = date(year, 2, 28)
        if candidate >= today:
            return candidate
    raise AssertionError("a birthday recurs within a year")


def _birthday_points(session: Session, shop_id: int, member: Customer, now: datetime) -> int | None:
    """The birthday rule's points if the member's birthday comes within BIRTHDAY_SOON and
    will be paid (their date set long enough before it, not paid yet this year)."""
    if member.birth_month is None or member.birth_day is None or member.birthday_set_at is None:
        return None
    points = session.scalar(
        select(EarningRule.points).where(
            EarningRule.shop_id == shop_id,
            EarningRule.kind == RuleKind.BIRTHDAY.value,
            EarningRule.archived_at.is_(None),
        )
    )
    if not points:
        return None
    birthday = _next_birthday(member.birth_month, member.birth_day, now.date())
    celebrated = datetime(birthday.year, birthday.month, birthday.day, tzinfo=now.tzinfo)
    if celebrated - now.replace(hour=0, minute=0, second=0, microsecond=0) > rules.BIRTHDAY_SOON:
        return None
    if member.birthday_set_at > celebrated - BIRTHDAY_COOLDOWN:
        return None
    paid = session.scalar(
        select(LedgerEntry.id).where(
            LedgerEntry.shop_id == shop_id,
            LedgerEntry.idempotency_key == f"rule:birthday:{member.id}:{birthday.year}",
        )
    )
    return None if paid is not None else int(points)


def member_points(
    session: Session, shop: Shop, member: Customer, now: datetime
) -> rules.MemberPoints:
    expected = session.scalar(
        select(CustomerScore.expected_purchases_90).where(
            CustomerScore.shop_id == shop.id, CustomerScore.customer_id == member.id
        )
    )
    return rules.MemberPoints(
        balance=repositories.balance(session, shop.id, member.id, now).spendable,
        points_per_order=_points_per_order(session, shop, member.id, now),
        expected_orders_90=float(expected) if expected is not None else None,
        birthday_points=_birthday_points(session, shop.id, member, now),
    )


# --- products ------------------------------------------------------------------------------


def _unit_prices(lines: Iterable[_Line], currency: str | None) -> dict[str, Decimal]:
    amounts: dict[str, Decimal] = defaultdict(Decimal)
    quantities: dict[str, int] = defaultdict(int)
    for line in lines:
        if line.currency == currency and line.quantity > 0:
            amounts[line.product_ref] += line.amount
            quantities[line.product_ref] += line.quantity
    return {ref: amounts[ref] / quantities[ref] for ref in amounts}


def product_facts(
    session: Session, shop_id: int, customer_id: int | None
) -> rules.ProductFactsBundle:
    """The member's purchases, their neighbours' baskets and the products' names and
    popularity: OWN_LINES + NEIGHBOUR_LINES lines read, SHOP_SAMPLE lines summed in SQL."""
    own_lines: list[_Line] = []
    if customer_id is not None:
        own_lines = _lines(
            session,
            select(*_LINE_COLUMNS)
            .where(OrderLine.shop_id == shop_id, OrderLine.customer_id == customer_id)
            .order_by(OrderLine.ordered_at.desc(), OrderLine.id.desc())
            .limit(OWN_LINES),
        )
    currency = own_lines[0].currency if own_lines else None
    own_orders: dict[str, set[str]] = defaultdict(set)
    last_at: dict[str, datetime] = {}
    for line in own_lines:
        own_orders[line.product_ref].add(line.order_ref)
        last_at[line.product_ref] = max(
            last_at.get(line.product_ref, line.ordered_at), line.ordered_at
        )
    own_prices = _unit_prices(own_lines, currency)
    own = {
        ref: rules.OwnProduct(len(orders), last_at[ref], own_prices.get(ref))
        for ref, orders in own_orders.items()
    }
    # The member's most bought products (then the latest) anchor the neighbourhood.
    anchors = sorted(own, key=lambda r: (-own[r].orders, -own[r].last_at.timestamp(), r))[:ANCHORS]

    neighbour_lines: list[_Line] = []
    if anchors:
        neighbour_ids = session.scalars(
            select(OrderLine.customer_id)
            .where(
                OrderLine.shop_id == shop_id,
                OrderLine.product_ref.in_(anchors),
                OrderLine.customer_id.is_not(None),
                OrderLine.customer_id != customer_id,
            )
            .group_by(OrderLine.customer_id)
            .order_by(func.max(OrderLine.ordered_at).desc(), OrderLine.customer_id)
            .limit(NEIGHBOURS)
        ).all()
        if neighbour_ids:
            neighbour_lines = _lines(
                session,
                select(*_LINE_COLUMNS)
                .where(OrderLine.shop_id == shop_id, OrderLine.customer_id.in_(neighbour_ids))
                .order_by(OrderLine.ordered_at.desc(), OrderLine.id.desc())
                .limit(NEIGHBOUR_LINES),
            )
    baskets: dict[int, set[str]] = defaultdict(set)
    for line in neighbour_lines:
        assert line.customer_id is not None
        baskets[line.customer_id].add(line.product_ref)

    # The shop's latest lines, summed up in SQL (a row per product, not per line): how many
    # customers bought each product (guests count once per order), and a name for it.
    latest = (
        select(OrderLine.product_ref, OrderLine.customer_id, OrderLine.order_ref, OrderLine.title)
        .where(OrderLine.shop_id == shop_id)
        .order_by(OrderLine.ordered_at.desc(), OrderLine.id.desc())
        .limit(SHOP_SAMPLE)
        .subquery()
    )
    buyer_key = func.coalesce(cast(latest.c.customer_id, String), "order:" + latest.c.order_ref)
    sample = {
        ref: (int(count), title)
        for ref, count, title in session.execute(
            select(
                latest.c.product_ref, func.count(buyer_key.distinct()), func.max(latest.c.title)
            ).group_by(latest.c.product_ref)
        )
    }
    # Names (the latest), buyers and prices (Decimal) from the lines read one by one.
    read = list({line.id: line for line in (*own_lines, *neighbour_lines)}.values())
    buyers: dict[str, set[object]] = defaultdict(set)
    titles: dict[str, tuple[datetime, str]] = {}
    for line in read:
        buyers[line.product_ref].add(
            line.customer_id if line.customer_id is not None else line.order_ref
        )
        seen = titles.get(line.product_ref)
        if seen is None or (line.ordered_at, line.title) > seen:
            titles[line.product_ref] = (line.ordered_at, line.title)
    prices = _unit_prices(read, currency)
    catalog = {
        ref: rules.ProductFacts(
            titles[ref][1] if ref in titles else sample[ref][1],
            max(len(buyers.get(ref, ())), sample[ref][0] if ref in sample else 0),
            prices.get(ref),
        )
        for ref in set(titles) | set(sample)
    }
    popular = sorted(sample, key=lambda r: (-sample[r][0], r))[:POPULAR]

    collections_of, collection_titles = _collections(session, shop_id, set(own))
    return rules.ProductFactsBundle(
        own=own,
        neighbours=[frozenset(baskets[c]) for c in sorted(baskets)],
        catalog=catalog,
        collections_of=collections_of,
        collection_titles=collection_titles,
        popular=popular,
    )


def _collections(
    session: Session, shop_id: int, own_refs: set[str]
) -> tuple[dict[str, frozenset[int]], dict[int, str]]:
    """The collections the member's products are in, and those collections' products."""
    if not own_refs:
        return {}, {}
    own_collections = set(
        session.scalars(
            select(CollectionProduct.collection_id).where(
                CollectionProduct.shop_id == shop_id,
                CollectionProduct.product_ref.in_(sorted(own_refs)),
            )
        )
    )
    if not own_collections:
        return {}, {}
    members: dict[str, set[int]] = defaultdict(set)
    for ref, cid in session.execute(
        select(CollectionProduct.product_ref, CollectionProduct.collection_id)
        .where(
            CollectionProduct.shop_id == shop_id,
            CollectionProduct.collection_id.in_(sorted(own_collections)),
        )
        .order_by(CollectionProduct.collection_id, CollectionProduct.product_ref)
        .limit(COLLECTION_PRODUCTS)
    ):
        members[ref].add(cid)
    titles = {
        cid: title or ""
        for cid, title in session.execute(
            select(Collection.id, Collection.title).where(
                Collection.shop_id == shop_id, Collection.id.in_(sorted(own_collections))
            )
        )
    }
    return {ref: frozenset(cids) for ref, cids in members.items()}, titles


# --- the offers ----------------------------------------------------------------------------


def _reward_view(offer: rules.RewardOffer) -> dict[str, Any]:
    return {
        "reward_id": offer.reward_id,
        "name": offer.name,
        "cost": offer.cost,
        "reason_code": offer.reason,
        "reason": rules.reason_texts(offer.reason),
    }


def _product_view(offer: rules.ProductOffer) -> dict[str, Any]:
    names = {"product": offer.because or "", "collection": offer.because or ""}
    return {
        "product_ref": offer.product_ref,
        "title": offer.title,
        "reason_code": offer.reason,
        "reason": rules.reason_texts(offer.reason, **names),
    }


def offers_for(session: Session, shop: Shop, member: Customer, *, now: datetime) -> dict[str, Any]:
    """The member's offers, inside the caller's session (reads only)."""
    points = member_points(session, shop, member, now)
    ranked_rewards = rules.rank_rewards(_reward_options(session, shop.id, member.id), points)
    ranked_products = rules.rank_products(product_facts(session, shop.id, member.id), now=now)
    return {
        "customer_id": member.customer_ref,
        "balance": points.balance,
        "rewards": [_reward_view(r) for r in ranked_rewards],
        "products": [_product_view(p) for p in ranked_products],
    }


def _shop(session: Session, shop_id: int) -> Shop:
    shop = session.get(Shop, shop_id)
    if shop is None:
        raise ShopNotFound(f"shop {shop_id} does not exist")
    return shop


def member_offers(
    uow: UnitOfWork, shop_id: int, customer_ref: str, *, now: datetime
) -> dict[str, Any]:
    """A member's offers by their platform id; CustomerNotFound for someone unknown."""
    with uow:
        session = uow.session
        shop = _shop(session, shop_id)
        member = repositories.customer_by_ref(session, shop_id, customer_ref)
        if member is None:
            raise CustomerNotFound(f"no customer {customer_ref!r} in this shop")
        return offers_for(session, shop, member, now=now)


def shopper_offers(
    uow: UnitOfWork, shop_id: int, customer_ref: str, *, now: datetime
) -> dict[str, Any]:
    """For the storefront: a signed-in shopper the program does not know yet (no order,
    no activity) gets no rewards and the shop's popular products."""
    with uow:
        session = uow.session
        shop = _shop(session, shop_id)
        member = repositories.customer_by_ref(session, shop_id, customer_ref)
        if member is not None:
            return offers_for(session, shop, member, now=now)
        ranked = rules.rank_products(product_facts(session, shop_id, None), now=now)
        return {
            "customer_id": customer_ref,
            "balance": 0,
            "rewards": [],
            "products": [_product_view(p) for p in ranked],
        }
