"""The transactional outbox of outbound webhooks.

Every event a merchant can subscribe to is a row of `ledger_entries` (points earned,
redeemed, expired) or `loyalty_events` (tier changed, points expiring, referral rewarded or
flagged). The helpers that insert those rows (`repositories.insert_ignoring_conflict` and
`insert_many_ignoring_conflict`) call `after_insert` here, in the same transaction, and the
two set-based PostgreSQL paths (tier recalculation, expiry) call `publish` with the ids
their statements returned. So a delivery row exists if and only if its event committed:
nothing is lost between "event written" and "webhook queued", and no cursor over ids is
needed (PostgreSQL ids are not commit-ordered, so such a cursor can skip rows).

Cost when a shop has no endpoints: one indexed query per transaction and shop (cached in
the session until the transaction ends), and no per-row work at all.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session, SessionTransaction

from plugin_server.db.models import (
    Customer,
    LedgerEntry,
    LoyaltyEvent,
    Shop,
    WebhookDelivery,
    WebhookEndpoint,
)
from plugin_server.domain import outbound
from plugin_server.domain.ledger import EARNING_KINDS, EntryKind

PENDING, DELIVERING, SUCCEEDED, FAILED = "pending", "delivering", "succeeded", "failed"
STATUSES = (PENDING, DELIVERING, SUCCEEDED, FAILED)

_SUBS = "outbound_subscriptions"
PUBLISHED = "outbound_published"

_EARNING = frozenset(k.value for k in EARNING_KINDS)
# loyalty_events.kind -> topic
EVENT_TOPICS: Mapping[str, str] = {
    "tier_changed": outbound.TIER_CHANGED,
    "points_expiring": outbound.POINTS_EXPIRING,
    "referral_rewarded": outbound.REFERRAL_COMPLETED,
    "referral_flagged": outbound.REFERRAL_FLAGGED,
}
LEDGER_TOPICS = frozenset(
    {outbound.POINTS_EARNED, outbound.POINTS_REDEEMED, outbound.POINTS_EXPIRED}
)


def ledger_topic(kind: str, points: int) -> str | None:
    """The topic a ledger entry is published under, if any."""
    if kind == EntryKind.REDEEM.value:
        return outbound.POINTS_REDEEMED
    if kind == EntryKind.EXPIRY.value:
        return outbound.POINTS_EXPIRED
    if kind in _EARNING and points > 0:
        return outbound.POINTS_EARNED
    return None


@dataclass(frozen=True, slots=True)
class Subscriber:
    endpoint_id: int
    topics: frozenset[str]


def parse_topics(text: str) -> list[str]:
    return [t for t in text.split(",") if t]


def subscribers(session: Session, shop_id: int) -> list[Subscriber]:
    """The shop's active endpoints, read once per transaction."""
    cache: dict[int, list[Subscriber]] = session.info.setdefault(_SUBS, {})
    found = cache.get(shop_id)
    if found is None:
        rows = session.execute(
            select(WebhookEndpoint.id, WebhookEndpoint.topics).where(
                WebhookEndpoint.shop_id == shop_id,
                WebhookEndpoint.active.is_(True),
                WebhookEndpoint.deleted_at.is_(None),
            )
        ).all()
        found = [Subscriber(r.id, frozenset(parse_topics(r.topics))) for r in rows]
        cache[shop_id] = found
    return found


def subscribed(session: Session, shop_id: int, topics: Iterable[str]) -> bool:
    """Whether any active endpoint of the shop takes one of `topics` (cheap; cached)."""
    wanted = set(topics)
    return any(s.topics & wanted for s in subscribers(session, shop_id))


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction: SessionTransaction) -> None:
    # Endpoints may change between transactions of one session.
    if transaction.parent is None:
        session.info.pop(_SUBS, None)


def after_insert(
    session: Session, model: type[Any], rows: Iterable[Mapping[str, Any]], ids: Sequence[int]
) -> None:
    """Queue deliveries for newly inserted ledger entries or loyalty events (any other
    table is ignored). Called by the insert helpers inside the writing transaction."""
    if not ids or model not in (LedgerEntry, LoyaltyEvent):
        return
    topics = LEDGER_TOPICS if model is LedgerEntry else frozenset(EVENT_TOPICS.values())
    shop_ids = {row["shop_id"] for row in rows}
    if not any(subscribed(session, shop_id, topics) for shop_id in shop_ids):
        return
    publish(session, model, ids)


