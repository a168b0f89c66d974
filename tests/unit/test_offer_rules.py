"""The ranking rules of personalised offers (plugin_server.domain.offers), on facts given
by hand."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from plugin_server.domain import offers as rules
from plugin_server.domain.offers import (
    MemberPoints,
    OwnProduct,
    ProductFacts,
    ProductFactsBundle,
    RewardOption,
)

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
LONG_AGO = NOW - timedelta(days=90)


# --- rewards -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cost", "member", "reason"),
    [
        (100, MemberPoints(balance=100), "afford_now"),
        (101, MemberPoints(balance=100), None),
        (150, MemberPoints(balance=100, points_per_order=50), "next_order"),
        (151, MemberPoints(balance=100, points_per_order=50), None),
        # Expected orders only count when a prediction exists: 2.5 orders x 50 = 125.
        (
            225,
            MemberPoints(balance=100, points_per_order=50, expected_orders_90=2.5),
            "expected_orders",
        ),
        (226, MemberPoints(balance=100, points_per_order=50, expected_orders_90=2.5), None),
        (226, MemberPoints(balance=100, points_per_order=None, expected_orders_90=9.0), None),
        # A birthday's points are surer than an order's.
        (150, MemberPoints(balance=100, points_per_order=50, birthday_points=60), "birthday"),
        # A negative balance (points spent then an order refunded) counts as nothing.
        (40, MemberPoints(balance=-20, points_per_order=50), "next_order"),
    ],
)
def test_reward_reason(cost: int, member: MemberPoints, reason: str | None) -> None:
    assert rules.reward_reason(RewardOption(1, "r", cost), member) == reason


def test_rewards_rank_affordable_costliest_first_then_nearest() -> None:
    member = MemberPoints(balance=100, points_per_order=60, expected_orders_90=3.0)
    options = [
        RewardOption(1, "cheap", 50),
        RewardOption(2, "far", 250),  # expected orders
        RewardOption(3, "near", 120),  # next order, gap 20
        RewardOption(4, "dear", 100),  # affordable
        RewardOption(5, "nearer twin", 120),  # same gap as 3: the lower id first
        RewardOption(6, "unreachable", 1000),
    ]
    ranked = rules.rank_rewards(options, member, limit=10)
    assert [(r.reward_id, r.reason) for r in ranked] == [
        (4, "afford_now"),
        (1, "afford_now"),
        (3, "next_order"),
        (5, "next_order"),
        (2, "expected_orders"),
    ]
    assert [r.reward_id for r in rules.rank_rewards(options, member)] == [4, 1, 3]
    # The input's order does not matter.
    assert rules.rank_rewards(list(reversed(options)), member, limit=10) == ranked


def test_no_rewards_for_a_member_with_nothing() -> None:
    assert rules.rank_rewards([RewardOption(1, "r", 10)], MemberPoints(balance=0)) == []


# --- products ------------------------------------------------------------------------------


def catalog(**titles_prices: tuple[str, int, str]) -> dict[str, ProductFacts]:
    return {ref: ProductFacts(t, buyers, D(p)) for ref, (t, buyers, p) in titles_prices.items()}


def test_co_occurrence_scaled_by_popularity_with_the_strongest_anchor_named() -> None:
    facts = ProductFactsBundle(
        own={"tea": OwnProduct(1, NOW - timedelta(days=2), D("10"))},
        neighbours=[
            frozenset({"tea", "cup"}),
            frozenset({"tea", "cup", "pot"}),
            frozenset({"tea", "pot"}),
            frozenset({"tea", "pot"}),
            frozenset({"coffee"}),  # shares nothing with the member: ignored
        ],
        catalog=catalog(
            tea=("Tea", 5, "10"),
            cup=("Cup", 2, "8"),
            pot=("Pot", 9, "15"),
            coffee=("Coffee", 1, "9"),
        ),
    )
    ranked = rules.rank_products(facts, now=NOW)
    # cup: 2 / sqrt(2) = 1.414; pot: 3 / sqrt(9) = 1.0. Tea was bought 2 days ago: left out.
    assert [(p.product_ref, p.reason, p.because) for p in ranked] == [
        ("cup", "also_bought", "Tea"),
        ("pot", "also_bought", "Tea"),
    ]
    assert ranked[0].score == pytest.approx(2 / math.sqrt(2))
    assert ranked[1].score == pytest.approx(1.0)


def test_buy_again_only_when_not_bought_recently() -> None:
    facts = ProductFactsBundle(
        own={
            "soap": OwnProduct(3, LONG_AGO, D("5")),
            "towel": OwnProduct(2, NOW - timedelta(days=rules.RECENT.days - 1), D("6")),
        },
        neighbours=[],
        catalog=catalog(soap=("Soap", 4, "5"), towel=("Towel", 4, "6")),
    )
    ranked = rules.rank_products(facts, now=NOW)
    assert [(p.product_ref, p.reason) for p in ranked] == [("soap", "buy_again")]
    assert ranked[0].score == pytest.approx(rules.BUY_AGAIN_WEIGHT * 3)


def test_price_band_halves_products_far_from_the_usual_price() -> None:
    own = {"a": OwnProduct(1, LONG_AGO, D("10")), "b": OwnProduct(1, LONG_AGO, D("10"))}
    baskets = [frozenset({"a", "cheap"}), frozenset({"a", "lux"})]
    facts = ProductFactsBundle(
        own=own,
        neighbours=baskets,
        catalog=catalog(
            a=("A", 1, "10"), b=("B", 1, "10"), cheap=("Cheap", 1, "9"), lux=("Lux", 1, "100")
        ),
    )
    ranked = rules.rank_products(facts, now=NOW, limit=10)
    scores = {p.product_ref: p.score for p in ranked}
    assert scores["cheap"] == pytest.approx(1.0)
    assert scores["lux"] == pytest.approx(0.5)
    # Ties (a and b: 0.6 each) break by product ref.
    assert [p.product_ref for p in ranked] == ["cheap", "a", "b", "lux"]


def test_collections_the_member_buys_from() -> None:
    facts = ProductFactsBundle(
        own={"green": OwnProduct(1, NOW - timedelta(days=1), D("10"))},
        neighbours=[],
        catalog=catalog(green=("Green", 1, "10"), oolong=("Oolong", 1, "11"), mug=("Mug", 1, "9")),
        collections_of={"green": frozenset({7}), "oolong": frozenset({7}), "mug": frozenset({8})},
        collection_titles={7: "Teas", 8: "Kitchen"},
    )
    [offer] = rules.rank_products(facts, now=NOW)
    assert (offer.product_ref, offer.reason, offer.because) == ("oolong", "collection", "Teas")
    assert rules.reason_texts(offer.reason, collection="Teas")["en"] == (
        "More from Teas, which you shop"
    )


def test_popular_products_fill_the_remaining_places() -> None:
    facts = ProductFactsBundle(
        own={"a": OwnProduct(1, NOW - timedelta(days=1), D("10"))},
        neighbours=[frozenset({"a", "b"})],
        catalog=catalog(a=("A", 3, "10"), b=("B", 1, "10"), c=("C", 2, "10"), d=("D", 1, "10")),
        popular=["a", "b", "c", "d"],
    )
    ranked = rules.rank_products(facts, now=NOW)
    # a: bought recently; b: already picked by co-occurrence.
    assert [(p.product_ref, p.reason) for p in ranked] == [
        ("b", "also_bought"),
        ("c", "popular"),
        ("d", "popular"),
    ]


def test_nothing_to_go_on_gives_nothing() -> None:
    assert rules.rank_products(ProductFactsBundle(own={}, neighbours=[], catalog={}), now=NOW) == []


def test_every_reason_reads_in_every_language_and_keeps_names_as_given() -> None:
    for code in rules.REASONS:
        texts = rules.reason_texts(code, product="<b>X</b>", collection="C")
        assert set(texts) == {"en", "vi", "th"}
        assert all(texts.values())
    assert "<b>X</b>" in rules.reason_texts("also_bought", product="<b>X</b>")["th"]
