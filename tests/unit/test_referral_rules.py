"""The referral rules as plain functions: who is the same person, which checks hold a
referral, when an order qualifies, and what a campaign may say."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from plugin_server.domain import referrals as rules
from plugin_server.domain.errors import ValidationFailed


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Ann@Example.com", "ann@example.com"),
        ("a.n.n@gmail.com", "ann@googlemail.com"),
        ("ann+shop@example.com", "ann@example.com"),
        (" ANN+x.y@Example.COM ", "ann@example.com"),
    ],
)
def test_the_same_mailbox_is_the_same_person(a: str, b: str) -> None:
    assert rules.email_key(a) == rules.email_key(b)


def test_different_mailboxes_and_domains_differ() -> None:
    assert rules.email_key("ann@example.com") != rules.email_key("anne@example.com")
    assert rules.email_key("ann@example.com") != rules.email_key("ann@example.org")
    assert rules.email_key("") is None
    assert rules.email_key("no-at-sign") is None


def test_addresses_compare_without_case_punctuation_or_spacing() -> None:
    one = rules.address_key(("1 Main St.", None, "Springfield", "12345", "US"))
    two = rules.address_key(("1  MAIN ST", "", "springfield ", "12345", "us"))
    assert one == two
    assert one != rules.address_key(("2 Main St", None, "Springfield", "12345", "US"))
    assert rules.address_key((None, None, "Springfield", "12345", "US")) is None


def test_codes_are_read_as_typed() -> None:
    assert rules.normalise_code(" ann-7k2q 9x ") == "ANN7K2Q9X"
    assert rules.normalise_code("ab") is None
    assert rules.normalise_code("<script>") is None
    assert rules.code_prefix("Bảo") == "BAO"
    assert rules.code_prefix("สมชาย") == ""


def facts(**changes: object) -> rules.ReferralFacts:
    base: dict[str, object] = {
        "advocate_id": 1,
        "friend_id": 2,
        "advocate_email_keys": frozenset({"a"}),
        "friend_email_key": "f",
        "advocate_address_keys": frozenset({"home"}),
        "friend_address_key": "elsewhere",
        "friend_ordered_before": False,
        "claims_from_same_source": 0,
        "advocate_referrals": 0,
        "advocate_referrals_in_period": 0,
    }
    base.update(changes)
    return rules.ReferralFacts(**base)  # type: ignore[arg-type]


NO_LIMITS = rules.Limits(None, None)


def test_a_clean_referral_raises_no_flag() -> None:
    assert rules.flags_for(facts(), NO_LIMITS) == []


@pytest.mark.parametrize(
    ("changes", "flag"),
    [
        ({"friend_id": 1}, rules.Flag.SELF_REFERRAL),
        ({"friend_email_key": "a"}, rules.Flag.SELF_REFERRAL),
        ({"friend_address_key": "home"}, rules.Flag.SELF_REFERRAL),
        ({"friend_ordered_before": True}, rules.Flag.FRIEND_NOT_NEW),
        ({"claims_from_same_source": 3}, rules.Flag.CLAIM_VELOCITY),
    ],
)
def test_each_check_holds_the_referral(changes: dict[str, object], flag: rules.Flag) -> None:
    assert rules.flags_for(facts(**changes), NO_LIMITS) == [flag]


def test_two_claims_from_one_source_are_not_yet_suspicious() -> None:
    assert rules.flags_for(facts(claims_from_same_source=2), NO_LIMITS) == []


def test_advocate_limits_count_the_others_before_this_one() -> None:
    assert rules.flags_for(facts(advocate_referrals=4), rules.Limits(5, None)) == []
    assert rules.flags_for(facts(advocate_referrals=5), rules.Limits(5, None)) == [
        rules.Flag.ADVOCATE_LIMIT
    ]
    held = facts(advocate_referrals_in_period=2)
    assert rules.flags_for(held, rules.Limits(None, 2)) == [rules.Flag.ADVOCATE_LIMIT]


def test_limit_periods_start_where_a_calendar_does() -> None:
    at = datetime(2026, 12, 3, 15, 30, tzinfo=UTC)  # a Thursday
    assert rules.period_start(at, "week") == datetime(2026, 11, 30, tzinfo=UTC)
    assert rules.period_start(at, "month") == datetime(2026, 12, 1, tzinfo=UTC)
    assert rules.period_start(at, "year") == datetime(2026, 1, 1, tzinfo=UTC)


def test_an_order_qualifies_at_the_minimum_and_inside_the_window() -> None:
    campaign = {
        "min_order_subtotal": D("50"),
        "starts_at": datetime(2026, 1, 1, tzinfo=UTC),
        "ends_at": datetime(2026, 2, 1, tzinfo=UTC),
    }
    inside = datetime(2026, 1, 15, tzinfo=UTC)
    assert rules.qualifies(D("50.00"), inside, campaign) is None
    assert rules.qualifies(D("49.99"), inside, campaign) is not None
    assert rules.qualifies(D("80"), datetime(2026, 2, 1, tzinfo=UTC), campaign) is not None
    assert rules.qualifies(D("80"), datetime(2025, 12, 31, tzinfo=UTC), campaign) is not None


def campaign(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "name": "Friends",
        "starts_at": datetime(2026, 1, 1, tzinfo=UTC),
        "friend_discount_kind": "percentage",
        "friend_discount_value": D("10"),
        "advocate_reward_kind": "points",
        "advocate_points": 500,
    }
    base.update(changes)
    return base


def test_a_campaign_gets_defaults_and_clean_values() -> None:
    out = rules.validate_campaign(campaign(friend_discount_value="12.5"))
    assert out["friend_discount_value"] == D("12.50")
    assert out["min_order_subtotal"] == D("0")
    assert out["friend_code_valid_days"] == 30
    assert out["advocate_discount_kind"] is None


def test_switching_the_advocate_reward_clears_the_other_kind() -> None:
    current = rules.validate_campaign(campaign())
    out = rules.validate_campaign(
        {
            "advocate_reward_kind": "discount",
            "advocate_discount_kind": "fixed_amount",
            "advocate_discount_value": D("5"),
            "currency": "usd",
        },
        current,
    )
    assert out["advocate_points"] is None
    assert out["currency"] == "USD"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"friend_discount_value": D("0.001")}, "friend_discount_value"),
        ({"friend_discount_value": D("100.01")}, "friend_discount_value"),
        ({"friend_discount_kind": "fixed_amount"}, "currency"),
        ({"ends_at": datetime(2026, 1, 1, tzinfo=UTC)}, "ends_at"),
        ({"starts_at": datetime(2026, 1, 1)}, "starts_at"),  # noqa: DTZ001 - the bad input
        ({"advocate_points": 0}, "advocate_points"),
        ({"advocate_period_limit": 2}, "advocate_limit_period"),
        (
            {"advocate_limit_period": "fortnight", "advocate_period_limit": 2},
            "advocate_limit_period",
        ),
        ({"min_order_subtotal": D("-1")}, "min_order_subtotal"),
        ({"name": "  "}, "name"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_terms_name_their_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        rules.validate_campaign(campaign(**changes))
    assert refused.value.field == field
