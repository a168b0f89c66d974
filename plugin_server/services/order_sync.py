"""Reading a shop's orders from the platform: reconciliation polls and history backfills.

Both feed the same two places:
- every order lands in `order_history` (what scores read: the member's whole history,
  including orders placed before the app was installed), upserted by order ref, so reading
  a page twice (an overlapping poll window, a backfill resumed after a crash) changes nothing;
- an order placed at or after the install is stored as a webhook receipt, body shaped like
  the platform's own order webhook, and applied by the webhook path. The order's ledger
  idempotency keys (`order:<ref>:earn`, `order:<ref>:reversal:<n>`) and the merge of facts
  under the order's row lock make an order seen by both a webhook and a poll count once.

Orders placed before the install never reach the ledger: the program did not exist when
they were paid, so they earn nothing, and a later refund of one has nothing to take back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Select, Table, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

import webhooks
from plugin_server.db import repositories
from plugin_server.db.models import Customer, OrderHistory, OrderSync, Shop, WebhookReceipt
from plugin_server.db.unit_of_work import UnitOfWork
from plugin_server.domain import orders as domain
from plugin_server.domain import referrals as referral_rules
from plugin_server.domain.errors import MalformedPayload, ShopNotFound
from plugin_server.platforms.base import OrderReader, PlatformError, PlatformOrder, ShopCredentials
from plugin_server.services import order_lines

logger = logging.getLogger(__name__)

RECONCILE, BACKFILL = "reconcile", "backfill"
IDLE, RUNNING, COMPLETED, FAILED = "idle", "running", "completed", "failed"
# Each poll reads back this far before the last one started: an order updated just before
# a poll may reach the platform's search index only after it.
OVERLAP = timedelta(hours=1)
# The first poll of a shop looks back this far.
FIRST_LOOKBACK = timedelta(hours=24)
# Receipts of polled orders are named by the order's state, so polls that see the same
# state again (overlapping windows, a backfill) store it once.
DELIVERY_PREFIX = "poll"

_history = cast(Table, OrderHistory.__table__)


@dataclass
class ReadResult:
    """What reading orders found: orders read, those placed before the install, and the
    receipts it stored (new order states) for the webhook path to apply."""

    orders: int = 0
    before_install: int = 0
    receipt_ids: list[int] = field(default_factory=list)
    pages: int = 0


def install_time(shop: Shop) -> datetime:
    """When the program started for this shop (the install; the shop's creation if unknown)."""
    return shop.installed_at or shop.created_at


def _refunded(event: domain.OrderEvent) -> Decimal:
    return sum(
        (r.amount if r.amount else r.lines_subtotal + r.shipping + r.tax for r in event.refunds),
        Decimal(0),
    )


def _upsert_history(
    session: Session, shop_id: int, order: PlatformOrder, event: domain.OrderEvent, *,
    before_install: bool, now: datetime,
) -> None:  # fmt: skip
    assert event.totals is not None
    buyer = event.customer
    values: dict[str, Any] = {
        "shop_id": shop_id,
        "order_ref": order.order_ref,
        "name": event.name,
        "customer_ref": buyer.customer_ref if buyer else None,
        "email_key": referral_rules.email_key(buyer.email) if buyer and buyer.email else None,
        "status": event.status,
        "currency": event.totals.currency,
        "subtotal": event.totals.subtotal,
        "total": event.totals.total,
        "refunded": _refunded(event),
        "cancelled": event.cancelled,
        "placed_at": order.created_at,
        "platform_updated_at": order.updated_at,
        "before_install": before_install,
        "created_at": now,
        "updated_at": now,
    }
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(_history).values(values)
    changing = {
        k: stmt.excluded[k] for k in values if k not in ("shop_id", "order_ref", "created_at")
    }
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["shop_id", "order_ref"],
            set_=changing,
            # An older page read after a newer one never takes the row back in time.
            where=_history.c.platform_updated_at <= stmt.excluded.platform_updated_at,
        )
    )


