"""The admin app's overview: a few totals and the latest ledger activity of one shop.

Plain aggregate queries; the analytics pages (charts, periods) come later and may replace
these with their own.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, select

from plugin_server.db.models import Customer, LedgerEntry, Referral
from plugin_server.db.unit_of_work import UnitOfWork
from plugin_server.domain.ledger import EntryKind

RECENT_LIMIT = 10
# What a redemption takes and what a failed or cancelled one gives back.
_REDEEM_KINDS = (EntryKind.REDEEM.value, EntryKind.REDEEM_REFUND.value)


def overview(uow: UnitOfWork, shop_id: int) -> dict[str, Any]:
    """Members, points issued / redeemed / outstanding, flagged referrals, recent entries."""
    with uow:
        s = uow.session
        members = s.scalar(select(func.count()).where(Customer.shop_id == shop_id)) or 0
        issued, redeemed, outstanding = s.execute(
            select(
                func.coalesce(
                    func.sum(
                        case(
                            (
                                (LedgerEntry.points > 0) & LedgerEntry.kind.not_in(_REDEEM_KINDS),
                                LedgerEntry.points,
                            ),
                            else_=0,
                        )
                    ),
                    0,
                ),
                func.coalesce(
                    func.sum(
                        case((LedgerEntry.kind.in_(_REDEEM_KINDS), LedgerEntry.points), else_=0)
                    ),
                    0,
                ),
                func.coalesce(func.sum(LedgerEntry.points), 0),
            ).where(LedgerEntry.shop_id == shop_id)
        ).one()
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
            "members": int(members),
            "points_issued": int(issued),
            "points_redeemed": -int(redeemed),
            "points_outstanding": int(outstanding),
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
