"""Earning rules beyond orders: a sign-up bonus, and activities the merchant's own systems
report (a product review, a social follow), each with an optional limit per period.

Every award is a ledger entry that names its rule, so a shopper's history explains itself.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from plugin_server.domain.errors import ValidationFailed


class RuleKind(StrEnum):
    SIGNUP = "signup"  # once per member, when the store reports a new account
    ACTIVITY = "activity"  # each time the merchant's systems post the activity
    BIRTHDAY = "birthday"  # once a year on the member's birthday


class LimitPeriod(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    LIFETIME = "lifetime"


MAX_RULE_POINTS = 1_000_000
MAX_LIMIT = 1000
_KEY = re.compile(r"[a-z0-9][a-z0-9_-]{0,49}")
_FIELDS = {"kind", "key", "name", "points", "limit_count", "limit_period"}


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
    changes: Mapping[str, Any], current: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A rule's columns after `changes` (a new rule when `current` is None); ValidationFailed
    naming the field otherwise. The kind and key of a rule never change."""
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
    points = out.get("points")
    if isinstance(points, bool) or not isinstance(points, int) or not 0 < points <= MAX_RULE_POINTS:
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
    }


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
