"""Validating merchant changes to a shop's program settings (earning rules)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from plugin_server.domain.errors import ValidationFailed
from plugin_server.domain.expiry import validate_expiry_settings
from plugin_server.domain.tiers import validate_tier_settings

KNOWN_STATUSES = {
    "shopify": frozenset({"paid"}),
    "woocommerce": frozenset({"processing", "completed", "on-hold"}),
}
MAX_RATE = Decimal("1000")
MAX_PENDING_DAYS = 365
_BOOLEANS = ("include_shipping", "include_tax", "guests_earn", "return_points_on_expiry")


def parse_decimal(value: Any, field: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise ValidationFailed(
            f"{field} must be a decimal number (as a string or JSON number)", field=field
        )
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ValidationFailed(f"{field} must be a decimal number", field=field) from None
    if not number.is_finite():
        raise ValidationFailed(f"{field} must be a decimal number", field=field)
    return number


def validate_program_changes(platform: str, changes: Mapping[str, Any]) -> dict[str, Any]:
    """The changes as column values; ValidationFailed naming the first bad or unknown field."""
    if not changes:
        raise ValidationFailed("send at least one setting to change")
    allowed = {
        "points_per_unit",
        "pending_days",
        "award_statuses",
        "expiry_policy",
        "expiry_months",
        "expiry_reminder_days",
        "tier_measure",
        "tier_period",
        "tier_downgrade",
        *_BOOLEANS,
    }
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise ValidationFailed(f"unknown settings: {', '.join(unknown)}")
    values: dict[str, Any] = {
        **validate_expiry_settings(changes),
        **validate_tier_settings(changes),
    }
    if "points_per_unit" in changes:
        rate = parse_decimal(changes["points_per_unit"], "points_per_unit")
        if rate <= 0 or rate > MAX_RATE or rate != rate.quantize(Decimal("0.0001")):
            raise ValidationFailed(
                f"points_per_unit must be above 0, at most {MAX_RATE}, with at most 4 decimals",
                field="points_per_unit",
            )
        values["points_per_unit"] = rate
    if "pending_days" in changes:
        days = changes["pending_days"]
        if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= MAX_PENDING_DAYS:
            raise ValidationFailed(
                f"pending_days must be a whole number from 0 to {MAX_PENDING_DAYS}",
                field="pending_days",
            )
        values["pending_days"] = days
    if "award_statuses" in changes:
        statuses = changes["award_statuses"]
        known = KNOWN_STATUSES[platform]
        if (
            not isinstance(statuses, list)
            or not statuses
            or not all(isinstance(s, str) and s in known for s in statuses)
        ):
            raise ValidationFailed(
                f"award_statuses must be a non-empty list drawn from {sorted(known)}",
                field="award_statuses",
            )
        values["award_statuses"] = ",".join(sorted(set(statuses)))
    for name in _BOOLEANS:
        if name in changes:
            if not isinstance(changes[name], bool):
                raise ValidationFailed(f"{name} must be true or false", field=name)
            values[name] = changes[name]
    return values
