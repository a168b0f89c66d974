"""Referral rules: what a campaign may say, who counts as the same person, and which checks
hold a referral for the merchant's review.

Plain functions over plain values, so every rule is testable without a database. The checks
never block on their own: a referral that trips one is held (`flagged`) until the merchant
approves or rejects it, and the flags say why.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from plugin_server.domain.errors import ValidationFailed


class Status(StrEnum):
    CLAIMED = "claimed"  # the friend has their code; no qualifying order yet
    PENDING = "pending"  # first qualifying order paid; waiting out its pending period
    FLAGGED = "flagged"  # held for the merchant's review
    REWARDED = "rewarded"  # the advocate has their reward
    VOIDED = "voided"  # the order was refunded or cancelled within its pending period
    REJECTED = "rejected"  # the merchant said no


class Flag(StrEnum):
    SELF_REFERRAL = "self_referral"  # same member, email or shipping address as the advocate
    FRIEND_NOT_NEW = "friend_not_new"  # the friend had ordered before the referral
    CLAIM_VELOCITY = "claim_velocity"  # many claims from one network address or device
    ADVOCATE_LIMIT = "advocate_limit"  # the advocate is over the campaign's limit


class Attribution(StrEnum):
    DISCOUNT_CODE = "discount_code"  # the friend's referral code was used on the order
    ORDER_ATTRIBUTE = "order_attribute"  # the storefront put the advocate's code on the cart
    EMAIL = "email"  # the order's email is the one the friend claimed with


# What the widget puts on the cart (Shopify cart attributes become the order's
# note_attributes; the WooCommerce plugin writes it as order meta).
ORDER_ATTRIBUTE = "loyalty_referral"

DISCOUNT_KINDS = ("percentage", "fixed_amount")
ADVOCATE_KINDS = ("points", "discount")
LIMIT_PERIODS = ("week", "month", "year")
MAX_POINTS = 1_000_000
MAX_LIMIT = 100_000
MAX_AMOUNT = Decimal("1000000")
# Claims from one network address or one device within a day before the next is held.
CLAIMS_PER_SOURCE_PER_DAY = 3
CLAIM_WINDOW = timedelta(days=1)

_CODE = re.compile(r"[A-Z0-9]{4,20}")
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")
_SHOUT = re.compile(r"[^A-Z]")
_ADDRESS_NOISE = re.compile(r"[^0-9a-z]+")


def normalise_code(code: str) -> str | None:
    """A referral code as typed or pasted (any case, spaces, dashes); None if it cannot be one."""
    cleaned = re.sub(r"[\s-]", "", code).upper()
    return cleaned if _CODE.fullmatch(cleaned) else None


def code_prefix(first_name: str | None) -> str:
    """Up to 6 letters of the member's first name (accents dropped) so a code reads as theirs."""
    if not first_name:
        return ""
    ascii_name = unicodedata.normalize("NFKD", first_name).encode("ascii", "ignore").decode()
    return _SHOUT.sub("", ascii_name.upper())[:6]


def valid_email(email: str) -> bool:
    return len(email) <= 320 and _EMAIL.fullmatch(email) is not None


def canonical_email(email: str) -> str:
    """The mailbox behind an address: case, dots and `+tags` in the local part do not make a
    different person (Gmail ignores both, and most providers deliver plus-tags)."""
    local, _, domain = email.strip().lower().rpartition("@")
    local = local.split("+", 1)[0].replace(".", "")
    if domain == "googlemail.com":
        domain = "gmail.com"
    return f"{local}@{domain}"


def email_key(email: str | None) -> str | None:
    """A digest of the canonical email, what orders and referrals keep to compare people."""
    if not email or "@" not in email:
        return None
    return hashlib.sha256(canonical_email(email).encode()).hexdigest()


def address_key(parts: Iterable[str | None]) -> str | None:
    """A digest of a shipping address (lines, city, postcode, country), ignoring case,
    punctuation and spacing; None when there is no street line to compare."""
    cleaned = [_ADDRESS_NOISE.sub("", (p or "").lower()) for p in parts]
    if not cleaned or not cleaned[0]:
        return None
    return hashlib.sha256("|".join(cleaned).encode()).hexdigest()


