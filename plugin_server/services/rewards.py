"""The rewards catalog of one shop: create, list, change, archive."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select

from plugin_server.db.models import Reward, Tier
from plugin_server.db.unit_of_work import UnitOfWork
from plugin_server.domain.errors import RewardArchived, RewardNotFound, ValidationFailed
from plugin_server.domain.rewards import validate_reward

_MONEY_FIELDS = ("amount", "percent", "min_order_subtotal")


def definition(reward: Reward) -> dict[str, Any]:
    """The stored reward in the shape `validate_reward` takes."""
    return {
        "name": reward.name,
        "kind": reward.kind,
        "points_cost": reward.points_cost,
        "amount": reward.amount,
        "percent": reward.percent,
        "currency": reward.currency,
        "points_per_step": reward.points_per_step,
        "min_points": reward.min_points,
        "max_points": reward.max_points,
        "min_order_subtotal": reward.min_order_subtotal,
        "product_ids": json.loads(reward.product_ids),
        "collection_ids": json.loads(reward.collection_ids),
        "code_valid_days": reward.code_valid_days,
        "min_tier_id": reward.min_tier_id,
    }


def view(reward: Reward) -> dict[str, Any]:
    out = definition(reward)
    for field in _MONEY_FIELDS:  # money leaves as strings: JSON numbers are floats to clients
        if out[field] is not None:
            out[field] = f"{out[field]:.2f}"
    return {
        "id": reward.id,
        **out,
        "status": "archived" if reward.archived_at else "active",
        "created_at": reward.created_at.isoformat(),
        "updated_at": reward.updated_at.isoformat(),
    }


def _store(reward: Reward, values: Mapping[str, Any]) -> None:
    for field, value in values.items():
        if field in ("product_ids", "collection_ids"):
            value = json.dumps(value)
        setattr(reward, field, value)


def create_reward(
    uow: UnitOfWork, shop_id: int, data: Mapping[str, Any], *, now: datetime
) -> dict[str, Any]:
    values = validate_reward(data)
    with uow:
        _check_tier(uow, shop_id, values["min_tier_id"])
        reward = Reward(shop_id=shop_id, created_at=now, updated_at=now)
        _store(reward, values)
        uow.session.add(reward)
        uow.session.flush()
        out = view(reward)
        uow.commit()
    return out


def _check_tier(uow: UnitOfWork, shop_id: int, tier_id: int | None) -> None:
    if tier_id is None:
        return
    found = uow.session.scalar(
        select(Tier.id).where(
            Tier.shop_id == shop_id, Tier.id == tier_id, Tier.archived_at.is_(None)
        )
    )
    if found is None:
        raise ValidationFailed(f"no active tier {tier_id} in this shop", field="min_tier_id")


def _get(uow: UnitOfWork, shop_id: int, reward_id: int, *, lock: bool = False) -> Reward:
    stmt = select(Reward).where(Reward.shop_id == shop_id, Reward.id == reward_id)
    reward = uow.session.scalars(stmt.with_for_update() if lock else stmt).one_or_none()
    if reward is None:
        raise RewardNotFound(f"no reward {reward_id} in this shop")
    return reward


def get_reward(uow: UnitOfWork, shop_id: int, reward_id: int) -> dict[str, Any]:
    with uow:
        return view(_get(uow, shop_id, reward_id))


def list_rewards(uow: UnitOfWork, shop_id: int, *, status: str = "active") -> list[dict[str, Any]]:
    if status not in ("active", "archived", "all"):
        raise ValidationFailed("status must be active, archived or all", field="status")
    with uow:
        stmt = select(Reward).where(Reward.shop_id == shop_id).order_by(Reward.id)
        if status == "active":
            stmt = stmt.where(Reward.archived_at.is_(None))
        elif status == "archived":
            stmt = stmt.where(Reward.archived_at.is_not(None))
        return [view(r) for r in uow.session.scalars(stmt)]


def update_reward(
    uow: UnitOfWork, shop_id: int, reward_id: int, changes: Mapping[str, Any], *, now: datetime
) -> dict[str, Any]:
    """Change an active reward; codes already issued keep the terms they were issued on."""
    if not changes:
        raise ValidationFailed("send at least one field to change")
    with uow:
        reward = _get(uow, shop_id, reward_id, lock=True)
        if reward.archived_at is not None:
            raise RewardArchived()
        values = validate_reward(changes, current=definition(reward))
        if "min_tier_id" in changes:
            _check_tier(uow, shop_id, values["min_tier_id"])
        _store(reward, values)
        reward.updated_at = now
        out = view(reward)
        uow.commit()
    return out


def archive_reward(
    uow: UnitOfWork, shop_id: int, reward_id: int, *, now: datetime
) -> dict[str, Any]:
    """Take a reward out of the catalog (idempotent); its history stays."""
    with uow:
        reward = _get(uow, shop_id, reward_id, lock=True)
        if reward.archived_at is None:
            reward.archived_at = now
            reward.updated_at = now
        out = view(reward)
        uow.commit()
    return out
