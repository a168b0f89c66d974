"""Collections in order rules as pure rules: ids, sync states, and which order lines a
campaign or an exclusion on collections covers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from plugin_server.domain import ledger
from plugin_server.domain.collections import (
    REFRESH_EVERY,
    RETRY_AFTER,
    SyncState,
    SyncStatus,
    collection_ids,
    product_ref_from_gid,
    products_of,
)
from plugin_server.domain.earning_rules import validate_rule
from plugin_server.domain.errors import ValidationFailed
from tests.unit.test_campaign_rules import camp, lines, snapshot

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def test_collection_ids_are_numbers_each_once_and_a_gid_is_its_number() -> None:
    assert collection_ids([411, "411", " 412 ", "gid://shopify/Collection/413"]) == [
        "411",
        "412",
        "413",
    ]


@pytest.mark.parametrize(
    "value",
    [["0"], ["-1"], ["abc"], [True], [1.5], ["gid://shopify/Product/1"], "411", [None]],
)
def test_anything_else_is_not_a_collection_id(value: object) -> None:
    with pytest.raises(ValidationFailed) as caught:
        collection_ids(value)
    assert caught.value.field == "collection_ids"


def test_a_rule_takes_at_most_twenty_collections() -> None:
    with pytest.raises(ValidationFailed):
        collection_ids([str(n) for n in range(1, 22)])


def test_an_exclusion_may_name_collections_only_and_a_signup_none() -> None:
    rule = validate_rule({"kind": "exclusion", "key": "g", "name": "G", "collection_ids": [9]})
    assert (rule["product_ids"], rule["collection_ids"]) == ([], ["9"])
    with pytest.raises(ValidationFailed) as caught:
        validate_rule({"kind": "exclusion", "key": "g", "name": "G", "collection_ids": []})
    assert caught.value.field == "product_ids"
    with pytest.raises(ValidationFailed) as caught:
        validate_rule(
            {"kind": "signup", "key": "s", "name": "S", "points": 5, "collection_ids": ["9"]}
        )
    assert caught.value.field == "collection_ids"


def test_a_shopify_product_gid_becomes_the_id_order_lines_carry() -> None:
    assert product_ref_from_gid("gid://shopify/Product/8001") == "8001"


def test_sync_states() -> None:
    never = SyncState(None, None, None)
    assert never.status is SyncStatus.PENDING
    assert never.is_due(T0)
    fresh = SyncState(T0, T0, None)
    assert fresh.status is SyncStatus.SYNCED
    assert not fresh.is_due(T0 + REFRESH_EVERY - timedelta(seconds=1))
    assert fresh.is_due(T0 + REFRESH_EVERY)
    failing = SyncState(T0, T0 + timedelta(hours=1), "unauthorized: refused")
    assert failing.status is SyncStatus.FAILED
    assert not failing.is_due(T0 + timedelta(hours=1) + RETRY_AFTER - timedelta(seconds=1))
    assert failing.is_due(T0 + timedelta(hours=1) + RETRY_AFTER)
    # Never synced and just attempted (claimed by a scheduler): not again at once.
    assert not SyncState(None, T0, None).is_due(T0 + timedelta(minutes=1))


def test_products_of_collections_never_synced_are_none() -> None:
    members = {"1": frozenset({"a", "b"}), "2": frozenset({"c"})}
    assert products_of(["1", "2"], members) == {"a", "b", "c"}
    assert products_of(["3"], members) == frozenset()


def test_a_campaign_on_a_collection_covers_its_products_and_its_own() -> None:
    c = camp(product_ids=frozenset({"scarf"}), collection_ids=frozenset({"1"}),
             collection_products=frozenset({"hat"}))  # fmt: skip
    assert c.scoped
    assert [c.covers(p) for p in ("hat", "scarf", "shirt", None)] == [True, True, False, False]
    assert camp().covers("anything")


def test_a_campaign_on_a_collection_never_synced_gives_nothing_not_everything() -> None:
    order = lines(("hat", "30.00", "0"), ("shirt", "20.00", "0"))
    pending = camp(collection_ids=frozenset({"1"}))  # no products known yet
    assert ledger.plan_campaign_bonus([pending], snapshot(order), order, paid_at=T0) is None


def test_only_the_collection_lines_earn_the_bonus_and_excluded_ones_never() -> None:
    order = lines(("hat", "30.00", "0"), ("shirt", "20.00", "0"), ("gift", "50.00", "0"))
    snap = snapshot(order, frozenset({"gift"}))  # excluded, say, by another collection
    c = camp(multiplier=D(3), collection_ids=frozenset({"1"}),
             collection_products=frozenset({"hat", "gift"}))  # fmt: skip
    bonus = ledger.plan_campaign_bonus([c], snap, order, paid_at=T0)
    assert bonus is not None
    assert (bonus.snapshot.points, bonus.snapshot.only_lines) == (60, frozenset({"L1"}))


def test_shopify_pages_are_paced_on_the_reported_cost() -> None:
    from plugin_server.platforms.shopify import ShopifyClient

    def cost(available: float) -> dict:
        return {
            "cost": {
                "requestedQueryCost": 252,
                "throttleStatus": {"currentlyAvailable": available, "restoreRate": 100.0},
            }
        }

    assert ShopifyClient._pace(cost(1000)) == 0  # room for another page: go on
    assert ShopifyClient._pace(cost(52)) == 2.0  # 200 points short at 100/s
    assert ShopifyClient._pace(None) == 0  # no cost reported: nothing to pace on
