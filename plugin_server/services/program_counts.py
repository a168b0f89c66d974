"""Counts the admin app shows beside the program's catalogs: members per tier, referrals per
campaign. Read-only, one query each, always scoped to the shop."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import func, select

from plugin_server.db.models import MemberTier, Referral
from plugin_server.db.unit_of_work import UnitOfWork


def tier_members(uow: UnitOfWork, shop_id: int) -> dict[int, int]:
    """How many members hold each tier now (tier id -> count; tiers nobody holds left out)."""
    with uow:
        rows = uow.session.execute(
            select(MemberTier.tier_id, func.count())
            .where(MemberTier.shop_id == shop_id, MemberTier.tier_id.is_not(None))
            .group_by(MemberTier.tier_id)
        )
        return {int(tier_id): int(count) for tier_id, count in rows if tier_id is not None}


def campaign_referrals(uow: UnitOfWork, shop_id: int) -> dict[int, dict[str, int]]:
    """Each campaign's referrals by status (campaign id -> status -> count), with "total"."""
    out: dict[int, dict[str, int]] = defaultdict(dict)
    with uow:
        rows = uow.session.execute(
            select(Referral.campaign_id, Referral.status, func.count())
            .where(Referral.shop_id == shop_id)
            .group_by(Referral.campaign_id, Referral.status)
        )
        for campaign_id, status, count in rows:
            counts = out[int(campaign_id)]
            counts[str(status)] = int(count)
            counts["total"] = counts.get("total", 0) + int(count)
    return dict(out)
