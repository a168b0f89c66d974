"""The email outbox: shopper emails queued in the transaction that wrote their event.

The same mechanism as outbound webhooks (db/outbox.py): `repositories.insert_ignoring_conflict`
and `insert_many_ignoring_conflict` call `after_insert` here for new ledger entries and
loyalty events, and the set-based PostgreSQL paths (tiers, expiry) call `publish` with the
ids their statements returned. So an email row exists if and only if its event committed,
and (shop, customer, type, source row) is unique: writing an event twice, or publishing it
twice, queues one email.

Cost when a shop has every email switched off: one primary-key read per transaction and
shop (cached in the session), and no per-row work.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session, SessionTransaction

from plugin_server.db.models import EmailMessage, EmailSettings, LedgerEntry, LoyaltyEvent, Reward
from plugin_server.domain import emails
from plugin_server.domain.ledger import EARNING_KINDS, EntryKind

PENDING, SENDING, SENT, FAILED, SKIPPED = "pending", "sending", "sent", "failed", "skipped"
STATUSES = (PENDING, SENDING, SENT, FAILED, SKIPPED)

_ENABLED = "email_enabled_types"
_COSTS = "email_reward_costs"
QUEUED = "emails_queued"

LEDGER_TYPES = frozenset(
    {
        emails.EmailType.POINTS_EARNED.value,
        emails.EmailType.BIRTHDAY_BONUS.value,
        emails.EmailType.REWARD_UNLOCKED.value,
    }
)
EVENT_TYPES = frozenset(emails.EVENT_TYPES.values())
# What the set-based paths can produce: tier changes with their entry bonuses, and expiry
# reminders.
TIER_TYPES = frozenset(
    {emails.EmailType.TIER_CHANGED.value, emails.EmailType.REWARD_UNLOCKED.value}
)
EXPIRY_TYPES = frozenset({emails.EmailType.POINTS_EXPIRING.value})
# What a shopper hears about as "points earned" (imports, referral and tier bonuses have
# emails of their own, or none: an import must not mail a whole customer base).
_EARNED_KINDS = frozenset(
    {
        EntryKind.EARN_ORDER.value,
        EntryKind.RULE_BONUS.value,
        EntryKind.ADJUSTMENT.value,
        EntryKind.CAMPAIGN_BONUS.value,
    }
)
_EARNING = frozenset(k.value for k in EARNING_KINDS)
_BIRTHDAY_KEY = "rule:birthday:"


def parse_types(text: str) -> frozenset[str]:
    return frozenset(t for t in text.split(",") if t)


def enabled_types(session: Session, shop_id: int) -> frozenset[str]:
    """The kinds of email the shop sends, read once per transaction (no row: defaults)."""
    cache: dict[int, frozenset[str]] = session.info.setdefault(_ENABLED, {})
    found = cache.get(shop_id)
    if found is None:
        text = session.scalar(
            select(EmailSettings.enabled_types).where(EmailSettings.shop_id == shop_id)
        )
        found = emails.DEFAULT_ENABLED if text is None else parse_types(text)
        cache[shop_id] = found
    return found


def wanted(session: Session, shop_id: int, types: Iterable[str]) -> bool:
    """Whether the shop sends any of `types` (cheap; cached)."""
    return not enabled_types(session, shop_id).isdisjoint(types)


def _reward_costs(session: Session, shop_id: int) -> list[tuple[int, str, int]]:
    cache: dict[int, list[tuple[int, str, int]]] = session.info.setdefault(_COSTS, {})
    found = cache.get(shop_id)
    if found is None:
        found = [
            (r.id, r.name, r.points_cost)
            for r in session.execute(
                select(Reward.id, Reward.name, Reward.points_cost).where(
                    Reward.shop_id == shop_id,
                    Reward.archived_at.is_(None),
                    Reward.points_cost.is_not(None),
                )
            )
        ]
        cache[shop_id] = found
    return found


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction: SessionTransaction) -> None:
    # Settings and rewards may change between transactions of one session.
    if transaction.parent is None:
        session.info.pop(_ENABLED, None)
        session.info.pop(_COSTS, None)


def after_insert(
    session: Session, model: type[Any], rows: Iterable[Mapping[str, Any]], ids: Sequence[int]
) -> None:
    """Queue emails for newly inserted ledger entries or loyalty events (any other table
    is ignored). Called by the insert helpers inside the writing transaction."""
    if not ids or model not in (LedgerEntry, LoyaltyEvent):
        return
    types = LEDGER_TYPES if model is LedgerEntry else EVENT_TYPES
    if not any(wanted(session, shop_id, types) for shop_id in {r["shop_id"] for r in rows}):
        return
    publish(session, model, ids)


def _message(
    shop_id: int, customer_id: int, type_: str, source_key: str, data: Mapping[str, Any], at: Any
) -> dict[str, Any]:
    return {
        "shop_id": shop_id,
        "customer_id": customer_id,
        "type": type_,
        "source_key": source_key,
        "data": json.dumps(dict(data), separators=(",", ":"), ensure_ascii=False),
        "status": PENDING,
        "attempts": 0,
        "next_attempt_at": at,
        "created_at": at,
        "updated_at": at,
    }


def publish(session: Session, model: type[Any], ids: Sequence[int]) -> int:
    """Queue the emails the rows `ids` of `model` call for in their shops' settings; how
    many were new. Idempotent: (shop, customer, type, source row) is unique."""
    if not ids:
        return 0
    from plugin_server.db import repositories

    messages: list[dict[str, Any]] = []
    if model is LedgerEntry:
        t = LedgerEntry.__table__
        gained: dict[tuple[int, int], list[Any]] = {}
        for e in session.execute(select(t).where(t.c.id.in_(list(ids))).order_by(t.c.id)):
            on = enabled_types(session, e.shop_id)
            if e.points <= 0:
                continue
            if e.kind == EntryKind.RULE_BONUS.value and e.idempotency_key.startswith(_BIRTHDAY_KEY):
                if emails.EmailType.BIRTHDAY_BONUS.value in on:
                    messages.append(
                        _message(
                            e.shop_id,
                            e.customer_id,
                            emails.EmailType.BIRTHDAY_BONUS.value,
                            f"ledger:{e.id}",
                            {"points": e.points},
                            e.created_at,
                        )
                    )
            elif e.kind in _EARNED_KINDS and emails.EmailType.POINTS_EARNED.value in on:
                messages.append(
                    _message(
                        e.shop_id,
                        e.customer_id,
                        emails.EmailType.POINTS_EARNED.value,
                        f"ledger:{e.id}",
                        {"points": e.points},
                        e.created_at,
                    )
                )
            if (
                e.kind in _EARNING
                and e.available_at <= e.created_at
                and emails.EmailType.REWARD_UNLOCKED.value in on
            ):
                gained.setdefault((e.shop_id, e.customer_id), []).append(e)
        for (shop_id, customer_id), entries in gained.items():
            costs = _reward_costs(session, shop_id)
            if not costs:
                continue
            last = entries[-1]
            now_spendable = repositories.balance(
                session, shop_id, customer_id, last.created_at
            ).spendable
            before = now_spendable - sum(e.points for e in entries)
            reached = [c for c in costs if before < c[2] <= now_spendable]
            if reached:
                reward_id, name, cost = max(reached, key=lambda c: c[2])
                messages.append(
                    _message(
                        shop_id,
                        customer_id,
                        emails.EmailType.REWARD_UNLOCKED.value,
                        f"reward:{reward_id}:ledger:{last.id}",
                        {"reward_name": name, "reward_cost": cost},
                        last.created_at,
                    )
                )
    elif model is LoyaltyEvent:
        t = LoyaltyEvent.__table__
        for ev in session.execute(select(t).where(t.c.id.in_(list(ids)))):
            type_ = emails.EVENT_TYPES.get(ev.kind)
            if type_ is None or type_ not in enabled_types(session, ev.shop_id):
                continue
            data = _event_data(ev.kind, json.loads(ev.payload))
            if data is not None:
                messages.append(
                    _message(
                        ev.shop_id, ev.customer_id, type_, f"event:{ev.id}", data, ev.created_at
                    )
                )
    return queue(session, messages)


def _event_data(kind: str, payload: Mapping[str, Any]) -> dict[str, Any] | None:
    if kind == "tier_changed":
        if not payload.get("to"):
            return None  # out of every tier: nothing to announce
        return {
            "tier_name": payload["to"],
            "previous_tier": payload.get("from") or "",
            "direction": payload.get("direction") or "up",
        }
    if kind == "points_expiring":
        expires = str(payload.get("expires_at") or "")
        return {"points": int(payload.get("points") or 0), "expires_on": expires[:10]}
    return {}


def queue(session: Session, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert email rows (ignoring ones already queued) and mark the session so its
    commit wakes a sender."""
    if not rows:
        return 0
    from plugin_server.db import repositories

    added = repositories.insert_many_ignoring_conflict(
        session, EmailMessage, rows, ("shop_id", "customer_id", "type", "source_key")
    )
    if added:
        session.info[QUEUED] = True
    return added