def _record_history_lines(
    session: Session, shop_id: int, order: PlatformOrder, event: domain.OrderEvent, *,
    now: datetime,
) -> None:  # fmt: skip
    """What an order placed before the install bought (it never reaches the webhook path,
    which records the lines of later orders when they are paid), for the recommender."""
    assert event.totals is not None
    buyer = event.customer.customer_ref if event.customer else None
    member_id = (
        session.scalar(
            select(Customer.id).where(Customer.shop_id == shop_id, Customer.customer_ref == buyer)
        )
        if buyer
        else None
    )
    order_lines.record_lines(
        session,
        shop_id,
        order_ref=order.order_ref,
        order_id=None,
        customer_id=member_id,
        lines=event.lines,
        currency=event.totals.currency,
        ordered_at=order.created_at,
        now=now,
    )


def store_orders(
    session: Session, shop: Shop, orders: Sequence[PlatformOrder], *, now: datetime
) -> ReadResult:
    """Record one page of orders inside the caller's transaction: history rows for all,
    receipts (pending, for the webhook path) for those placed at or after the install."""
    result = ReadResult(orders=len(orders))
    platform = domain.Platform(shop.platform)
    installed = install_time(shop)
    for order in orders:
        before = order.created_at < installed
        result.before_install += before
        try:
            event = webhooks.normalize(platform, order.topic, order.payload)
        except MalformedPayload as exc:
            # Stored anyway when it may earn: the receipt fails visibly and can be replayed.
            logger.warning(
                "polled order not understood: %s", exc, extra={"shop_id": shop.id,
                                                               "order_ref": order.order_ref}
            )  # fmt: skip
            event = None
        if isinstance(event, domain.OrderEvent) and event.totals is not None:
            _upsert_history(session, shop.id, order, event, before_install=before, now=now)
            if before and not event.cancelled:
                _record_history_lines(session, shop.id, order, event, now=now)
        if before:
            continue
        receipt_id = repositories.insert_ignoring_conflict(
            session,
            WebhookReceipt,
            {
                "shop_id": shop.id,
                "platform": shop.platform,
                "topic": order.topic,
                "delivery_id": (
                    f"{DELIVERY_PREFIX}:{order.order_ref}:{order.updated_at.isoformat()}"
                )[:255],
                "event_id": None,
                "body": order.payload,
                "status": "pending",
                "attempts": 0,
                "last_error": None,
                "received_at": now,
                "triggered_at": order.updated_at,
                "next_attempt_at": now,
                "claimed_at": None,
                "processed_at": None,
            },
            ("shop_id", "delivery_id"),
        )
        if receipt_id is not None:
            result.receipt_ids.append(receipt_id)
    return result


def _state(session: Session, shop_id: int, kind: str, now: datetime) -> OrderSync:
    """The shop's sync row of this kind, created if new, locked for the transaction; its
    `updated_at` becomes `now` (the row says when it was last worked on)."""
    row: OrderSync = repositories.upsert_locked(
        session,
        OrderSync,
        {
            "shop_id": shop_id,
            "kind": kind,
            "status": IDLE,
            "pages": 0,
            "orders_read": 0,
            "before_install": 0,
            "receipts": 0,
            "updated_at": now,
        },
        ("shop_id", "kind"),
    )
    return row


def _shop(session: Session, shop_id: int) -> Shop:
    shop = session.get(Shop, shop_id)
    if shop is None:
        raise ShopNotFound(f"shop {shop_id} does not exist")
    return shop


# --- reconciliation ---------------------------------------------------------------------------


