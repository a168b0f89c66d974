"""Webhook receipts: stored on arrival, applied by a job, listed and replayed by operators."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

import webhooks
from plugin_server.db import repositories
from plugin_server.db.models import Shop, WebhookReceipt
from plugin_server.db.unit_of_work import UnitOfWork
from plugin_server.domain import orders as domain
from plugin_server.domain.errors import MalformedPayload, ReceiptNotFound
from plugin_server.services import order_points
from webhooks.base import Envelope

logger = logging.getLogger(__name__)

PENDING, PROCESSED, IGNORED, FAILED = "pending", "processed", "ignored", "failed"


def record_receipt(
    uow: UnitOfWork,
    *,
    shop_id: int,
    envelope: Envelope,
    body: bytes,
    now: datetime,
    failed_reason: str | None = None,
    on_recorded: Callable[[int], None] | None = None,
) -> int | None:
    """Store a verified delivery once; None if this delivery id was already stored.

    A body we already know we cannot understand is stored as `failed` with the reason, so an
    operator can see and replay it; nothing verified is ever dropped. `on_recorded` (the job
    enqueue) runs only after the receipt has committed.
    """
    with uow:
        receipt_id = repositories.insert_ignoring_conflict(
            uow.session,
            WebhookReceipt,
            {
                "shop_id": shop_id,
                "platform": envelope.platform.value,
                "topic": envelope.topic,
                "delivery_id": envelope.delivery_id,
                "event_id": envelope.event_id,
                "body": body,
                "status": FAILED if failed_reason else PENDING,
                "attempts": 0,
                "last_error": failed_reason,
                "received_at": now,
                "triggered_at": envelope.triggered_at,
            },
            ("shop_id", "delivery_id"),
        )
        uow.commit()
        if receipt_id is not None and on_recorded is not None and not failed_reason:
            uow.after_commit(lambda: on_recorded(receipt_id))
    return receipt_id


@dataclass(frozen=True, slots=True)
class ApplyOutcome:
    receipt_id: int
    status: str
    entry_ids: tuple[int, ...] = ()
    detail: str | None = None


def apply_receipt(uow: UnitOfWork, receipt_id: int, *, now: datetime) -> ApplyOutcome:
    """Normalise a stored delivery and apply it to the ledger in one transaction.

    Idempotent: a receipt already processed is left alone, and the ledger's unique keys and
    the order lock make a second application of the same facts append nothing. A payload
    that cannot be understood marks the receipt `failed` (it is not retried automatically).
    """
    with uow:
        session = uow.session
        receipt = session.get(WebhookReceipt, receipt_id, with_for_update=True)
        if receipt is None:
            raise ReceiptNotFound(f"receipt {receipt_id} does not exist")
        if receipt.status in (PROCESSED, IGNORED):
            return ApplyOutcome(receipt_id, receipt.status, detail="already applied")
        shop = session.get(Shop, receipt.shop_id)
        assert shop is not None
        platform = domain.Platform(receipt.platform)
        receipt.attempts += 1
        try:
            event = webhooks.normalize(platform, receipt.topic, receipt.body)
        except MalformedPayload as exc:
            receipt.status, receipt.last_error, receipt.processed_at = FAILED, str(exc), now
            uow.commit()
            logger.warning(
                "webhook payload not understood",
                extra={"receipt_id": receipt_id, "shop_id": shop.id},
            )
            return ApplyOutcome(receipt_id, FAILED, detail=str(exc))

        entry_ids: list[int] = []
        status, detail = PROCESSED, None
        if isinstance(event, domain.OrderEvent):
            entry_ids = order_points.apply_order_event(session, shop, event, now=now)
        elif isinstance(event, domain.CustomerEvent):
            order_points.upsert_customer(
                session, shop.id, event.customer, guests_earn=False, now=now
            )
        elif isinstance(event, domain.ShopEvent) and event.kind == "app_uninstalled":
            shop.active = False
            shop.uninstalled_at = now
        else:
            status = IGNORED
            detail = event.reason if isinstance(event, domain.IgnoredEvent) else "nothing to do"
        receipt.status, receipt.last_error, receipt.processed_at = status, detail, now
        uow.commit()
    return ApplyOutcome(receipt_id, status, tuple(entry_ids), detail)


def record_failure(
    uow: UnitOfWork, receipt_id: int, error: str, *, max_attempts: int, now: datetime
) -> bool:
    """Note a failed attempt; True when the receipt has used its attempts and is now `failed`."""
    with uow:
        receipt = uow.session.get(WebhookReceipt, receipt_id, with_for_update=True)
        if receipt is None or receipt.status != PENDING:
            return False
        receipt.attempts += 1
        receipt.last_error = error[:2000]
        final = receipt.attempts >= max_attempts
        if final:
            receipt.status, receipt.processed_at = FAILED, now
        uow.commit()
    return final


def list_receipts(
    uow: UnitOfWork, *, status: str | None = None, shop_id: int | None = None, limit: int = 100
) -> list[dict[str, object]]:
    with uow:
        stmt = select(WebhookReceipt).order_by(WebhookReceipt.id.desc()).limit(limit)
        if status:
            stmt = stmt.where(WebhookReceipt.status == status)
        if shop_id is not None:
            stmt = stmt.where(WebhookReceipt.shop_id == shop_id)
        return [
            {
                "id": r.id,
                "shop_id": r.shop_id,
                "platform": r.platform,
                "topic": r.topic,
                "delivery_id": r.delivery_id,
                "status": r.status,
                "attempts": r.attempts,
                "last_error": r.last_error,
                "received_at": r.received_at.isoformat(),
                "processed_at": r.processed_at.isoformat() if r.processed_at else None,
            }
            for r in uow.session.scalars(stmt)
        ]


def reset_for_replay(uow: UnitOfWork, receipt_id: int) -> None:
    """Put a receipt back to `pending` so it is applied again (ledger keys keep it safe)."""
    with uow:
        receipt = uow.session.get(WebhookReceipt, receipt_id, with_for_update=True)
        if receipt is None:
            raise ReceiptNotFound(f"receipt {receipt_id} does not exist")
        receipt.status, receipt.attempts, receipt.processed_at = PENDING, 0, None
        uow.commit()


def stale_pending_receipts(uow: UnitOfWork, *, now: datetime, older_than: timedelta) -> list[int]:
    """Receipts still pending long after they arrived (e.g. Redis was down at enqueue)."""
    with uow:
        return list(
            uow.session.scalars(
                select(WebhookReceipt.id)
                .where(
                    WebhookReceipt.status == PENDING, WebhookReceipt.received_at < now - older_than
                )
                .order_by(WebhookReceipt.id)
                .limit(1000)
            )
        )