@dataclass(frozen=True, slots=True)
class _Event:
    shop_id: int
    customer_id: int
    topic: str
    source_key: str
    created_at: datetime
    data: dict[str, Any]  # without customer_id, added once the refs are read


def publish(session: Session, model: type[Any], ids: Sequence[int]) -> int:
    """Render the rows `ids` of `model` and queue one delivery per subscribed endpoint;
    how many were queued. Idempotent: (endpoint, source row) is unique."""
    if not ids:
        return 0
    events: list[_Event] = []
    if model is LedgerEntry:
        t = LedgerEntry.__table__
        for e in session.execute(select(t).where(t.c.id.in_(list(ids)))):
            topic = ledger_topic(e.kind, e.points)
            if topic is not None:
                events.append(
                    _Event(
                        e.shop_id,
                        e.customer_id,
                        topic,
                        f"ledger:{e.id}",
                        e.created_at,
                        {
                            "entry_id": e.id,
                            "points": abs(e.points),
                            "kind": e.kind,
                            "reason": e.reason,
                            "source": {"type": e.source_type, "ref": e.source_ref},
                            "available_at": e.available_at.isoformat(),
                        },
                    )
                )
    elif model is LoyaltyEvent:
        t = LoyaltyEvent.__table__
        for ev in session.execute(select(t).where(t.c.id.in_(list(ids)))):
            topic = EVENT_TOPICS.get(ev.kind)
            if topic is not None:
                events.append(
                    _Event(
                        ev.shop_id,
                        ev.customer_id,
                        topic,
                        f"event:{ev.id}",
                        ev.created_at,
                        json.loads(ev.payload),
                    )
                )
    wanted = [
        ev for ev in events if any(ev.topic in s.topics for s in subscribers(session, ev.shop_id))
    ]
    if not wanted:
        return 0
    refs = dict(
        session.execute(
            select(Customer.id, Customer.customer_ref).where(
                Customer.id.in_({ev.customer_id for ev in wanted})
            )
        ).all()
    )
    shops = {
        s.id: {"id": s.id, "platform": s.platform, "domain": s.domain}
        for s in session.execute(
            select(Shop.id, Shop.platform, Shop.domain).where(
                Shop.id.in_({ev.shop_id for ev in wanted})
            )
        )
    }
    deliveries = []
    for item in wanted:
        deliveries.extend(
            delivery_rows(
                session,
                item.shop_id,
                shops[item.shop_id],
                item.topic,
                # The `data` of each topic, documented in the API's components and README.
                {"customer_id": refs.get(item.customer_id), **item.data},
                source_key=item.source_key,
                created_at=item.created_at,
                customer_id=item.customer_id,
            )
        )
    return queue(session, deliveries)


def delivery_rows(
    session: Session,
    shop_id: int,
    shop: Mapping[str, Any],
    topic: str,
    data: Any,
    *,
    source_key: str,
    created_at: datetime,
    customer_id: int | None = None,
    endpoint_ids: Sequence[int] | None = None,
) -> list[dict[str, Any]]:
    """One outbox row per endpoint (the subscribed ones unless `endpoint_ids`), sharing
    the event id and body."""
    if endpoint_ids is None:
        endpoint_ids = [s.endpoint_id for s in subscribers(session, shop_id) if topic in s.topics]
    if not endpoint_ids:
        return []
    event_id = str(uuid.uuid4())
    body = outbound.envelope(
        event_id=event_id, topic=topic, shop=shop, created_at=created_at, data=data
    )
    return [
        {
            "shop_id": shop_id,
            "endpoint_id": endpoint_id,
            "event_id": event_id,
            "delivery_key": str(uuid.uuid4()),
            "topic": topic,
            "source_key": source_key,
            "customer_id": customer_id,
            "body": body,
            "status": PENDING,
            "attempts": 0,
            "attempts_at_replay": 0,
            "redelivery": False,
            "next_attempt_at": created_at,
            "created_at": created_at,
            "updated_at": created_at,
        }
        for endpoint_id in endpoint_ids
    ]


def queue(session: Session, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert outbox rows (ignoring ones already queued) and mark the session so its
    commit wakes a delivery worker."""
    if not rows:
        return 0
    from plugin_server.db import repositories

    added = repositories.insert_many_ignoring_conflict(
        session, WebhookDelivery, rows, ("shop_id", "endpoint_id", "source_key")
    )
    if added:
        session.info[PUBLISHED] = True
    return added
