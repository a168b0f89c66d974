"""Reading and changing a shop's program settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plugin_server.db.models import Shop
from plugin_server.db.unit_of_work import UnitOfWork
from plugin_server.domain.errors import ShopNotFound
from plugin_server.domain.program import validate_program_changes


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
    }


def get_program(uow: UnitOfWork, shop_id: int) -> dict[str, Any]:
    with uow:
        shop = uow.session.get(Shop, shop_id)
        if shop is None:
            raise ShopNotFound()
        return _view(shop)


def update_program(uow: UnitOfWork, shop_id: int, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Apply validated changes. Orders already paid keep the terms they earned on."""
    with uow:
        shop = uow.session.get(Shop, shop_id, with_for_update=True)
        if shop is None:
            raise ShopNotFound()
        for column, value in validate_program_changes(shop.platform, changes).items():
            setattr(shop, column, value)
        view = _view(shop)
        uow.commit()
    return view
