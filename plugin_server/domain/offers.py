"""Ranking personalised offers: rewards a member can (soon) take, and products they may like.

Pure rules over facts the service reads (plugin_server.services.offers). Every list is
ordered by a score and then by a stable key (reward id, product ref), so the same facts
always give the same offers. Scores are floats: they rank, they are never money.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

MAX_REWARDS = 3
MAX_PRODUCTS = 3
# Products the member bought this recently are not offered again.
RECENT = timedelta(days=30)
# A birthday this close makes its points count toward rewards.
BIRTHDAY_SOON = timedelta(days=30)
# Weights of the product signals (co-occurrence counts are scaled by popularity).
ALSO_BOUGHT_WEIGHT = 1.0
BUY_AGAIN_WEIGHT = 0.6
COLLECTION_WEIGHT = 0.3
# A product priced outside [low, high] x the member's usual unit price counts half.
PRICE_BAND = (Decimal("0.5"), Decimal("2"))
OUT_OF_BAND = 0.5

# Reason texts, en/vi/th. {product} and {collection} are the merchant's own names: the
# widget and emails show them as text, never as markup.
REASONS: Mapping[str, Mapping[str, str]] = {
    "afford_now": {
        "en": "You can afford this now",
        "vi": "Bạn đã đủ điểm để đổi ngay",
        "th": "คุณมีคะแนนพอแลกได้แล้ว",
    },
    "next_order": {
        "en": "Reach it with one more order like your usual one",
        "vi": "Chỉ cần thêm một đơn hàng như thường lệ là đủ điểm",
        "th": "สั่งซื้ออีกหนึ่งครั้งตามปกติก็แลกได้",
    },
    "expected_orders": {
        "en": "At your usual pace you'll have it within 3 months",
        "vi": "Với nhịp mua sắm hiện tại, bạn sẽ đủ điểm trong 3 tháng",
        "th": "ด้วยการซื้อตามปกติ คุณจะแลกได้ภายใน 3 เดือน",
    },
    "birthday": {
        "en": "Your birthday points bring it within reach",
        "vi": "Điểm quà sinh nhật sẽ giúp bạn đủ điểm đổi",
        "th": "คะแนนวันเกิดจะทำให้คุณแลกได้",
    },
    "also_bought": {
        "en": "Customers who bought {product} also bought this",
        "vi": "Khách hàng đã mua {product} cũng mua sản phẩm này",
        "th": "ลูกค้าที่ซื้อ {product} ก็ซื้อสินค้านี้ด้วย",
    },
    "buy_again": {
        "en": "You've bought this before",
        "vi": "Bạn đã từng mua sản phẩm này",
        "th": "คุณเคยซื้อสินค้านี้แล้ว",
    },
    "collection": {
        "en": "More from {collection}, which you shop",
        "vi": "Thêm sản phẩm từ {collection} mà bạn hay mua",
        "th": "สินค้าเพิ่มเติมจาก {collection} ที่คุณชอบซื้อ",
    },
    "popular": {
        "en": "Popular with our customers",
        "vi": "Được nhiều khách hàng yêu thích",
        "th": "เป็นที่นิยมในหมู่ลูกค้าของเรา",
    },
}
LOCALES = ("en", "vi", "th")
REWARD_REASONS = ("afford_now", "birthday", "next_order", "expected_orders")


def reason_texts(code: str, **names: str) -> dict[str, str]:
    """The reason in every locale, with the merchant's names filled in."""
    return {locale: REASONS[code][locale].format(**names) for locale in LOCALES}


# --- rewards -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RewardOption:
    """A reward the member's tier allows, and the points it takes."""

    reward_id: int
    name: str
    cost: int


@dataclass(frozen=True, slots=True)
class MemberPoints:
    """What the member has and will likely earn, in points."""

    balance: int
    # Points one order of the member's average value earns (None: no order yet).
    points_per_order: int | None = None
    # Orders expected in the next 90 days (None: no prediction computed).
    expected_orders_90: float | None = None
    # Points the birthday rule will give within BIRTHDAY_SOON (None: none coming).
    birthday_points: int | None = None


@dataclass(frozen=True, slots=True)
class RewardOffer:
    reward_id: int
    name: str
    cost: int
    reason: str  # one of REWARD_REASONS


def reward_reason(option: RewardOption, member: MemberPoints) -> str | None:
    """Why this reward is worth showing, the surest reason first; None: out of reach."""
    balance = max(member.balance, 0)
    if option.cost <= balance:
        return "afford_now"
    gap = option.cost - balance
    if member.birthday_points is not None and gap <= member.birthday_points:
        return "birthday"
    per_order = member.points_per_order
    if per_order is not None and per_order > 0:
        if gap <= per_order:
            return "next_order"
        expected = member.expected_orders_90
        if expected is not None and gap <= math.floor(expected * per_order):
            return "expected_orders"
    return None


def rank_rewards(
    options: Sequence[RewardOption], member: MemberPoints, *, limit: int = MAX_REWARDS
) -> list[RewardOffer]:
    """At most `limit` rewards: affordable ones first (the most valuable, i.e. costly,
    first), then those within reach by their reason's certainty and the smallest gap."""
    ranked: list[tuple[tuple[int, int, int], RewardOffer]] = []
    for option in options:
        reason = reward_reason(option, member)
        if reason is None:
            continue
        order = REWARD_REASONS.index(reason)
        # Affordable: the costliest first; within reach: the nearest first.
        closeness = -option.cost if reason == "afford_now" else option.cost - member.balance
        ranked.append(
            (
                (order, closeness, option.reward_id),
                RewardOffer(option.reward_id, option.name, option.cost, reason),
            )
        )
    ranked.sort(key=lambda pair: pair[0])
    return [offer for _, offer in ranked[:limit]]


