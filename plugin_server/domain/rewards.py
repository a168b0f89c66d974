"""The rewards catalog: what a shopper can turn points into, and the rules each must obey."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from plugin_server.domain.errors import ValidationFailed
from plugin_server.domain.program import parse_decimal


class RewardKind(StrEnum):
    FIXED_AMOUNT = "fixed_amount"  # N points -> X off the order
    PERCENTAGE = "percentage"  # N points -> P % off
    FREE_SHIPPING = "free_shipping"  # N points -> free shipping
    POINTS_FOR_MONEY = "points_for_money"  # every N points -> X off, between a min and a max


MAX_POINTS = 10_000_000
_CURRENCY = re.compile(r"[A-Z]{3}")
# Fields a merchant may send, and those each kind requires.
FIELDS = frozenset(
    {
        "name",
        "kind",
        "points_cost",
        "amount",
        "percent",
        "currency",
        "points_per_step",
        "min_points",
        "max_points",
        "min_order_subtotal",
        "min_tier_id",
        "product_ids",
        "collection_ids",
        "code_valid_days",
    }
)
REQUIRED = {
    RewardKind.FIXED_AMOUNT: ("points_cost", "amount", "currency"),
    RewardKind.PERCENTAGE: ("points_cost", "percent"),
    RewardKind.FREE_SHIPPING: ("points_cost",),
    RewardKind.POINTS_FOR_MONEY: (
        "points_per_step",
        "amount",
        "currency",
        "min_points",
        "max_points",
    ),
}
# Fields that make no sense for a kind and must not be sent with it.
NOT_FOR = {
    RewardKind.FIXED_AMOUNT: ("percent", "points_per_step", "min_points", "max_points"),
    RewardKind.PERCENTAGE: ("amount", "currency", "points_per_step", "min_points", "max_points"),
    RewardKind.FREE_SHIPPING: ("amount", "percent", "points_per_step", "min_points", "max_points"),
    RewardKind.POINTS_FOR_MONEY: ("points_cost", "percent"),
}


def _points(value: Any, field: str, *, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= MAX_POINTS:
        raise ValidationFailed(
            f"{field} must be a whole number from {low} to {MAX_POINTS}", field=field
        )
    return value


def _money(value: Any, field: str, *, allow_zero: bool = False) -> Decimal:
    amount = parse_decimal(value, field)
    if amount < 0 or (amount == 0 and not allow_zero) or amount != amount.quantize(Decimal("0.01")):
        raise ValidationFailed(
            f"{field} must be a positive amount with at most 2 decimals", field=field
        )
    if amount > Decimal("1000000"):
        raise ValidationFailed(f"{field} must be at most 1000000", field=field)
    return amount


def _ids(value: Any, field: str) -> list[str]:
    if (
        not isinstance(value, list)
        or len(value) > 100
        or not all(
            isinstance(v, (str, int)) and not isinstance(v, bool) and str(v).strip() for v in value
        )
    ):
        raise ValidationFailed(f"{field} must be a list of up to 100 ids", field=field)
    return [str(v).strip()[:100] for v in value]


def validate_reward(
    data: Mapping[str, Any], *, current: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A complete, valid reward from a new definition or from `current` plus changes.

    Raises ValidationFailed naming the field at fault. The kind of an existing reward cannot
    change (codes already issued for it would no longer match it).
    """
    unknown = sorted(set(data) - FIELDS)
    if unknown:
        raise ValidationFailed(f"unknown fields: {', '.join(unknown)}")
    if current is not None and "kind" in data and data["kind"] != current["kind"]:
        raise ValidationFailed("the kind of a reward cannot change; archive it and create another")
    merged: dict[str, Any] = {**(current or {}), **data}
    try:
        kind = RewardKind(str(merged.get("kind")))
    except ValueError:
        raise ValidationFailed(
            f"kind must be one of {[k.value for k in RewardKind]}", field="kind"
        ) from None
    for field in REQUIRED[kind]:
        if merged.get(field) is None:
            raise ValidationFailed(f"{field} is required for a {kind.value} reward", field=field)
    for field in NOT_FOR[kind]:
        if data.get(field) is not None:
            raise ValidationFailed(f"{field} does not apply to a {kind.value} reward", field=field)
    name = merged.get("name")
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 100:
        raise ValidationFailed("name must be 1 to 100 characters", field="name")
    out: dict[str, Any] = {"kind": kind.value, "name": name.strip()}
    out["points_cost"] = (
        _points(merged["points_cost"], "points_cost")
        if kind is not RewardKind.POINTS_FOR_MONEY
        else None
    )
    out["amount"] = (
        _money(merged["amount"], "amount")
        if kind in (RewardKind.FIXED_AMOUNT, RewardKind.POINTS_FOR_MONEY)
        else None
    )
    currency = merged.get("currency")
    if out["amount"] is not None:
        if not isinstance(currency, str) or not _CURRENCY.fullmatch(currency.upper()):
            raise ValidationFailed(
                "currency must be an ISO 4217 code such as USD", field="currency"
            )
        out["currency"] = currency.upper()
    else:
        out["currency"] = None
    if kind is RewardKind.PERCENTAGE:
        percent = parse_decimal(merged["percent"], "percent")
        if not Decimal(0) < percent <= 100 or percent != percent.quantize(Decimal("0.01")):
            raise ValidationFailed("percent must be above 0 and at most 100", field="percent")
        out["percent"] = percent
    else:
        out["percent"] = None
    if kind is RewardKind.POINTS_FOR_MONEY:
        step = _points(merged["points_per_step"], "points_per_step")
        low = _points(merged["min_points"], "min_points")
        high = _points(merged["max_points"], "max_points")
        if low % step or high % step or low > high:
            raise ValidationFailed(
                "min_points and max_points must be multiples of points_per_step, min <= max",
                field="min_points",
            )
        out.update(points_per_step=step, min_points=low, max_points=high)
    else:
        out.update(points_per_step=None, min_points=None, max_points=None)
    subtotal = merged.get("min_order_subtotal")
    out["min_order_subtotal"] = (
        None if subtotal is None else _money(subtotal, "min_order_subtotal", allow_zero=True)
    )
    out["product_ids"] = _ids(merged.get("product_ids") or [], "product_ids")
    out["collection_ids"] = _ids(merged.get("collection_ids") or [], "collection_ids")
    days = merged.get("code_valid_days", 30)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 365:
        raise ValidationFailed(
            "code_valid_days must be a whole number from 1 to 365", field="code_valid_days"
        )
    out["code_valid_days"] = days
    tier_id = merged.get("min_tier_id")
    if tier_id is not None and (
        isinstance(tier_id, bool) or not isinstance(tier_id, int) or tier_id < 1
    ):
        raise ValidationFailed("min_tier_id must be a tier's id, or null", field="min_tier_id")
    out["min_tier_id"] = tier_id
    return out


