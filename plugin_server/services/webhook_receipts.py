"""Webhook receipts: an inbox table. Stored on arrival, claimed and applied by drain jobs,
listed and replayed by operators.

States: pending -> processing (claimed) -> processed | ignored | failed. A failed attempt
goes back to pending with a later `next_attempt_at` until it has used its attempts.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Engine, Insert, Table, event, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

import webhooks
from plugin_server.db.models import Shop, WebhookReceipt
from plugin_server.db.unit_of_work import UnitOfWork
from plugin_server.domain import orders as domain
from plugin_server.domain.errors import MalformedPayload, ReceiptNotFound
from plugin_server.services import earning_rules, order_points, privacy
from webhooks.base import Envelope

logger = logging.getLogger(__name__)

PENDING, PROCESSING, PROCESSED, IGNORED, FAILED = (
    "pending",
    "processing",
    "processed",
    "ignored",
    "failed",
)
_receipts = cast(Table, WebhookReceipt.__table__)
_INSERTS: dict[str, Insert] = {}


def _insert_statement(dialect: str) -> Insert:
    """INSERT ... ON CONFLICT (shop_id, delivery_id) DO NOTHING RETURNING id, built once.

    This runs on every delivery: building it per request cost more than executing it.
    """
    stmt = _INSERTS.get(dialect)
    if stmt is None:
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = (
            insert(_receipts)
            .on_conflict_do_nothing(index_elements=["shop_id", "delivery_id"])
            .returning(_receipts.c.id)
        )
        _INSERTS[dialect] = stmt
    return stmt


def record_receipt(
    engine: Engine,
    *,
    shop_id: int,
    envelope: Envelope,
    body: bytes,
    now: datetime,
    failed_reason: str | None = None,
) -> int | None:
    """Store a verified delivery once and commit; None if this delivery id was already stored.

    A body we already know we cannot understand is stored as `failed` with the reason, so an
    operator can see and replay it; nothing verified is ever dropped. Uses a Core connection,
    not an ORM session: this is the hot path of the intake.
    """
    params: dict[str, Any] = {
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
        "next_attempt_at": now,
        "claimed_at": None,
        "processed_at": None,
    }
    if engine.dialect.name == "postgresql":
        return _insert_postgresql(engine, params)
    with engine.begin() as conn:
        receipt_id: int | None = conn.execute(
            _insert_statement(engine.dialect.name), params
        ).scalar_one_or_none()
    return receipt_id


_PG_INSERT = (
    "INSERT INTO webhook_receipts (shop_id, platform, topic, delivery_id, event_id, body, "
    "status, attempts, last_error, received_at, triggered_at, next_attempt_at) VALUES "
    "(%(shop_id)s, %(platform)s, %(topic)s, %(delivery_id)s, %(event_id)s, %(body)s, "
    "%(status)s, %(attempts)s, %(last_error)s, %(received_at)s, %(triggered_at)s, "
    "%(next_attempt_at)s) ON CONFLICT (shop_id, delivery_id) DO NOTHING RETURNING id"
)


def _insert_postgresql(engine: Engine, params: dict[str, Any]) -> int | None:
    """The same INSERT straight through psycopg, on this thread's own connection in
    autocommit: one round trip (no BEGIN, no COMMIT; one statement is its own transaction,
    just as durable), no pool checkout, and prepared server-side after a few runs.
    SQLAlchemy's per-execution bookkeeping was a third of the request's CPU time; the
    SQLite path above covers the same statement for the embedded default."""
    import psycopg

    conn = _intake_connection(engine)
    try:
        with conn.cursor() as cursor:
            cursor.execute(_PG_INSERT, params)
            row = cursor.fetchone()
    except psycopg.OperationalError as exc:
        # The server went away (restart, failover): forget this connection and report it
        # the way SQLAlchemy would, so the caller answers 503; the next delivery reconnects.
        _forget_intake_connection(engine, conn)
        raise OperationalError(_PG_INSERT, None, exc) from exc
    return int(row[0]) if row else None


# Intake connections by engine and thread. Each web thread keeps one (gthread: a few per
# process, beside the engine's pool); they are closed when their engine is disposed.
_INTAKE: weakref.WeakKeyDictionary[Engine, dict[int, Any]] = weakref.WeakKeyDictionary()
_INTAKE_LOCK = threading.Lock()


def _intake_connection(engine: Engine) -> Any:
    import psycopg

    thread = threading.get_ident()
    conns = _INTAKE.get(engine)
    conn = conns.get(thread) if conns is not None else None
    if conn is not None and not conn.closed:
        return conn
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    conn = psycopg.connect(url, autocommit=True, connect_timeout=3)
    with _INTAKE_LOCK:
        if engine not in _INTAKE:
            _INTAKE[engine] = {}
            event.listen(engine, "engine_disposed", _close_intake_connections)
        _INTAKE[engine][thread] = conn
    return conn


def _forget_intake_connection(engine: Engine, conn: Any) -> None:
    with _INTAKE_LOCK:
        conns = _INTAKE.get(engine, {})
        for thread, held in list(conns.items()):
            if held is conn:
                del conns[thread]
    conn.close()


def _close_intake_connections(engine: Engine) -> None:
    with _INTAKE_LOCK:
        conns = _INTAKE.pop(engine, {})
    for conn in conns.values():
        conn.close()


def claim_receipts(uow: UnitOfWork, *, now: datetime, limit: int) -> list[int]:
    """Atomically move up to `limit` due receipts to `processing` and return their ids.

    On PostgreSQL concurrent drains skip each other's rows (SKIP LOCKED), so any number of
    workers can drain in parallel without claiming a receipt twice.
    """
    with uow:
        due = (
            select(WebhookReceipt.id)
            .where(WebhookReceipt.status == PENDING, WebhookReceipt.next_attempt_at <= now)
            .order_by(WebhookReceipt.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        ids = list(
            uow.session.scalars(
                update(WebhookReceipt)
                .where(WebhookReceipt.id.in_(due))
                .values(status=PROCESSING, claimed_at=now)
                .returning(WebhookReceipt.id)
                .execution_options(synchronize_session=False)
            )
        )
        uow.commit()
    return sorted(ids)


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
        shop = session.get(Shop, receipt.shop_id)
        assert shop is not None
        outcome = _apply(session, receipt, shop, now=now)
        uow.commit()
    return outcome


# Topics whose effects reach beyond one order or customer; always applied on their own.
# A new account at the store: the shop's sign-up bonus, if it has one, pays once.
SIGNUP_TOPICS = frozenset({"customers/create", "customer.created"})
_SOLO_TOPICS = frozenset(
    {"app/uninstalled", "customers/redact", "customers/data_request", "shop/redact"}
)


def apply_receipts(uow: UnitOfWork, receipt_ids: Sequence[int], *, now: datetime) -> list[int]:
    """Apply several claimed receipts in one transaction: one commit instead of one each.

    Returns the ids it applied. Receipts with shop-wide effects are left out, and if any
    receipt raises, the whole batch rolls back and nothing is returned: the caller then
    applies them one at a time, so a bad receipt only ever fails itself.
    """
    with uow:
        session = uow.session
        receipts = session.scalars(
            select(WebhookReceipt)
            .where(WebhookReceipt.id.in_(receipt_ids), WebhookReceipt.topic.not_in(_SOLO_TOPICS))
            .order_by(WebhookReceipt.id)
            .with_for_update()
        ).all()
        shops = {
            s.id: s
            for s in session.scalars(select(Shop).where(Shop.id.in_({r.shop_id for r in receipts})))
        }
        try:
            for receipt in receipts:
                _apply(session, receipt, shops[receipt.shop_id], now=now)
        except Exception:
            logger.info("batch apply failed; applying one by one", exc_info=True)
            return []
        uow.commit()
    return [r.id for r in receipts]


def _apply(session: Session, receipt: WebhookReceipt, shop: Shop, *, now: datetime) -> ApplyOutcome:
    """Apply one receipt inside the caller's transaction (the caller commits)."""
    receipt_id = receipt.id
    if receipt.status in (PROCESSED, IGNORED, FAILED):
        return ApplyOutcome(receipt_id, receipt.status, detail="already settled")
    receipt.attempts += 1
    try:
        event = webhooks.normalize(domain.Platform(receipt.platform), receipt.topic, receipt.body)
    except MalformedPayload as exc:
        receipt.status, receipt.last_error, receipt.processed_at = FAILED, str(exc), now
        logger.warning(
            "webhook payload not understood", extra={"receipt_id": receipt_id, "shop_id": shop.id}
        )
        return ApplyOutcome(receipt_id, FAILED, detail=str(exc))

    entry_ids: list[int] = []
    status, detail = PROCESSED, None
    if isinstance(event, domain.OrderEvent):
        entry_ids = order_points.apply_order_event(session, shop, event, now=now)
        receipt.order_ref = event.order_ref
        receipt.customer_ref = _subject(event.customer)
    elif isinstance(event, domain.CustomerEvent):
        member, entry_ids = order_points.upsert_customer(
            session, shop, event.customer, guests_earn=False, now=now
        )
        if member is not None and receipt.topic in SIGNUP_TOPICS:
            bonus = earning_rules.award_signup(session, shop.id, member, now=now)
            entry_ids += [bonus] if bonus is not None else []
        receipt.customer_ref = _subject(event.customer)
    elif isinstance(event, domain.PrivacyEvent) and event.kind == "shop_redact":
        # Deletes this receipt too: nothing is left to mark.
        privacy.redact_shop(session, shop.id)
        logger.info("shop data erased", extra={"shop_id": shop.id})
        return ApplyOutcome(receipt_id, PROCESSED, detail="shop erased")
    elif isinstance(event, domain.PrivacyEvent) and event.kind == "customer_redact":
        erased = privacy.redact_customer(session, shop, event, now=now)
        detail = f"erased {erased} customer record(s)"
        receipt.body = b"{}"  # this receipt's own body names the customer too
    elif isinstance(event, domain.PrivacyEvent):
        export_id = privacy.export_customer_data(session, shop, event, now=now)
        detail = f"data export {export_id}"
        receipt.body = b"{}"
    elif isinstance(event, domain.ShopEvent) and event.kind == "app_uninstalled":
        shop.active = False
        shop.uninstalled_at = now
    else:
        status = IGNORED
        detail = event.reason if isinstance(event, domain.IgnoredEvent) else "nothing to do"
    receipt.status, receipt.last_error, receipt.processed_at = status, detail, now
    return ApplyOutcome(receipt_id, status, tuple(entry_ids), detail)