def source_key(value: str | None) -> str | None:
    """A digest of a claim's network address or device id (kept only to count claims)."""
    if not value:
        return None
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ReferralFacts:
    """What the checks need to know about one referral at the moment it qualifies."""

    advocate_id: int
    friend_id: int | None
    advocate_email_keys: frozenset[str]
    friend_email_key: str | None
    advocate_address_keys: frozenset[str]
    friend_address_key: str | None
    friend_ordered_before: bool
    claims_from_same_source: int  # other claims from the address or device within a day
    advocate_referrals: int  # the advocate's other live referrals (not voided or rejected)
    advocate_referrals_in_period: int


@dataclass(frozen=True, slots=True)
class Limits:
    lifetime: int | None
    per_period: int | None


def flags_for(facts: ReferralFacts, limits: Limits) -> list[Flag]:
    flags: list[Flag] = []
    if (
        (facts.friend_id is not None and facts.friend_id == facts.advocate_id)
        or (
            facts.friend_email_key is not None
            and facts.friend_email_key in facts.advocate_email_keys
        )
        or (
            facts.friend_address_key is not None
            and facts.friend_address_key in facts.advocate_address_keys
        )
    ):
        flags.append(Flag.SELF_REFERRAL)
    if facts.friend_ordered_before:
        flags.append(Flag.FRIEND_NOT_NEW)
    if facts.claims_from_same_source >= CLAIMS_PER_SOURCE_PER_DAY:
        flags.append(Flag.CLAIM_VELOCITY)
    if (limits.lifetime is not None and facts.advocate_referrals >= limits.lifetime) or (
        limits.per_period is not None and facts.advocate_referrals_in_period >= limits.per_period
    ):
        flags.append(Flag.ADVOCATE_LIMIT)
    return flags


def period_start(now: datetime, period: str) -> datetime:
    """Where the advocate limit's current period began (UTC; weeks start on Monday)."""
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return day.replace(month=1, day=1)


def qualifies(subtotal: Decimal, paid_at: datetime, campaign: Mapping[str, Any]) -> str | None:
    """Why an order does not qualify the referral (None: it does)."""
    if subtotal < campaign["min_order_subtotal"]:
        return f"the order's subtotal is below {campaign['min_order_subtotal']}"
    if paid_at < campaign["starts_at"] or (
        campaign["ends_at"] is not None and paid_at >= campaign["ends_at"]
    ):
        return "the order was paid outside the campaign"
    return None


# --- campaign terms -------------------------------------------------------------------

FIELDS = {
    "name",
    "starts_at",
    "ends_at",
    "friend_discount_kind",
    "friend_discount_value",
    "currency",
    "friend_code_valid_days",
    "advocate_reward_kind",
    "advocate_points",
    "advocate_discount_kind",
    "advocate_discount_value",
    "min_order_subtotal",
    "advocate_limit",
    "advocate_period_limit",
    "advocate_limit_period",
}
DEFAULTS: dict[str, Any] = {
    "ends_at": None,
    "currency": None,
    "friend_code_valid_days": 30,
    "advocate_points": None,
    "advocate_discount_kind": None,
    "advocate_discount_value": None,
    "min_order_subtotal": Decimal("0"),
    "advocate_limit": None,
    "advocate_period_limit": None,
    "advocate_limit_period": None,
}


def _decimal(value: Any, field: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, str, Decimal)):
        raise ValidationFailed(f"{field} must be a decimal number", field=field)
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ValidationFailed(f"{field} must be a decimal number", field=field) from None
    # Trailing zeros do not count (PostgreSQL returns 5 as 5.0000000000).
    if not number.is_finite() or number.normalize().as_tuple().exponent < -2:  # type: ignore[operator]
        raise ValidationFailed(f"{field} must have at most 2 decimal places", field=field)
    return number.quantize(Decimal("0.01")) if number != number.to_integral() else number


def _discount(kind: Any, value: Any, prefix: str) -> tuple[str, Decimal]:
    if kind not in DISCOUNT_KINDS:
        raise ValidationFailed(
            f"{prefix}_kind must be one of {', '.join(DISCOUNT_KINDS)}", field=f"{prefix}_kind"
        )
    amount = _decimal(value, f"{prefix}_value")
    upper = Decimal("100") if kind == "percentage" else MAX_AMOUNT
    if not Decimal("0") < amount <= upper:
        raise ValidationFailed(
            f"{prefix}_value must be above 0 and at most {upper}", field=f"{prefix}_value"
        )
    return kind, amount