def reconcile(
    uow_factory: Callable[[], UnitOfWork],
    reader: OrderReader,
    shop_id: int,
    creds: ShopCredentials,
    *,
    clock: Callable[[], datetime],
    since: datetime | None = None,
) -> tuple[dict[str, Any], list[int]]:
    """Read every order updated since the last poll (less OVERLAP; FIRST_LOOKBACK on the
    first), page by page, storing each page in its own transaction. The watermark moves to
    this poll's start only once every page was read, so a poll that fails is read again
    whole by the next. Raises the reader's PlatformError. (summary, new receipt ids)."""
    started = clock()
    with uow_factory() as uow:
        _shop(uow.session, shop_id)
        state = _state(uow.session, shop_id, RECONCILE, started)
        watermark = state.watermark
        uow.commit()
    window_start = since or (watermark - OVERLAP if watermark else started - FIRST_LOOKBACK)
    total = ReadResult()
    cursor: str | None = None
    while True:
        page = reader.orders_page(creds, cursor=cursor, updated_since=window_start)
        with uow_factory() as uow:
            found = store_orders(uow.session, _shop(uow.session, shop_id), page.orders, now=clock())
            uow.commit()
        total.pages += 1
        total.orders += found.orders
        total.before_install += found.before_install
        total.receipt_ids += found.receipt_ids
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    with uow_factory() as uow:
        state = _state(uow.session, shop_id, RECONCILE, started)
        # An explicit later `since` leaves a gap before it: the watermark stays put then.
        if since is None or watermark is None or since <= watermark:
            state.watermark = max(started, state.watermark or started)
        state.status, state.last_error = COMPLETED, None
        state.started_at, state.finished_at, state.updated_at = started, clock(), clock()
        state.pages, state.orders_read = total.pages, total.orders
        state.before_install, state.receipts = total.before_install, len(total.receipt_ids)
        uow.commit()
    return (
        {
            "since": window_start.isoformat(),
            "pages": total.pages,
            "orders_found": total.orders,
            "before_install": total.before_install,
            "new_order_states": len(total.receipt_ids),
        },
        total.receipt_ids,
    )


def record_reconcile_failure(uow: UnitOfWork, shop_id: int, error: str, *, now: datetime) -> None:
    with uow:
        state = _state(uow.session, shop_id, RECONCILE, now)
        state.status, state.last_error, state.updated_at = FAILED, error[:2000], now
        uow.commit()


def _readable_shops() -> Select[Any]:
    return select(Shop.id).where(
        Shop.active.is_(True),
        or_(Shop.access_token_enc.is_not(None), Shop.consumer_key_enc.is_not(None)),
    )


def readable_shops(uow: UnitOfWork) -> list[int]:
    """Active shops whose orders can be read (they have API credentials)."""
    with uow:
        return list(uow.session.scalars(_readable_shops().order_by(Shop.id)))


def claim_due_reconciles(uow: UnitOfWork, *, now: datetime, every: timedelta) -> list[int]:
    """Active shops with API credentials whose poll is due; each is claimed until `every`
    from now (a poll that fails is tried again at the next claim)."""
    with uow:
        session = uow.session
        shops = session.scalars(_readable_shops().order_by(Shop.id)).all()
        if not shops:
            return []
        due = []
        for shop_id in shops:
            state = _state(session, shop_id, RECONCILE, now)
            if state.next_run_at is None or state.next_run_at <= now:
                state.next_run_at = now + every
                due.append(shop_id)
        uow.commit()
    return due


def webhook_secret(
    uow: UnitOfWork, decrypt: Callable[[bytes | None], str | None], shop_id: int
) -> str | None:
    """The shop's webhook signing secret (WooCommerce), to sign a re-created webhook."""
    with uow:
        return decrypt(_shop(uow.session, shop_id).webhook_secret_enc)


# --- history backfill -------------------------------------------------------------------------


def _summary(state: OrderSync | None, stored: int = 0, historical: int = 0) -> dict[str, Any]:
    if state is None:
        return {
            "status": IDLE, "pages": 0, "orders_read": 0, "before_install": 0,
            "new_order_states": 0, "resumable": False, "started_at": None,
            "finished_at": None, "updated_at": None, "error": None,
            "history_orders": stored, "history_before_install": historical,
        }  # fmt: skip
    return {
        "status": state.status,
        "pages": state.pages,
        "orders_read": state.orders_read,
        "before_install": state.before_install,
        "new_order_states": state.receipts,
        "resumable": state.status in (RUNNING, FAILED) and state.pages > 0,
        "started_at": state.started_at.isoformat() if state.started_at else None,
        "finished_at": state.finished_at.isoformat() if state.finished_at else None,
        "updated_at": state.updated_at.isoformat(),
        "error": state.last_error,
        "history_orders": stored,
        "history_before_install": historical,
    }