def _subject(customer: domain.Customer | None) -> str | None:
    if customer is None:
        return None
    if customer.customer_ref:
        return customer.customer_ref
    return f"guest:{customer.email}" if customer.email else None


def record_failure(
    uow: UnitOfWork,
    receipt_id: int,
    error: str,
    *,
    now: datetime,
    retry_intervals: Sequence[int],
) -> bool:
    """Note a failed attempt and schedule the next; True once the receipt is `failed` for good.

    A receipt gets one attempt more than there are retry intervals.
    """
    with uow:
        receipt = uow.session.get(WebhookReceipt, receipt_id, with_for_update=True)
        if receipt is None or receipt.status not in (PENDING, PROCESSING):
            return False
        receipt.attempts += 1
        receipt.last_error = error[:2000]
        final = receipt.attempts > len(retry_intervals)
        if final:
            receipt.status, receipt.processed_at = FAILED, now
        else:
            receipt.status = PENDING
            delay = retry_intervals[receipt.attempts - 1]
            receipt.next_attempt_at = now + timedelta(seconds=delay)
        uow.commit()
    return final


def _summary(r: WebhookReceipt) -> dict[str, object]:
    return {
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


def list_receipts(
    uow: UnitOfWork, *, status: str | None = None, shop_id: int | None = None, limit: int = 100
) -> list[dict[str, object]]:
    """Receipts newest first, without their bodies (which hold shoppers' personal data)."""
    with uow:
        stmt = select(WebhookReceipt).order_by(WebhookReceipt.id.desc()).limit(limit)
        if status:
            stmt = stmt.where(WebhookReceipt.status == status)
        if shop_id is not None:
            stmt = stmt.where(WebhookReceipt.shop_id == shop_id)
        return [_summary(r) for r in uow.session.scalars(stmt)]


def receipt_summary(uow: UnitOfWork, receipt_id: int) -> dict[str, object]:
    with uow:
        receipt = uow.session.get(WebhookReceipt, receipt_id)
        if receipt is None:
            raise ReceiptNotFound(f"receipt {receipt_id} does not exist")
        return _summary(receipt)


def reset_for_replay(uow: UnitOfWork, receipt_id: int, *, now: datetime) -> None:
    """Put a receipt back to `pending` so it is applied again (ledger keys keep it safe)."""
    with uow:
        receipt = uow.session.get(WebhookReceipt, receipt_id, with_for_update=True)
        if receipt is None:
            raise ReceiptNotFound(f"receipt {receipt_id} does not exist")
        receipt.status, receipt.attempts, receipt.processed_at = PENDING, 0, None
        receipt.next_attempt_at, receipt.claimed_at = now, None
        uow.commit()


def release_stale_claims(uow: UnitOfWork, *, now: datetime, older_than: timedelta) -> int:
    """Return receipts claimed by a drain that died (worker killed) to `pending`."""
    with uow:
        result = uow.session.execute(
            update(WebhookReceipt)
            .where(
                WebhookReceipt.status == PROCESSING, WebhookReceipt.claimed_at < now - older_than
            )
            .values(status=PENDING, claimed_at=None, next_attempt_at=now)
            .execution_options(synchronize_session=False)
        )
        uow.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def has_due_receipts(uow: UnitOfWork, *, now: datetime) -> bool:
    with uow:
        return (
            uow.session.scalar(
                select(WebhookReceipt.id)
                .where(WebhookReceipt.status == PENDING, WebhookReceipt.next_attempt_at <= now)
                .limit(1)
            )
            is not None
        )
