"""Earning rules beyond orders: a sign-up bonus, and activities the merchant's own systems
report (a product review, a social follow), each with an optional limit per period; and
rules about orders: time-limited bonus campaigns, and products that never earn.

Every award is a ledger entry that names its rule, so a shopper's history explains itself.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from plugin_server.domain.collections import collection_ids
from plugin_server.domain.errors import ValidationFailed
from plugin_server.domain.segments import validate_segments


class RuleKind(StrEnum):
    SIGNUP = "signup"  # once per member, when the store reports a new account
    ACTIVITY = "activity"  # each time the merchant's systems post the activity
    BIRTHDAY = "birthday"  # once a year on the member's birthday
    BONUS = "bonus"  # extra points on orders paid within a window (a campaign)
    EXCLUSION = "exclusion"  # products whose order lines never earn points


class LimitPeriod(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    LIFETIME = "lifetime"


MAX_RULE_POINTS = 1_000_000
MAX_LIMIT = 1000
MAX_MULTIPLIER = Decimal(10)
MAX_CAMPAIGN = timedelta(days=366)
MAX_PRODUCTS = 100
_KEY = re.compile(r"[a-z0-9][a-z0-9_-]{0,49}")
_PRODUCT_ID = re.compile(r"[0-9A-Za-z_:/.-]{1,64}")
_CAMPAIGN_FIELDS = ("starts_at", "ends_at", "multiplier", "min_subtotal")
_FIELDS = {"kind", "key", "name", "points", "limit_count", "limit_period", "product_ids"}
_FIELDS |= {"collection_ids", "segments"}
_FIELDS |= set(_CAMPAIGN_FIELDS)


def period_start(now: datetime, period: LimitPeriod) -> datetime | None:
    """Where the limit's current period began (UTC calendar day, ISO week from Monday,
    calendar month); None for a lifetime limit."""
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period is LimitPeriod.DAY:
        return day
    if period is LimitPeriod.WEEK:
        return day - timedelta(days=day.weekday())
    if period is LimitPeriod.MONTH:
        return day.replace(day=1)
    return None


def validate_rule(
    changes: Mapping[str, Any],
    current: Mapping[str, Any] | None = None,
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """A rule's columns after `changes` (a new rule when `current` is None); ValidationFailed
    naming the field otherwise. The kind and key of a rule never change; a campaign's end
    set (or moved) now must lie after `now`."""
    unknown = sorted(set(changes) - _FIELDS)
    if unknown:
        raise ValidationFailed(f"unknown fields: {', '.join(unknown)}", field=unknown[0])
    if current is not None:
        for fixed in ("kind", "key"):
            if fixed in changes and changes[fixed] != current[fixed]:
                raise ValidationFailed(
                    f"the {fixed} of a rule cannot change; archive it and create another",
                    field=fixed,
                )
    out = {**(current or {}), **changes}
    try:
        kind = RuleKind(str(out.get("kind")))
    except ValueError:
        raise ValidationFailed(
            f"kind must be one of {[k.value for k in RuleKind]}", field="kind"
        ) from None
    key = out.get("key")
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise ValidationFailed(
            "key must be 1 to 50 lowercase letters, digits, - or _ (e.g. product_review)",
            field="key",
        )
    name = out.get("name")
    if not isinstance(name, str) or not 0 < len(name.strip()) <= 100:
        raise ValidationFailed("name must be 1 to 100 characters", field="name")
    if kind in (RuleKind.BONUS, RuleKind.EXCLUSION):
        return _validate_order_rule(kind, key, name.strip(), out, changes, now)
    for extra in ("product_ids", "collection_ids", "segments", *_CAMPAIGN_FIELDS):
        if out.get(extra) not in (None, []):
            raise ValidationFailed(f"a {kind.value} rule has no {extra}", field=extra)
    points = out.get("points")
    if not _is_points(points):
        raise ValidationFailed(
            f"points must be a whole number from 1 to {MAX_RULE_POINTS}", field="points"
        )
    count, period = out.get("limit_count"), out.get("limit_period")
    if kind is not RuleKind.ACTIVITY and (count is not None or period is not None):
        raise ValidationFailed(
            f"a {kind.value} rule pays once per member (a year): no limit", field="limit_count"
        )
    if (count is None) != (period is None):
        raise ValidationFailed(
            "give limit_count and limit_period together, or neither", field="limit_count"
        )
    if count is not None:
        if isinstance(count, bool) or not isinstance(count, int) or not 0 < count <= MAX_LIMIT:
            raise ValidationFailed(
                f"limit_count must be a whole number from 1 to {MAX_LIMIT}", field="limit_count"
            )
        try:
            period = LimitPeriod(str(period)).value
        except ValueError:
            raise ValidationFailed(
                f"limit_period must be one of {[p.value for p in LimitPeriod]}",
                field="limit_period",
            ) from None
    return {
        "kind": kind.value,
        "key": key,
        "name": name.strip(),
        "points": points,
        "limit_count": count,
        "limit_period": period,
        "product_ids": [],
        "collection_ids": [],
        "segments": [],
        **dict.fromkeys(_CAMPAIGN_FIELDS),
    }


def _is_points(points: Any) -> bool:
    return (
        not isinstance(points, bool) and isinstance(points, int) and 0 < points <= MAX_RULE_POINTS
    )


def _utc(value: Any, field: str) -> datetime:
    if not isinstance(value, datetime):
        raise ValidationFailed(f"{field} must be a date and time", field=field)
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationFailed(
            f"{field} must include a time zone, e.g. 2026-12-01T00:00:00Z", field=field
        )
    return value.astimezone(UTC)


def _decimal(value: Any, field: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (Decimal, int, str)):
        raise ValidationFailed(f"{field} must be a number", field=field)
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValidationFailed(f"{field} must be a number", field=field) from None
    if not number.is_finite() or number.as_tuple().exponent < -2:  # type: ignore[operator]
        raise ValidationFailed(f"{field} must be a number with at most 2 decimals", field=field)
    return number


def product_ids(value: Any, field: str = "product_ids") -> list[str]:
    """Platform product ids as strings, each once, in the order given."""
    if not isinstance(value, list):
        raise ValidationFailed(f"{field} must be a list of product ids", field=field)
    if len(value) > MAX_PRODUCTS:
        raise ValidationFailed(f"{field} holds at most {MAX_PRODUCTS} ids", field=field)
    out: list[str] = []
    for item in value:
        text = str(item).strip() if isinstance(item, (int, str)) else ""
        if isinstance(item, bool) or not _PRODUCT_ID.fullmatch(text) or text == "0":
            raise ValidationFailed(f"{field}: {item!r} is not a product id", field=field)
        if text not in out:
            out.append(text)
    return out


def _validate_order_rule(
    kind: RuleKind,
    key: str,
    name: str,
    out: Mapping[str, Any],
    changes: Mapping[str, Any],
    now: datetime | None,
) -> dict[str, Any]:
    for field in ("limit_count", "limit_period"):
        if out.get(field) is not None:
            raise ValidationFailed(f"a {kind.value} rule has no {field}", field=field)
    products = product_ids(out.get("product_ids") or [])
    collections = collection_ids(out.get("collection_ids") or [])
    values: dict[str, Any] = {
        "kind": kind.value,
        "key": key,
        "name": name,
        "points": None,
        "limit_count": None,
        "limit_period": None,
        "product_ids": products,
        "collection_ids": collections,
        "segments": [],
        **dict.fromkeys(_CAMPAIGN_FIELDS),
    }
    if kind is RuleKind.EXCLUSION:
        for field in ("points", "segments", *_CAMPAIGN_FIELDS):
            if field == "segments" and out.get(field) == []:
                continue
            if out.get(field) is not None:
                raise ValidationFailed(f"an exclusion rule has no {field}", field=field)
        if not products and not collections:
            raise ValidationFailed(
                "list the product ids (or collection ids) that never earn points",
                field="product_ids",
            )
        return values
    points, multiplier = out.get("points"), out.get("multiplier")
    if (points is None) == (multiplier is None):
        raise ValidationFailed(
            "give either multiplier (e.g. 2 for double points) or points (a fixed bonus "
            "per order), not both",
            field="multiplier",
        )
    if points is not None and not _is_points(points):
        raise ValidationFailed(
            f"points must be a whole number from 1 to {MAX_RULE_POINTS}", field="points"
        )
    if multiplier is not None:
        multiplier = _decimal(multiplier, "multiplier")
        if not Decimal(1) < multiplier <= MAX_MULTIPLIER:
            raise ValidationFailed(
                f"multiplier must be above 1 and at most {MAX_MULTIPLIER} (2: double points)",
                field="multiplier",
            )
    if out.get("starts_at") is None:
        raise ValidationFailed("starts_at is required", field="starts_at")
    starts_at = _utc(out["starts_at"], "starts_at")
    if out.get("ends_at") is None:
        raise ValidationFailed("ends_at is required: a campaign is time-limited", field="ends_at")
    ends_at = _utc(out["ends_at"], "ends_at")
    if ends_at <= starts_at:
        raise ValidationFailed("ends_at must be after starts_at", field="ends_at")
    if ends_at - starts_at > MAX_CAMPAIGN:
        raise ValidationFailed("a campaign runs for at most 366 days", field="ends_at")
    if now is not None and "ends_at" in changes and ends_at <= now:
        raise ValidationFailed("ends_at is in the past", field="ends_at")
    minimum = out.get("min_subtotal")
    if minimum is not None:
        minimum = _decimal(minimum, "min_subtotal")
        if minimum < 0 or minimum > Decimal("1000000000"):
            raise ValidationFailed("min_subtotal must be 0 or more", field="min_subtotal")
    values |= {
        # Only members in these segments (as last computed) get the bonus; []: everyone.
        "segments": validate_segments(out.get("segments") or []),
        "points": points,
        "multiplier": multiplier,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "min_subtotal": minimum,
    }
    return values


# A birthday set (or changed) this recently pays nothing yet: no bonus by editing the date.
BIRTHDAY_COOLDOWN = timedelta(days=30)


def validate_birthday(month: Any, day: Any) -> tuple[int, int]:
    """A month and day that exist in some year (29 February included)."""
    for name, value in (("month", month), ("day", day)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationFailed(f"{name} must be a whole number", field=name)
    if not 1 <= month <= 12:
        raise ValidationFailed("month must be from 1 to 12", field="month")
    if not 1 <= day <= calendar.monthrange(2024, month)[1]:  # 2024: a leap year
        raise ValidationFailed("day does not exist in that month", field="day")
    return month, day


def birthdays_on(today: datetime) -> list[tuple[int, int]]:
    """The (month, day) birthdays celebrated on `today`: 29 February falls on 28 February
    in other years."""
    days = [(today.month, today.day)]
    if (today.month, today.day) == (2, 28) and not calendar.isleap(today.year):
        days.append((2, 29))
    return days