@dataclass(frozen=True, slots=True)
class PlannedDiscount:
    """What one redemption costs and what its code gives, fixed at the moment of redeeming."""

    points: int
    kind: str  # fixed_amount | percentage | free_shipping
    title: str
    valid_days: int
    amount: Decimal | None = None
    currency: str | None = None
    percent: Decimal | None = None
    min_subtotal: Decimal | None = None
    product_ids: tuple[str, ...] = ()
    collection_ids: tuple[str, ...] = ()


def plan_discount(reward: Mapping[str, Any], *, points: int | None) -> PlannedDiscount:
    """The discount a reward gives for `points` (required only for points-for-money).

    Raises ValidationFailed for points a reward cannot take.
    """
    kind = RewardKind(reward["kind"])
    common = {
        "title": f"Loyalty reward: {reward['name']}"[:255],
        "valid_days": reward["code_valid_days"],
        "min_subtotal": reward.get("min_order_subtotal"),
        "product_ids": tuple(reward.get("product_ids") or ()),
        "collection_ids": tuple(reward.get("collection_ids") or ()),
    }
    if kind is RewardKind.POINTS_FOR_MONEY:
        step, low, high = reward["points_per_step"], reward["min_points"], reward["max_points"]
        if isinstance(points, bool) or not isinstance(points, int):
            raise ValidationFailed(
                "points is required for a points-for-money reward", field="points"
            )
        if points % step or not low <= points <= high:
            raise ValidationFailed(
                f"points must be a multiple of {step} from {low} to {high}", field="points"
            )
        return PlannedDiscount(
            points=points,
            kind=RewardKind.FIXED_AMOUNT.value,
            amount=reward["amount"] * (points // step),
            currency=reward["currency"],
            **common,
        )
    cost = reward["points_cost"]
    if points is not None and points != cost:
        raise ValidationFailed(f"this reward costs {cost} points")
    return PlannedDiscount(
        points=cost,
        kind=kind.value,
        amount=reward.get("amount"),
        currency=reward.get("currency"),
        percent=reward.get("percent"),
        **common,
    )
