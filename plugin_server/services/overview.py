"""The admin app's overview: a few all-time totals and the latest ledger activity of one
shop.

The totals come from the analytics aggregates (`analytics.totals_now`: the days the last
build holds in full, plus the rows written since), so the page no longer reads the shop's
whole ledger; they are exact up to this moment, today's activity included.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from plugin_server.db.models import Customer, LedgerEntry, Referral
from plugin_server.db.unit_of_work import UnitOfWork
from plugin_server.services import analytics

RECENT_LIMIT = 10


def overview(uow: UnitOfWork, shop_id: int) -> dict[str, Any]:
    """Members, points issued / redeemed / outstanding (as analytics defines them, over
    all time up to now), flagged referrals, recent entries."""
    with uow:
        s = uow.session
        totals = analytics.totals_now(s, shop_id)
        flagged = (
            s.scalar(
                select(func.count()).where(
                    Referral.shop_id == shop_id, Referral.status == "flagged"
                )
            )
            or 0
        )
        recent = s.execute(
            select(
                LedgerEntry.id,
                LedgerEntry.points,
                LedgerEntry.kind,
                LedgerEntry.reason,
                LedgerEntry.created_at,
                Customer.customer_ref,
                Customer.email,
            )
            .join(Customer, Customer.id == LedgerEntry.customer_id)
            .where(LedgerEntry.shop_id == shop_id)
            .order_by(LedgerEntry.id.desc())
            .limit(RECENT_LIMIT)
        ).all()
        return {
            **totals,
            "flagged_referrals": int(flagged),
            "recent": [
                {
                    "id": r.id,
                    "points": r.points,
                    "kind": r.kind,
                    "reason": r.reason,
                    "created_at": r.created_at,
                    "customer_id": r.customer_ref,
                    "email": r.email,
                }
                for r in recent
            ],
        }
