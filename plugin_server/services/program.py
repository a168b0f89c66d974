"""Reading and changing a shop's program settings."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select

from plugin_server.db.models import Shop, Tier
from plugin_server.db.unit_of_work import UnitOfWork
from plugin_server.domain.errors import ShopNotFound
from plugin_server.domain.program import validate_program_changes
from plugin_server.domain.tiers import TierMeasure, check_threshold_fits


def _check_thresholds_fit(uow: UnitOfWork, shop_id: int, measure: TierMeasure) -> None:
    for threshold in uow.session.scalars(
        select(Tier.threshold).where(Tier.shop_id == shop_id, Tier.archived_at.is_(None))
    ):
        check_threshold_fits(threshold, measure)


def _view(shop: Shop) -> dict[str, Any]:
    return {
        "platform": shop.platform,
        "points_per_unit": str(shop.points_per_unit.normalize()),
        "include_shipping": shop.include_shipping,
        "include_tax": shop.include_tax,
        "pending_days": shop.pending_days,
        "award_statuses": [s for s in shop.award_statuses.split(",") if s],
        "guests_earn": shop.guests_earn,
        "return_points_on_expiry": shop.return_points_on_expiry,
        "expiry": {
            "policy": shop.expiry_policy,
            "months": shop.expiry_months,
            "reminder_days": shop.expiry_reminder_days,
        },
        "tiers": {
            "measure": shop.tier_measure,
            "period": shop.tier_period,
            "downgrade": shop.tier_downgrade,
        },
    }


def get_program(uow: UnitOfWork, shop_id: int) -> dict[str, Any]:
    with uow:
        shop = uow.session.get(Shop, shop_id)
        if shop is None:
            raise ShopNotFound()
        return _view(shop)


def update_program(
    uow: UnitOfWork, shop_id: int, changes: Mapping[str, Any], *, now: datetime
) -> dict[str, Any]:
    """Apply validated changes. Orders already paid keep the terms they earned on; a change
    to how members qualify for tiers has every member recalculated by the next tick."""
    with uow:
        shop = uow.session.get(Shop, shop_id, with_for_update=True)
        if shop is None:
            raise ShopNotFound()
        values = validate_program_changes(shop.platform, changes)
        if "tier_measure" in values and values["tier_measure"] != shop.tier_measure:
            _check_thresholds_fit(uow, shop_id, TierMeasure(values["tier_measure"]))
        tiers_before = (shop.tier_measure, shop.tier_period, shop.tier_downgrade)
        for column, value in values.items():
            setattr(shop, column, value)
        tiers_after = (shop.tier_measure, shop.tier_period, shop.tier_downgrade)
        if tiers_after != tiers_before and shop.tiers_changed_at is not None:
            shop.tiers_changed_at = now
        view = _view(shop)
        uow.commit()
    return view