def backfill_progress(uow: UnitOfWork, shop_id: int) -> dict[str, Any]:
    """The backfill's state and how many orders the shop's history holds."""
    with uow:
        session = uow.session
        _shop(session, shop_id)
        state = session.get(OrderSync, (shop_id, BACKFILL))
        stored, historical = session.execute(
            select(
                func.count(OrderHistory.id),
                func.count(OrderHistory.id).filter(OrderHistory.before_install.is_(True)),
            ).where(OrderHistory.shop_id == shop_id)
        ).one()
        return _summary(state, int(stored), int(historical))


def start_backfill(uow: UnitOfWork, shop_id: int, *, now: datetime) -> tuple[dict[str, Any], bool]:
    """Mark the backfill running: a failed or interrupted one goes on from its cursor, a
    completed one starts over from the first page (rows are upserted, never duplicated).
    (progress, whether a run has to be started: False when one is already running)."""
    with uow:
        state = _state(uow.session, shop_id, BACKFILL, now)
        _shop(uow.session, shop_id)
        if state.status == RUNNING:
            uow.commit()
            start = False
        else:
            if state.status in (COMPLETED, IDLE):
                state.cursor, state.pages, state.orders_read = None, 0, 0
                state.before_install, state.receipts = 0, 0
                state.started_at, state.finished_at = now, None
            state.status, state.last_error, state.updated_at = RUNNING, None, now
            uow.commit()
            start = True
    return backfill_progress(uow, shop_id), start


def backfill(
    uow_factory: Callable[[], UnitOfWork],
    reader: OrderReader,
    shop_id: int,
    creds: ShopCredentials,
    *,
    clock: Callable[[], datetime],
    apply: Callable[[list[int]], object] = lambda ids: None,
    max_pages: int | None = None,
) -> dict[str, Any]:
    """Read the shop's whole order history from the stored cursor on, one page per
    transaction (the page's rows and the cursor after it commit together, so a crash
    anywhere re-reads at most the page it was on). `apply` gets each page's new receipts
    after its commit. A platform error marks the backfill failed with the cursor kept
    (resumable), and is raised again."""
    pages = 0
    while max_pages is None or pages < max_pages:
        with uow_factory() as uow:
            state = _state(uow.session, shop_id, BACKFILL, clock())
            if state.status != RUNNING:
                uow.commit()
                break
            cursor = state.cursor
            uow.commit()
        try:
            page = reader.orders_page(creds, cursor=cursor)
        except PlatformError as exc:
            with uow_factory() as uow:
                state = _state(uow.session, shop_id, BACKFILL, clock())
                state.status, state.updated_at = FAILED, clock()
                state.last_error = f"{exc.code}: {exc}"[:2000]
                uow.commit()
            logger.warning("backfill stopped: %s", exc.code, extra={"shop_id": shop_id})
            raise
        with uow_factory() as uow:
            session = uow.session
            state = _state(session, shop_id, BACKFILL, clock())
            if state.status != RUNNING or state.cursor != cursor:
                uow.commit()  # another run moved on meanwhile: leave it the page
                break
            found = store_orders(session, _shop(session, shop_id), page.orders, now=clock())
            state.cursor = page.next_cursor
            state.pages += 1
            state.orders_read += found.orders
            state.before_install += found.before_install
            state.receipts += len(found.receipt_ids)
            state.updated_at = clock()
            if page.next_cursor is None:
                state.status, state.finished_at = COMPLETED, clock()
            uow.commit()
        pages += 1
        if found.receipt_ids:
            apply(found.receipt_ids)
        if page.next_cursor is None:
            break
    return backfill_progress(uow_factory(), shop_id)


def stalled_backfills(uow: UnitOfWork, *, now: datetime, older_than: timedelta) -> list[int]:
    """Backfills to resume: running but untouched for `older_than` (the worker died) or
    failed that long ago (the platform was down or throttling). Each is touched, so the
    next tick does not hand it out again at once."""
    with uow:
        rows = uow.session.scalars(
            select(OrderSync)
            .where(
                OrderSync.kind == BACKFILL,
                OrderSync.status.in_((RUNNING, FAILED)),
                OrderSync.updated_at < now - older_than,
            )
            .with_for_update(skip_locked=True)
        ).all()
        for row in rows:
            row.status, row.updated_at = RUNNING, now
        uow.commit()
        return sorted(r.shop_id for r in rows)
