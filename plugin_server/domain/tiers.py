"""VIP tiers: which tier a member qualifies for and when they may move down.

A shop measures members by points earned, amount spent or number of orders, over their
lifetime, the calendar year or the last 12 months. Pending points and refunded or
cancelled orders do not count. Moving up happens at once. Moving down follows the shop's
policy: `never` (a member keeps the best tier they reached), or `period_end` (a member
keeps a tier until the end of the period they reached it in: the calendar year, or 12
months for a rolling period; with a lifetime measure, at once). When the merchant changes
the tiers or how members qualify, everyone is recalculated from scratch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from plugin_server.domain.errors import ValidationFailed
from plugin_server.domain.expiry import months_after, months_before


class TierMeasure(StrEnum):
    POINTS_EARNED = "points_earned"
    AMOUNT_SPENT = "amount_spent"
    ORDERS = "orders"


class TierPeriod(StrEnum):
    LIFETIME = "lifetime"
    CALENDAR_YEAR = "calendar_year"
    ROLLING_12_MONTHS = "rolling_12_months"


class Downgrade(StrEnum):
    NEVER = "never"
    PERIOD_END = "period_end"


MAX_MULTIPLIER = Decimal("10")
MAX_THRESHOLD = Decimal("1000000000")
MAX_ENTRY_POINTS = 1_000_000


@dataclass(frozen=True, slots=True)
class TierLevel:
    id: int
    threshold: Decimal


def window_start(now: datetime, period: TierPeriod) -> datetime | None:
    """Where the qualifying period began; None for a lifetime measure."""
    if period is TierPeriod.CALENDAR_YEAR:
        return now.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    if period is TierPeriod.ROLLING_12_MONTHS:
        return months_before(now, 12)
    return None


def qualifying_tier(value: Decimal, tiers: Sequence[TierLevel]) -> TierLevel | None:
    """The highest tier whose threshold `value` reaches."""
    reached = [t for t in tiers if value >= t.threshold]
    return max(reached, key=lambda t: t.threshold) if reached else None


def held_until(reached_at: datetime, period: TierPeriod) -> datetime:
    """Under `period_end`, the moment a tier reached at `reached_at` may be lost."""
    if period is TierPeriod.CALENDAR_YEAR:
        return reached_at.replace(
            year=reached_at.year + 1, month=1, day=1, hour=0, minute=0, second=0, microsecond=0
        )
    if period is TierPeriod.ROLLING_12_MONTHS:
        return months_after(reached_at, 12)
    return reached_at


def next_tier(
    held: TierLevel | None,
    reached_at: datetime | None,
    qualified: TierLevel | None,
    *,
    downgrade: Downgrade,
    period: TierPeriod,
    now: datetime,
    from_scratch: bool = False,
) -> TierLevel | None:
    """The member's tier now, given the one held and the one their measure reaches."""
    if from_scratch or held is None:
        return qualified
    if qualified is not None and qualified.threshold >= held.threshold:
        return qualified  # up (or the same) at once
    if downgrade is Downgrade.NEVER:
        return held
    assert reached_at is not None
    return qualified if now >= held_until(reached_at, period) else held


def validate_tier(
    changes: Mapping[str, Any], current: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A tier's columns after `changes`; ValidationFailed naming the field."""
    out = {"multiplier": Decimal("1"), "entry_points": 0, **(current or {}), **changes}
    name = out.get("name")
    if not isinstance(name, str) or not 0 < len(name.strip()) <= 50:
        raise ValidationFailed("name must be 1 to 50 characters", field="name")
    threshold = _decimal(out.get("threshold"), "threshold")
    if (
        threshold <= 0
        or threshold > MAX_THRESHOLD
        or threshold != threshold.quantize(Decimal("0.01"))
    ):
        raise ValidationFailed(
            f"threshold must be above 0 and at most {MAX_THRESHOLD}, with at most 2 decimals",
            field="threshold",
        )
    multiplier = _decimal(out.get("multiplier"), "multiplier")
    if not Decimal("1") <= multiplier <= MAX_MULTIPLIER or multiplier != multiplier.quantize(
        Decimal("0.01")
    ):
        raise ValidationFailed(
            f"multiplier must be from 1 to {MAX_MULTIPLIER}, with at most 2 decimals",
            field="multiplier",
        )
    entry = out.get("entry_points")
    if isinstance(entry, bool) or not isinstance(entry, int) or not 0 <= entry <= MAX_ENTRY_POINTS:
        raise ValidationFailed(
            f"entry_points must be a whole number from 0 to {MAX_ENTRY_POINTS}",
            field="entry_points",
        )
    return {
        "name": name.strip(),
        "threshold": threshold,
        "multiplier": multiplier,
        "entry_points": entry,
    }


def check_threshold_fits(threshold: Decimal, measure: TierMeasure) -> None:
    """Points and order counts are whole numbers; so must their thresholds be."""
    if measure is not TierMeasure.AMOUNT_SPENT and threshold != threshold.to_integral_value():
        raise ValidationFailed(
            f"threshold must be a whole number when tiers measure {measure.value}",
            field="threshold",
        )


def _decimal(value: Any, field: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise ValidationFailed(f"{field} must be a decimal number", field=field)
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ValidationFailed(f"{field} must be a decimal number", field=field) from None
    if not number.is_finite():
        raise ValidationFailed(f"{field} must be a decimal number", field=field)
    return number


def validate_tier_settings(changes: Mapping[str, Any]) -> dict[str, Any]:
    """The tier settings among `changes`, as column values."""
    values: dict[str, Any] = {}
    for name, kind in (
        ("tier_measure", TierMeasure),
        ("tier_period", TierPeriod),
        ("tier_downgrade", Downgrade),
    ):
        if name in changes:
            try:
                values[name] = kind(changes[name]).value
            except ValueError:
                raise ValidationFailed(
                    f"{name} must be one of {[k.value for k in kind]}", field=name
                ) from None
    return values
