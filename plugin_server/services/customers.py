"""Reading members: balances and ledger history, always within one shop."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from plugin_server.db import repositories
from plugin_server.db.models import Customer, Shop
from plugin_server.db.unit_of_work import UnitOfWork
from plugin_server.domain.errors import CustomerNotFound
from plugin_server.domain.expiry import Upcoming
from plugin_server.domain.ledger import IMMEDIATE_DEBIT_KINDS
from plugin_server.services import earning_rules, expiry, referrals, scores, tiers


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def expiring_view(upcoming: Upcoming | None) -> dict[str, object] | None:
    if upcoming is None:
        return None
    return {"points": upcoming.points, "at": upcoming.expires_at.isoformat()}


def _summary(uow: UnitOfWork, shop_id: int, customer: Customer, now: datetime) -> dict[str, object]:
    bal = repositories.balance(uow.session, shop_id, customer.id, now)
    shop = uow.session.get(Shop, shop_id)
    assert shop is not None
    upcoming = expiry.upcoming_for(
        uow.session,
        shop_id,
        customer.id,
        policy=shop.expiry_policy,
        months=shop.expiry_months,
        spendable=bal.spendable,
        now=now,
    )
    return {
        "customer_id": customer.customer_ref,
        "email": customer.email,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "balance": bal.spendable,
        "pending": bal.pending,
        "lifetime_earned": bal.lifetime_earned,
        "next_pending_available_at": _iso(bal.next_available_at),
        "can_redeem": bal.can_redeem,
        "member_since": _iso(customer.created_at),
        "expiring": expiring_view(upcoming),
        "birthday": earning_rules.birthday_view(
            customer.birth_month, customer.birth_day, customer.birthday_set_at
        ),
        "tier": tiers.member_tier_view(
            uow.session, shop_id, tiers.public_tiers(uow.session, shop), customer.id, now=now
        ),
        # Gives the member a code the first time it is asked for (committed by the caller).
        "referral": referrals.member_referral(uow.session, shop, customer, now=now),
        "scores": scores.scores_of(uow.session, shop_id, customer.id),
    }


def customer_summary(
    uow: UnitOfWork, shop_id: int, customer_ref: str, *, now: datetime
) -> dict[str, object]:
    """Balance, pending and lifetime points of one member; CustomerNotFound otherwise."""
    with uow:
        customer = repositories.customer_by_ref(uow.session, shop_id, customer_ref)
        if customer is None:
            raise CustomerNotFound(f"no customer {customer_ref!r} in this shop")
        out = _summary(uow, shop_id, customer, now)
        uow.commit()
        return out


def customers_by_email(
    uow: UnitOfWork, shop_id: int, email: str, *, now: datetime
) -> list[dict[str, object]]:
    """Members with this email (a registered account and a guest may share one)."""
    with uow:
        found = repositories.customers_by_email(uow.session, shop_id, email.strip().lower())
        out = [_summary(uow, shop_id, c, now) for c in found]
        uow.commit()
        return out


class EntryFields(Protocol):
    """A ledger entry or a row selected with the same column names."""

    id: int
    points: int
    kind: str
    reason: str
    source_type: str
    source_ref: str
    created_at: datetime
    available_at: datetime


def _counts_now(entry: EntryFields, now: datetime) -> bool:
    # The same rule `repositories.balance` sums by.
    immediate_debit = entry.points < 0 and entry.kind in IMMEDIATE_DEBIT_KINDS
    return entry.available_at <= now or immediate_debit


def entry_view(entry: EntryFields, now: datetime) -> dict[str, object]:
    return {
        "id": entry.id,
        "points": entry.points,
        "kind": entry.kind,
        "reason": entry.reason,
        "source": {"type": entry.source_type, "ref": entry.source_ref},
        "status": "available" if _counts_now(entry, now) else "pending",
        "created_at": _iso(entry.created_at),
        "available_at": _iso(entry.available_at),
    }


def transactions(
    uow: UnitOfWork,
    shop_id: int,
    customer_ref: str,
    *,
    now: datetime,
    limit: int,
    before_id: int | None,
) -> dict[str, object]:
    """A page of ledger entries, newest first, with the cursor for the next page."""
    with uow:
        customer = repositories.customer_by_ref(uow.session, shop_id, customer_ref)
        if customer is None:
            raise CustomerNotFound(f"no customer {customer_ref!r} in this shop")
        rows = repositories.ledger_page(
            uow.session, shop_id, customer.id, limit=limit + 1, before_id=before_id
        )
        page = rows[:limit]
        return {
            "customer_id": customer.customer_ref,
            "transactions": [entry_view(e, now) for e in page],
            "next_cursor": str(page[-1].id) if len(rows) > limit else None,
        }


SEARCH_LIMIT = 25


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_customers(
    uow: UnitOfWork, shop_id: int, query: str, *, now: datetime, limit: int = SEARCH_LIMIT
) -> list[dict[str, object]]:
    """Members whose email, name or platform id contains `query` (case-insensitive),
    newest first, each with the spendable balance."""
    from sqlalchemy import func, or_, select

    text = query.strip()[:200]
    if not text:
        return []
    pattern = _like_pattern(text.lower())
    full_name = func.lower(
        func.coalesce(Customer.first_name, "") + " " + func.coalesce(Customer.last_name, "")
    )
    with uow:
        rows = uow.session.scalars(
            select(Customer)
            .where(
                Customer.shop_id == shop_id,
                or_(
                    func.lower(Customer.email).like(pattern, escape="\\"),
                    full_name.like(pattern, escape="\\"),
                    Customer.customer_ref == text,
                ),
            )
            .order_by(Customer.id.desc())
            .limit(limit)
        ).all()
        return [
            {
                "customer_id": c.customer_ref,
                "email": c.email,
                "first_name": c.first_name,
                "last_name": c.last_name,
                "balance": repositories.balance(uow.session, shop_id, c.id, now).spendable,
            }
            for c in rows
        ]