def _count(value: Any, field: str, *, low: int, high: int, optional: bool = True) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationFailed(f"{field} must be a whole number from {low} to {high}", field=field)
    return value


def validate_campaign(
    changes: Mapping[str, Any], current: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A campaign's columns after `changes` (a new campaign when `current` is None), checked
    as a whole; ValidationFailed naming the field otherwise."""
    unknown = sorted(set(changes) - FIELDS)
    if unknown:
        raise ValidationFailed(f"unknown fields: {', '.join(unknown)}", field=unknown[0])
    merged: dict[str, Any] = dict(DEFAULTS) if current is None else dict(current)
    merged.update(changes)
    for required in (
        "name",
        "starts_at",
        "friend_discount_kind",
        "friend_discount_value",
        "advocate_reward_kind",
    ):
        if merged.get(required) is None:
            raise ValidationFailed(f"{required} is required", field=required)
    name = merged["name"]
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise ValidationFailed("name must be 1 to 100 characters", field="name")
    merged["name"] = name.strip()
    for field in ("starts_at", "ends_at"):
        value = merged[field]
        if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
            raise ValidationFailed(f"{field} must be a date-time with a time zone", field=field)
    if merged["ends_at"] is not None and merged["ends_at"] <= merged["starts_at"]:
        raise ValidationFailed("ends_at must be after starts_at", field="ends_at")
    merged["friend_discount_kind"], merged["friend_discount_value"] = _discount(
        merged["friend_discount_kind"], merged["friend_discount_value"], "friend_discount"
    )
    merged["friend_code_valid_days"] = _count(
        merged["friend_code_valid_days"],
        "friend_code_valid_days",
        low=1,
        high=365,
        optional=False,
    )
    kind = merged["advocate_reward_kind"]
    if kind not in ADVOCATE_KINDS:
        raise ValidationFailed(
            f"advocate_reward_kind must be one of {', '.join(ADVOCATE_KINDS)}",
            field="advocate_reward_kind",
        )
    if kind == "points":
        merged["advocate_points"] = _count(
            merged["advocate_points"], "advocate_points", low=1, high=MAX_POINTS, optional=False
        )
        merged["advocate_discount_kind"] = merged["advocate_discount_value"] = None
    else:
        merged["advocate_discount_kind"], merged["advocate_discount_value"] = _discount(
            merged["advocate_discount_kind"],
            merged["advocate_discount_value"],
            "advocate_discount",
        )
        merged["advocate_points"] = None
    fixed = "fixed_amount" in (merged["friend_discount_kind"], merged["advocate_discount_kind"])
    currency = merged["currency"]
    if fixed or currency is not None:
        if not isinstance(currency, str) or not re.fullmatch(r"[A-Za-z]{3}", currency):
            raise ValidationFailed(
                "currency (ISO 4217, e.g. USD) is required for fixed-amount discounts",
                field="currency",
            )
        merged["currency"] = currency.upper()
    minimum = _decimal(merged["min_order_subtotal"], "min_order_subtotal")
    if not Decimal("0") <= minimum <= MAX_AMOUNT:
        raise ValidationFailed(
            f"min_order_subtotal must be from 0 to {MAX_AMOUNT}", field="min_order_subtotal"
        )
    merged["min_order_subtotal"] = minimum
    merged["advocate_limit"] = _count(
        merged["advocate_limit"], "advocate_limit", low=1, high=MAX_LIMIT
    )
    merged["advocate_period_limit"] = _count(
        merged["advocate_period_limit"], "advocate_period_limit", low=1, high=MAX_LIMIT
    )
    period = merged["advocate_limit_period"]
    if (merged["advocate_period_limit"] is None) != (period is None):
        raise ValidationFailed(
            "advocate_period_limit and advocate_limit_period go together",
            field="advocate_limit_period",
        )
    if period is not None and period not in LIMIT_PERIODS:
        raise ValidationFailed(
            f"advocate_limit_period must be one of {', '.join(LIMIT_PERIODS)}",
            field="advocate_limit_period",
        )
    return merged


def describe_discount(kind: str, value: Decimal, currency: str | None) -> str:
    """Plain words for a discount, for ledger reasons and the admin views."""
    if kind == "percentage":
        return f"{value.normalize():f}% off"
    return f"{value:.2f} {currency or ''} off".replace("  ", " ")
