"""What the storefront widget shows: the program for everyone, and a shopper's own points,
rewards within reach, codes and history. Read-only, one shop, one session."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin_server.db import repositories
from plugin_server.db.models import Redemption, Reward, Shop
from plugin_server.db.unit_of_work import UnitOfWork
from plugin_server.domain.errors import ShopNotFound, ValidationFailed
from plugin_server.domain.widget import (
    default_settings,
    validate_public_key,
    validate_widget_settings,
)
from plugin_server.services.customers import entry_view
from plugin_server.services.rewards import view as reward_view

HISTORY = 10
CODES = 5


def widget_settings(shop: Shop) -> dict[str, Any]:
    stored = json.loads(shop.widget_settings) if shop.widget_settings else {}
    return {**default_settings(), **stored}


def allowed_origins(shop: Shop) -> list[str]:
    """The shop's own storefront origins: CORS answers no one else."""
    own = f"https://{shop.domain}" if shop.platform == "shopify" else shop.domain
    from urllib.parse import urlsplit

    parts = urlsplit(own)
    return [f"{parts.scheme}://{parts.netloc}", *widget_settings(shop)["origins"]]


def _reward(r: Reward, balance: int | None) -> dict[str, Any]:
    out = reward_view(r)
    cost = out["points_cost"] if out["kind"] != "points_for_money" else out["min_points"]
    entry = {
        "id": out["id"],
        "name": out["name"],
        "kind": out["kind"],
        "points_cost": out["points_cost"],
        "amount": out["amount"],
        "currency": out["currency"],
        "percent": out["percent"],
        "points_per_step": out["points_per_step"],
        "min_points": out["min_points"],
        "max_points": out["max_points"],
        "min_order_subtotal": out["min_order_subtotal"],
        "cost": cost,
    }
    if balance is not None:
        entry["progress"] = 0.0 if cost <= 0 else round(min(max(balance, 0) / cost, 1.0), 4)
        entry["can_redeem"] = balance >= cost
    return entry


def _program(session: Session, shop: Shop, balance: int | None) -> dict[str, Any]:
    rewards = session.scalars(
        select(Reward)
        .where(Reward.shop_id == shop.id, Reward.archived_at.is_(None))
        .order_by(Reward.id)
    )
    return {
        "platform": shop.platform,
        "points_per_unit": str(shop.points_per_unit.normalize()),
        "pending_days": shop.pending_days,
        "guests_earn": shop.guests_earn,
        "rewards": [_reward(r, balance) for r in rewards],
    }


def _shop(session: Session, shop_id: int) -> Shop:
    shop = session.get(Shop, shop_id)
    if shop is None:
        raise ShopNotFound()
    return shop


def program(uow: UnitOfWork, shop_id: int) -> dict[str, Any]:
    """For guests: how to earn and what there is to redeem."""
    with uow:
        shop = _shop(uow.session, shop_id)
        return {
            "member": None,
            "program": _program(uow.session, shop, None),
            "settings": _public_settings(shop),
        }


def summary(uow: UnitOfWork, shop_id: int, customer_ref: str, *, now: datetime) -> dict[str, Any]:
    """A signed-in shopper's view. Someone who has not earned yet is a member with 0."""
    with uow:
        session = uow.session
        shop = _shop(session, shop_id)
        customer = repositories.customer_by_ref(session, shop_id, customer_ref)
        if customer is None:
            member: dict[str, Any] = {
                "customer_id": customer_ref,
                "first_name": None,
                "balance": 0,
                "pending": 0,
                "next_pending_available_at": None,
                "codes": [],
                "history": [],
            }
            balance = 0
        else:
            bal = repositories.balance(session, shop_id, customer.id, now)
            balance = bal.spendable
            codes = session.scalars(
                select(Redemption)
                .where(
                    Redemption.shop_id == shop_id,
                    Redemption.customer_id == customer.id,
                    Redemption.status.in_(["issued", "pending", "used"]),
                )
                .order_by(Redemption.id.desc())
                .limit(CODES)
            )
            entries = repositories.ledger_page(
                session, shop_id, customer.id, limit=HISTORY, before_id=None
            )
            member = {
                "customer_id": customer.customer_ref,
                "first_name": customer.first_name,
                "balance": bal.spendable,
                "pending": bal.pending,
                "next_pending_available_at": (
                    bal.next_available_at.isoformat() if bal.next_available_at else None
                ),
                "codes": [_code(r) for r in codes],
                "history": [
                    {k: v for k, v in entry_view(e, now).items() if k != "source"} for e in entries
                ],
            }
        # Slots the tiers and referrals issue fills; null until then.
        member["tier"] = None
        member["referral"] = None
        return {
            "member": member,
            "program": _program(session, shop, balance),
            "settings": _public_settings(shop),
        }


def _code(r: Redemption) -> dict[str, Any]:
    discount = json.loads(r.discount)
    return {
        "redemption_id": r.id,
        "status": r.status,
        "code": r.code if r.status in ("issued", "used") else None,
        "title": discount["title"],
        "expires_at": r.expires_at.isoformat(),
    }


def _public_settings(shop: Shop) -> dict[str, Any]:
    s = widget_settings(shop)
    return {"theme": s["theme"], "texts": s["texts"], "position": s["position"]}


# --- merchant side ----------------------------------------------------------------------


def get_widget(uow: UnitOfWork, shop_id: int) -> dict[str, Any]:
    with uow:
        shop = _shop(uow.session, shop_id)
        return {**widget_settings(shop), "token_public_key": shop.token_public_key}


def update_widget(uow: UnitOfWork, shop_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    if not changes:
        raise ValidationFailed("send at least one setting to change")
    key_given = "token_public_key" in changes
    key = changes.pop("token_public_key", None)
    with uow:
        shop = uow.session.get(Shop, shop_id, with_for_update=True)
        if shop is None:
            raise ShopNotFound()
        settings = validate_widget_settings(changes, widget_settings(shop))
        if key_given:
            shop.token_public_key = None if key is None else validate_public_key(key)
        shop.widget_settings = json.dumps(settings)
        out = {**settings, "token_public_key": shop.token_public_key}
        uow.commit()
    return out
