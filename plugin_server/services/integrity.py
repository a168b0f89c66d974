"""`loyalty check`: the invariants that must hold after any crash, restart or outage, read
from the database alone, set-based, on SQLite and PostgreSQL.

Each check counts what it looked at and what breaks the rule, with a few ids to start
from. Errors are rules the code never breaks on purpose (a paid order credited twice, a
failed redemption whose points never came back); "unsettled" are states that are normal
for a moment and wrong if they last (a webhook still waiting, a code still pending): they
count only when older than `settle`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, and_, case, cast, func, literal, or_, select, text
from sqlalchemy.orm import Session

from plugin_server.db.models import (
    EarningRule,
    LedgerEntry,
    MemberTier,
    Order,
    OrderBonus,
    Redemption,
    Referral,
    TierChange,
    WebhookReceipt,
)
from plugin_server.db.unit_of_work import UnitOfWork
from plugin_server.domain.ledger import EntryKind
from plugin_server.services import redemptions, webhook_receipts

EXAMPLES = 10
DEFAULT_SETTLE = timedelta(minutes=15)


@dataclass
class Finding:
    name: str
    rule: str
    checked: int
    broken: int
    examples: list[Any] = field(default_factory=list)
    severity: str = "error"  # or "unsettled"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "rule": self.rule,
            "severity": self.severity,
            "checked": self.checked,
            "broken": self.broken,
            "examples": self.examples,
            "ok": self.broken == 0,
        }


@dataclass
class Report:
    findings: list[Finding]

    @property
    def ok(self) -> bool:
        return all(f.broken == 0 for f in self.findings)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [f.as_dict() for f in self.findings]}


def check(
    uow: UnitOfWork,
    *,
    now: datetime,
    shop_id: int | None = None,
    settle: timedelta = DEFAULT_SETTLE,
) -> Report:
    """Every check, in one read-only transaction (one snapshot on PostgreSQL)."""
    with uow:
        session = uow.session
        if session.get_bind().dialect.name == "postgresql":
            # One snapshot for every check, and no way to write by mistake.
            session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
        checks: list[Callable[..., Finding]] = [
            _orders_credited_once,
            _campaign_bonuses_credited_once,
            _redemptions_balanced,
            _referrals_rewarded_once,
            _tiers_match_history,
            _guest_merges_balanced,
        ]
        findings = [c(session, shop_id) for c in checks]
        findings += [
            _receipts_settled(session, shop_id, now - settle),
            _redemptions_settled(session, shop_id, now - settle),
        ]
    return Report(findings)


def _scoped(column: Any, shop_id: int | None) -> Any:
    return column == shop_id if shop_id is not None else literal(True)


def _finding(
    session: Session, name: str, rule: str, rows: Any, broken: Any, ref: Any, **kw: Any
) -> Finding:
    """`rows`: a subquery with one row per thing checked; `broken`: the condition on its
    columns that breaks the rule; `ref`: what to show for a broken one."""
    checked, bad = session.execute(
        select(func.count(), func.coalesce(func.sum(case((broken, 1), else_=0)), 0)).select_from(
            rows
        )
    ).one()
    examples = list(session.scalars(select(ref).select_from(rows).where(broken).limit(EXAMPLES)))
    return Finding(name, rule, int(checked), int(bad), examples, **kw)


def _sum_by(column: Any, shop_id: int | None, *kinds: EntryKind, **where: Any) -> Any:
    """Per `column` of ledger entries of these kinds: the number of entries and their sum."""
    return (
        select(
            LedgerEntry.shop_id.label("shop_id"),
            column.label("ref"),
            func.count().label("n"),
            func.sum(LedgerEntry.points).label("points"),
        )
        .where(
            _scoped(LedgerEntry.shop_id, shop_id),
            LedgerEntry.kind.in_([k.value for k in kinds]),
            *(getattr(LedgerEntry, k) == v for k, v in where.items()),
        )
        .group_by(LedgerEntry.shop_id, column)
    )


def _orders_credited_once(session: Session, shop_id: int | None) -> Finding:
    earned = _sum_by(LedgerEntry.order_id, shop_id, EntryKind.EARN_ORDER).subquery()
    taken = _sum_by(LedgerEntry.order_id, shop_id, EntryKind.REVERSE_ORDER).subquery()
    rows = (
        select(
            Order.id.label("id"),
            func.coalesce(Order.earned_points, 0).label("due"),
            func.coalesce(earned.c.n, 0).label("credits"),
            func.coalesce(earned.c.points, 0).label("credited"),
            (-func.coalesce(taken.c.points, 0)).label("taken"),
        )
        .outerjoin(earned, and_(earned.c.shop_id == Order.shop_id, earned.c.ref == Order.id))
        .outerjoin(taken, and_(taken.c.shop_id == Order.shop_id, taken.c.ref == Order.id))
        .where(_scoped(Order.shop_id, shop_id))
        .subquery()
    )
    broken = or_(
        and_(rows.c.due > 0, or_(rows.c.credits != 1, rows.c.credited != rows.c.due)),
        and_(rows.c.due <= 0, rows.c.credits != 0),
        rows.c.taken > rows.c.credited,
    )
    return _finding(
        session,
        "orders_credited_once",
        "an order that earns is credited exactly once, with the points it earned, and "
        "refunds never take back more than it earned",
        rows,
        broken,
        rows.c.id,
    )


def _campaign_bonuses_credited_once(session: Session, shop_id: int | None) -> Finding:
    source = cast(LedgerEntry.order_id, String) + ":" + LedgerEntry.source_ref
    given = _sum_by(source, shop_id, EntryKind.CAMPAIGN_BONUS).subquery()
    taken = _sum_by(source, shop_id, EntryKind.REVERSE_CAMPAIGN_BONUS).subquery()
    key = cast(OrderBonus.order_id, String) + ":" + EarningRule.key
    rows = (
        select(
            OrderBonus.id.label("id"),
            OrderBonus.points.label("due"),
            func.coalesce(given.c.n, 0).label("credits"),
            func.coalesce(given.c.points, 0).label("credited"),
            (-func.coalesce(taken.c.points, 0)).label("taken"),
        )
        .join(EarningRule, EarningRule.id == OrderBonus.rule_id)
        .outerjoin(given, and_(given.c.shop_id == OrderBonus.shop_id, given.c.ref == key))
        .outerjoin(taken, and_(taken.c.shop_id == OrderBonus.shop_id, taken.c.ref == key))
        .where(_scoped(OrderBonus.shop_id, shop_id))
        .subquery()
    )
    broken = or_(
        and_(rows.c.due > 0, or_(rows.c.credits != 1, rows.c.credited != rows.c.due)),
        rows.c.taken > rows.c.credited,
    )
    return _finding(
        session,
        "campaign_bonuses_credited_once",
        "a campaign bonus is credited once, as recorded for its order, and never taken back "
        "beyond it",
        rows,
        broken,
        rows.c.id,
    )


def _redemptions_balanced(session: Session, shop_id: int | None) -> Finding:
    net = _sum_by(
        LedgerEntry.source_ref,
        shop_id,
        EntryKind.REDEEM,
        EntryKind.REDEEM_REFUND,
        source_type="redemption",
    ).subquery()
    rows = (
        select(
            Redemption.id.label("id"),
            Redemption.status.label("status"),
            Redemption.points.label("points"),
            (-func.coalesce(net.c.points, 0)).label("kept"),
        )
        .outerjoin(
            net,
            and_(net.c.shop_id == Redemption.shop_id, net.c.ref == cast(Redemption.id, String)),
        )
        .where(_scoped(Redemption.shop_id, shop_id))
        .subquery()
    )
    # What the shop keeps of the points a code cost: all of them while the code can be or
    # was used; none once it failed or was cancelled; an expired code's points come back
    # only where the shop says so.
    broken = case(
        (
            rows.c.status.in_([redemptions.PENDING, redemptions.ISSUED, redemptions.USED]),
            rows.c.kept != rows.c.points,
        ),
        (
            rows.c.status.in_([redemptions.FAILED, redemptions.CANCELLED]),
            rows.c.kept != 0,
        ),
        (rows.c.status == redemptions.EXPIRED, rows.c.kept.not_in([0, rows.c.points])),
        else_=True,
    )
    return _finding(
        session,
        "redemptions_balanced",
        "a redemption keeps its points while its code can be or was used, and gives them "
        "all back, once, when it failed or was cancelled",
        rows,
        broken,
        rows.c.id,
    )


def _referrals_rewarded_once(session: Session, shop_id: int | None) -> Finding:
    paid = _sum_by(
        LedgerEntry.source_ref, shop_id, EntryKind.REFERRAL_BONUS, source_type="referral"
    ).subquery()
    rows = (
        select(
            Referral.id.label("id"),
            Referral.status.label("status"),
            func.coalesce(paid.c.n, 0).label("bonuses"),
            Referral.advocate_redemption_id.label("code"),
        )
        .outerjoin(
            paid, and_(paid.c.shop_id == Referral.shop_id, paid.c.ref == cast(Referral.id, String))
        )
        .where(_scoped(Referral.shop_id, shop_id))
        .subquery()
    )
    rewards = rows.c.bonuses + case((rows.c.code.is_not(None), 1), else_=0)
    broken = case((rows.c.status == "rewarded", rewards != 1), else_=rewards != 0)
    return _finding(
        session,
        "referrals_rewarded_once",
        "a rewarded referral paid its advocate exactly once (points or a code); any other "
        "referral paid nothing",
        rows,
        broken,
        rows.c.id,
    )


def _guest_merges_balanced(session: Session, shop_id: int | None) -> Finding:
    # One row per guest merged: the key "guest-merge:<guest id>:<batch>:<side>" pairs
    # each debit with its credit.
    guest = func.substr(
        LedgerEntry.idempotency_key, 1, func.length(LedgerEntry.idempotency_key) - 4
    )
    rows = (
        select(
            guest.label("ref"),
            func.sum(LedgerEntry.points).label("net"),
            func.count().label("n"),
        )
        .where(
            _scoped(LedgerEntry.shop_id, shop_id),
            LedgerEntry.kind.in_([EntryKind.GUEST_MERGE_OUT.value, EntryKind.GUEST_MERGE_IN.value]),
        )
        .group_by(LedgerEntry.shop_id, guest)
        .subquery()
    )
    return _finding(
        session,
        "guest_merges_balanced",
        "every batch of guest points moved to an account is one debit and one equal credit",
        rows,
        or_(rows.c.net != 0, rows.c.n != 2),
        rows.c.ref,
    )


def _tiers_match_history(session: Session, shop_id: int | None) -> Finding:
    latest = (
        select(
            TierChange.shop_id,
            TierChange.customer_id,
            func.max(TierChange.id).label("last_id"),
        )
        .where(_scoped(TierChange.shop_id, shop_id))
        .group_by(TierChange.shop_id, TierChange.customer_id)
        .subquery()
    )
    rows = (
        select(
            latest.c.customer_id.label("id"),
            TierChange.to_tier_id.label("last_to"),
            MemberTier.tier_id.label("held"),
            MemberTier.id.label("row"),
        )
        .select_from(latest)
        .join(TierChange, TierChange.id == latest.c.last_id)
        .outerjoin(
            MemberTier,
            and_(
                MemberTier.shop_id == latest.c.shop_id,
                MemberTier.customer_id == latest.c.customer_id,
            ),
        )
        .subquery()
    )
    broken = or_(
        rows.c.row.is_(None),
        func.coalesce(rows.c.held, 0) != func.coalesce(rows.c.last_to, 0),
    )
    return _finding(
        session,
        "tiers_match_history",
        "the tier a member holds is the one their latest tier change moved them to",
        rows,
        broken,
        rows.c.id,
    )


def _receipts_settled(session: Session, shop_id: int | None, before: datetime) -> Finding:
    rows = (
        select(
            WebhookReceipt.id.label("id"),
            WebhookReceipt.status.label("status"),
            WebhookReceipt.received_at.label("received_at"),
        )
        .where(_scoped(WebhookReceipt.shop_id, shop_id))
        .subquery()
    )
    broken = or_(
        rows.c.status == webhook_receipts.FAILED,
        and_(
            rows.c.status.in_([webhook_receipts.PENDING, webhook_receipts.PROCESSING]),
            rows.c.received_at < before,
        ),
    )
    return _finding(
        session,
        "webhooks_applied",
        "every accepted webhook was applied (or ignored as not ours to apply): none failed, "
        "none still waiting after the settle time",
        rows,
        broken,
        rows.c.id,
        severity="unsettled",
    )


def _redemptions_settled(session: Session, shop_id: int | None, before: datetime) -> Finding:
    rows = (
        select(
            Redemption.id.label("id"),
            Redemption.status.label("status"),
            Redemption.created_at.label("created_at"),
        )
        .where(_scoped(Redemption.shop_id, shop_id))
        .subquery()
    )
    broken = and_(rows.c.status == redemptions.PENDING, rows.c.created_at < before)
    return _finding(
        session,
        "redemptions_settled",
        "every redemption is issued or its points returned: none still pending after the "
        "settle time",
        rows,
        broken,
        rows.c.id,
        severity="unsettled",
    )