# --- products ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OwnProduct:
    """A product the member bought: how many of their orders had it, and when last."""

    orders: int
    last_at: datetime
    unit_price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class ProductFacts:
    """A product as the shop's order lines show it."""

    title: str
    buyers: int  # distinct customers (at least 1)
    unit_price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class ProductFactsBundle:
    """Everything the product ranking reads for one member."""

    own: Mapping[str, OwnProduct]
    # Other customers who bought something the member bought: their products.
    neighbours: Sequence[frozenset[str]]
    catalog: Mapping[str, ProductFacts]
    # Product -> the collections (ids) it belongs to; collection id -> title.
    collections_of: Mapping[str, frozenset[int]] = field(default_factory=dict)
    collection_titles: Mapping[int, str] = field(default_factory=dict)
    # The shop's most bought products, most first (the fallback).
    popular: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class ProductOffer:
    product_ref: str
    title: str
    reason: str
    # The name the reason mentions (a product's title or a collection's), if any.
    because: str | None = None
    score: float = 0.0


def _median(values: list[Decimal]) -> Decimal | None:
    if not values:
        return None
    values = sorted(values)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def _in_band(price: Decimal | None, usual: Decimal | None) -> bool:
    if price is None or usual is None or usual <= 0:
        return True
    low, high = PRICE_BAND
    return usual * low <= price <= usual * high


def rank_products(
    facts: ProductFactsBundle, *, now: datetime, limit: int = MAX_PRODUCTS
) -> list[ProductOffer]:
    """At most `limit` products for the member, best first.

    A candidate's score adds: how many similar customers (who share a product with the
    member) bought it together with each of the member's products, divided by the square
    root of its buyers (so that merely popular products do not win everywhere); the member's
    own earlier purchases of it (not in the last RECENT days); products of collections the
    member bought from. A price outside the member's usual band halves it. Its reason is the
    largest of those parts. Remaining places go to the shop's popular products.
    """
    recent = {ref for ref, p in facts.own.items() if now - p.last_at < RECENT}
    usual = _median([p.unit_price for p in facts.own.values() if p.unit_price is not None])

    # Co-occurrence: for candidate c, how often each own product p appears with it.
    pair_counts: dict[str, dict[str, int]] = {}
    own_refs = set(facts.own)
    for basket in facts.neighbours:
        shared = sorted(basket & own_refs)
        if not shared:
            continue
        for candidate in basket:
            if candidate in own_refs and candidate in recent:
                continue
            by_anchor = pair_counts.setdefault(candidate, {})
            for anchor in shared:
                if anchor != candidate:
                    by_anchor[anchor] = by_anchor.get(anchor, 0) + 1

    own_collections: dict[int, int] = {}
    for ref in sorted(own_refs):
        for cid in facts.collections_of.get(ref, frozenset()):
            own_collections[cid] = own_collections.get(cid, 0) + 1

    candidates = set(pair_counts) | own_refs | _collection_candidates(facts, own_collections)
    scored: list[ProductOffer] = []
    for ref in sorted(candidates - recent):
        product = facts.catalog.get(ref)
        if product is None:
            continue  # never ordered in this shop: no name to show
        parts: dict[str, tuple[float, str | None]] = {}
        anchors = pair_counts.get(ref, {})
        if anchors:
            total = sum(anchors.values())
            anchor = min(anchors, key=lambda a: (-anchors[a], a))
            anchor_title = facts.catalog[anchor].title if anchor in facts.catalog else anchor
            parts["also_bought"] = (
                ALSO_BOUGHT_WEIGHT * total / math.sqrt(max(product.buyers, 1)),
                anchor_title,
            )
        if ref in facts.own:
            parts["buy_again"] = (BUY_AGAIN_WEIGHT * facts.own[ref].orders, None)
        shared_collections = [
            cid
            for cid in sorted(facts.collections_of.get(ref, frozenset()))
            if cid in own_collections
        ]
        if shared_collections:
            best = min(shared_collections, key=lambda c: (-own_collections[c], c))
            parts["collection"] = (
                COLLECTION_WEIGHT * own_collections[best],
                facts.collection_titles.get(best, ""),
            )
        if not parts:
            continue
        score = sum(value for value, _ in parts.values())
        if not _in_band(product.unit_price, usual):
            score *= OUT_OF_BAND
        order = ("also_bought", "buy_again", "collection")
        reason = min(parts, key=lambda k: (-parts[k][0], order.index(k)))
        scored.append(ProductOffer(ref, product.title, reason, parts[reason][1], score))
    scored.sort(key=lambda o: (-o.score, o.product_ref))
    chosen = scored[:limit]
    taken = {o.product_ref for o in chosen} | recent
    for ref in facts.popular:
        if len(chosen) >= limit:
            break
        if ref in taken or ref not in facts.catalog:
            continue
        chosen.append(ProductOffer(ref, facts.catalog[ref].title, "popular"))
        taken.add(ref)
    return chosen


def _collection_candidates(
    facts: ProductFactsBundle, own_collections: Mapping[int, int]
) -> set[str]:
    return {
        ref
        for ref, cids in facts.collections_of.items()
        if ref in facts.catalog and any(c in own_collections for c in cids)
    }
