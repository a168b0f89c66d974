"""Background work: draining the webhook inbox.

The request path only stores a receipt and calls `dispatcher.wake()`. With REDIS_URL set,
that sets a Redis flag and, if no drain is already queued, enqueues one RQ `drain_receipts`
job; drains claim receipts in batches (SKIP LOCKED on PostgreSQL) so several workers can
share a backlog. Without Redis (the embedded default) the same drain runs in-process right
after the commit. Either way the receipt table, not Redis, is the source of truth: a lost
job or flag only delays work until the scheduler's next tick.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, cast

from plugin_server import metrics
from plugin_server.domain.errors import ReceiptNotFound, ShopNotFound
from plugin_server.services import (
    analytics,
    collections,
    earning_rules,
    emails,
    expiry,
    imports,
    order_sync,
    outbound_webhooks,
    redemptions,
    referrals,
    scores,
    tiers,
    webhook_receipts,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from redis import Redis
    from rq import Queue

    from plugin_server.crypto import CredentialCipher
    from plugin_server.db.models import Shop
    from plugin_server.db.unit_of_work import UnitOfWork
    from plugin_server.platforms.base import OrderReader, ShopCredentials, ShopPlatform
    from plugin_server.settings import Settings

logger = logging.getLogger(__name__)

QUEUE_WEBHOOKS = "webhooks"
# A shopper may be waiting on a redemption: workers take these before webhook drains.
QUEUE_REDEMPTIONS = "redemptions"
# CSV imports: long, resumable, never ahead of a shopper's redemption or an order's points.
QUEUE_IMPORTS = "imports"
# Refreshing the shop's copy of collections: nobody waits on it.
QUEUE_SYNC = "sync"
# Outbound webhooks to merchants' systems: last, so a slow receiver never delays the rest.
QUEUE_OUTBOUND = "outbound"
QUEUES = (QUEUE_REDEMPTIONS, QUEUE_WEBHOOKS, QUEUE_IMPORTS, QUEUE_SYNC, QUEUE_OUTBOUND)
OUTBOUND_FLAG = "loyalty:outbound"
EMAILS_FLAG = "loyalty:emails"
# A sync attempted while the merchant waits on a rule's save reads at most this many pages
# (1,000 products on Shopify, 400 on WooCommerce); a larger collection is left to a job.
QUICK_SYNC_PAGES = 4
DRAIN_BATCH = 100
# Receipts applied per transaction: one commit for many, while row locks stay short-lived.
APPLY_BATCH = 25
# How many drains may run at once on a backlog (one per worker is the useful maximum).
MAX_DRAINS = 4
DRAIN_FLAG_TTL_S = 60
# A receipt claimed this long ago by a drain that never finished is handed out again.
STALE_CLAIM = timedelta(minutes=5)
STALE_REDEMPTION = timedelta(minutes=1)
# An import not completed and untouched this long is started again from its last line.
STALE_IMPORT = timedelta(minutes=10)
# A history backfill untouched this long (its worker died) or failed this long ago (the
# platform was down or throttling) is resumed from its cursor by the tick.
STALE_BACKFILL = timedelta(minutes=10)
# Codes expire this long after their end date, so an order placed just before it whose
# webhook is still on its way marks the code used instead of finding it expired.
EXPIRY_GRACE = timedelta(hours=1)


class Dispatcher(Protocol):
    """Starts inbox drains: through RQ when Redis is set, in this process otherwise."""

    def wake(self) -> None: ...  # new receipts are due
    # A redemption still needs its code: soon, off the request (after a quick attempt
    # failed), and from the scheduler's tick (which may run it right there).
    def issue_later(self, redemption_id: int) -> None: ...
    def retry_issue(self, redemption_id: int) -> None: ...
    def wake_later(self, seconds: float) -> None: ...
    # Collections to sync: off the request (after a quick attempt did not finish them),
    # and from the scheduler's tick (which may run them right there).
    def sync_later(self, shop_id: int, collection_refs: Sequence[str]) -> None: ...
    def resync(self, shop_id: int, collection_refs: Sequence[str]) -> None: ...
    def add_drain(self) -> None: ...
    def release_slot(self, slot: int) -> None: ...
    def hold_slot(self, slot: int) -> None: ...
    def run_import(self, shop_id: int, import_id: int) -> None: ...  # a recorded CSV import
    # Outbound webhook deliveries are due (queued after a commit, or retries).
    def deliver_webhooks(self) -> None: ...
    # Shopper emails are due (queued after a commit, or retries); nothing without SMTP.
    def send_emails(self) -> None: ...
    # Poll a shop's recently updated orders and check its webhooks (the tick, every hour).
    def reconcile(self, shop_id: int) -> None: ...
    # Read a shop's whole order history, from where it got to (API, CLI, tick on a stall).
    def backfill(self, shop_id: int) -> None: ...


class JobContainer(Protocol):
    """What the jobs use of the wiring (`bootstrap.Container` has it). The wiring imports
    this module to pick a dispatcher, so this module names only what it needs."""

    @property
    def settings(self) -> Settings: ...
    @property
    def cipher(self) -> CredentialCipher: ...
    @property
    def dispatcher(self) -> Dispatcher: ...
    @property
    def clock(self) -> Callable[[], datetime]: ...
    def uow(self) -> UnitOfWork: ...
    def platform_clients(self, *, quick: bool = False) -> Mapping[str, ShopPlatform]: ...


_worker_container: JobContainer | None = None


def set_worker_container(container: JobContainer | None) -> None:
    """Hand this process's RQ jobs their container. The process that runs the worker
    (`loyalty worker`) builds it from the environment and registers it before any job runs."""
    global _worker_container
    _worker_container = container


def worker_container() -> JobContainer:
    """The container registered for this worker process."""
    if _worker_container is None:
        raise RuntimeError(
            "no container registered for RQ jobs in this process: run workers with `loyalty worker`"
        )
    return _worker_container


def import_csv(shop_id: int, import_id: int) -> str:
    """RQ job: apply a recorded CSV import from where it got to; returns its status."""
    c = worker_container()
    return str(imports.run_import(c.uow, shop_id, import_id, clock=c.clock)["status"])


def drain_receipts(slot: int | None = None) -> int:
    """RQ job: apply due receipts until none are left; returns how many were handled."""
    return drain(worker_container(), slot=slot)


def drain(container: JobContainer, *, slot: int | None = None) -> int:
    """Claim and apply due receipts in batches until there are none.

    A drain that owns a slot flag releases it *before* its last look for work, so a receipt
    stored while it was finishing is either seen by that look or wakes a new drain. A
    drain that fails (database down) releases its slot too: otherwise the flag would
    swallow every wake-up, the scheduler's included, until it expires.
    """
    try:
        return _drain(container, slot=slot)
    except Exception:
        if slot is not None:
            try:
                container.dispatcher.release_slot(slot)
            except Exception:
                logger.warning("could not release drain slot %s", slot, exc_info=True)
        raise


def _drain(container: JobContainer, *, slot: int | None) -> int:
    handled = 0
    dispatcher = container.dispatcher
    while True:
        ids = webhook_receipts.claim_receipts(
            container.uow(), now=container.clock(), limit=DRAIN_BATCH
        )
        if not ids and slot is not None:
            dispatcher.release_slot(slot)
            ids = webhook_receipts.claim_receipts(
                container.uow(), now=container.clock(), limit=DRAIN_BATCH
            )
            if not ids:
                return handled
        if not ids:
            return handled
        if slot is not None:
            dispatcher.hold_slot(slot)
        if len(ids) == DRAIN_BATCH:
            dispatcher.add_drain()  # a backlog: ask another worker to help
        for start in range(0, len(ids), APPLY_BATCH):
            chunk = ids[start : start + APPLY_BATCH]
            applied = set(
                webhook_receipts.apply_receipts(container.uow(), chunk, now=container.clock())
            )
            for receipt_id in chunk:
                if receipt_id not in applied:
                    run_receipt(container, receipt_id)
        handled += len(ids)


def run_receipt(container: JobContainer, receipt_id: int) -> str:
    """Apply one receipt; on an unexpected error schedule its next attempt (or fail it)."""
    try:
        return webhook_receipts.apply_receipt(
            container.uow(), receipt_id, now=container.clock()
        ).status
    except ReceiptNotFound:
        logger.warning("receipt vanished before it was applied", extra={"receipt_id": receipt_id})
        return "missing"
    except Exception as exc:
        intervals = container.settings.job_retry_intervals
        final = webhook_receipts.record_failure(
            container.uow(),
            receipt_id,
            f"{type(exc).__name__}: {exc}",
            now=container.clock(),
            retry_intervals=intervals,
        )
        logger.exception(
            "receipt attempt failed%s",
            " for good" if final else "; will retry",
            extra={"receipt_id": receipt_id},
        )
        metrics.RECEIPT_FAILURES.labels("true" if final else "false").inc()
        if final:
            return webhook_receipts.FAILED
        container.dispatcher.wake_later(intervals[0] if intervals else 0)
        return webhook_receipts.PENDING


def _until_none_left(run: Callable[[JobContainer], int], flag: str) -> int:
    """An outbox job's body: `run` until nothing is due. The wake-up flag is released before
    the last look, so anything queued meanwhile is either seen here or wakes a new job."""
    container = worker_container()
    redis = getattr(container.dispatcher, "redis", None)
    done = run(container)
    if redis is not None:
        redis.delete(flag)
        done += run(container)
    return done


def deliver_webhooks() -> int:
    """RQ job: deliver due outbound webhooks until none are left; attempts made."""
    return _until_none_left(run_deliveries, OUTBOUND_FLAG)


def run_deliveries(container: JobContainer) -> int:
    """Deliver every due outbound webhook (claims with a lease); attempts made."""
    return outbound_webhooks.deliver_due(
        container.uow,
        container.cipher,
        outbound_webhooks.DeliveryPolicy.from_settings(container.settings),
        clock=container.clock,
    )


def send_emails() -> int:
    """RQ job: send due shopper emails until none are left; how many were sent."""
    return _until_none_left(lambda c: run_emails(c)["sent"], EMAILS_FLAG)


def run_emails(container: JobContainer, *, limit: int | None = None) -> dict[str, int]:
    """Send every due email through SMTP_URL (nothing without it); counts by outcome."""
    return emails.send_due(
        container.uow,
        emails.mailer_from_settings(container.settings),
        emails.SendPolicy.from_settings(container.settings),
        clock=container.clock,
        limit=limit,
    )


def issue_redemption(redemption_id: int) -> str:
    """RQ job: get a redemption's code created at the platform (retried by RQ on errors)."""
    return run_issue(worker_container(), redemption_id)


def run_issue(container: JobContainer, redemption_id: int, *, quick: bool = False) -> str:
    """Issue one redemption's code; `quick` is the attempt made inside the HTTP request."""
    outcome = redemptions.issue(
        container.uow,
        container.cipher,
        container.platform_clients(quick=quick),
        redemption_id,
        now=container.clock,
        credentials=lambda shop_id: shop_credentials(container, shop_id),
    )
    metrics.REDEMPTION_OUTCOMES.labels(outcome).inc()
    return outcome


def sync_collections(shop_id: int, collection_refs: list[str]) -> int:
    """RQ job: sync a shop's collections from its store; how many are now in sync."""
    return run_collection_sync(worker_container(), shop_id, collection_refs)


def run_collection_sync(
    container: JobContainer, shop_id: int, collection_refs: Sequence[str]
) -> int:
    """Sync each collection (its failure recorded on it, the others still tried); how many
    are now in sync. The attempt made while the merchant waits is `rule_flow`'s."""
    synced = 0
    for ref in collection_refs:
        try:
            out = collections.sync_collection(
                container.uow,
                container.platform_clients(),
                shop_id,
                ref,
                credentials=lambda shop_id: shop_credentials(container, shop_id),
                now=container.clock,
            )
        except ShopNotFound:
            # Erased (shop/redact) after the job was queued: nothing left to sync.
            logger.info("collection sync for a shop that is gone", extra={"shop_id": shop_id})
            return synced
        synced += out is not None and out["status"] == "synced"
    return synced


def reconcile_orders(shop_id: int, since: str | None = None) -> dict[str, object]:
    """RQ job: poll a shop's recently updated orders and repair its webhooks."""
    return run_reconcile(
        worker_container(), shop_id, since=datetime.fromisoformat(since) if since else None
    )


def backfill_orders(shop_id: int) -> dict[str, object]:
    """RQ job: read a shop's order history from its stored cursor to the end."""
    return run_backfill(worker_container(), shop_id)


def _reader(container: JobContainer, shop_id: int) -> tuple[str, OrderReader]:
    """The shop's platform name and its client's order reader."""
    from plugin_server.db.models import Shop

    with container.uow() as uow:
        shop = uow.session.get(Shop, shop_id)
        if shop is None:
            raise ShopNotFound(f"shop {shop_id} does not exist")
        platform = shop.platform
    return platform, cast("OrderReader", container.platform_clients()[platform])


def apply_found(container: JobContainer, receipt_ids: Sequence[int]) -> dict[str, int]:
    """Apply receipts stored for polled orders through the webhook path, now (a drain that
    claimed one meanwhile finds it settled); counts of receipts applied and of ledger entries
    they appended (non-zero only for what the webhooks had missed)."""
    applied = entries = 0
    for receipt_id in receipt_ids:
        try:
            outcome = webhook_receipts.apply_receipt(
                container.uow(), receipt_id, now=container.clock()
            )
        except Exception:
            run_receipt(container, receipt_id)  # records the failure and schedules a retry
            continue
        applied += outcome.status == webhook_receipts.PROCESSED
        entries += len(outcome.entry_ids)
    return {"order_states_applied": applied, "ledger_entries": entries}


def run_reconcile(
    container: JobContainer, shop_id: int, *, since: datetime | None = None
) -> dict[str, object]:
    """Poll one shop's orders updated since its watermark (or `since`), apply what is new
    through the webhook path, and re-create or re-activate its order webhooks. A platform
    error (throttled past our waits, down) is recorded and raised: the watermark stays, so
    the next poll reads the same window again."""
    from plugin_server.platforms.base import PlatformError

    platform, reader = _reader(container, shop_id)
    creds = shop_credentials(container, shop_id)
    try:
        summary, receipt_ids = order_sync.reconcile(
            container.uow, reader, shop_id, creds, clock=container.clock, since=since
        )
    except PlatformError as exc:
        order_sync.record_reconcile_failure(
            container.uow(), shop_id, f"{exc.code}: {exc}", now=container.clock()
        )
        raise
    out: dict[str, object] = {"shop_id": shop_id, **summary}
    out.update(apply_found(container, receipt_ids))
    secret = order_sync.webhook_secret(container.uow(), container.cipher.decrypt, shop_id)
    try:
        repair = reader.repair_webhooks(
            creds,
            delivery_url=container.settings.webhook_url(platform),
            secret=secret,
        )
        out["webhooks_recreated"] = list(repair.recreated)
        out["webhooks_reactivated"] = list(repair.reactivated)
    except PlatformError as exc:
        logger.warning("webhook check failed: %s", exc.code, extra={"shop_id": shop_id})
        out["webhooks_error"] = exc.code
    logger.info("orders reconciled", extra={"shop_id": shop_id, "found": out["orders_found"]})
    return out


def run_backfill(container: JobContainer, shop_id: int) -> dict[str, object]:
    """Read a shop's order history from its cursor on (the backfill must have been started:
    `order_sync.start_backfill`); the progress it got to. Platform errors leave it failed
    and resumable (the tick resumes it after STALE_BACKFILL)."""
    _, reader = _reader(container, shop_id)
    creds = shop_credentials(container, shop_id)
    return order_sync.backfill(
        container.uow,
        reader,
        shop_id,
        creds,
        clock=container.clock,
        apply=lambda ids: apply_found(container, ids),
    )


def shop_credentials(container: JobContainer, shop_id: int) -> ShopCredentials:
    """A shop's credentials for an API call, its Shopify token refreshed if about to expire."""
    from plugin_server.platforms import shopify_auth
    from plugin_server.services import install

    def refresh(shop: Shop, refresh_token: str) -> shopify_auth.ShopToken:
        s = container.settings
        from shopify_app import ShopifyApp

        app = ShopifyApp(s.shopify_api_key or "-", s.shopify_api_secret or "-")
        return shopify_auth.refresh(
            app,
            shop.domain,
            refresh_token=refresh_token,
            expires_at=shop.access_token_expires_at,
            refresh_token_expires_at=shop.refresh_token_expires_at,
            api_base_url=shop.api_base_url,
        )

    return install.fresh_credentials(
        container.uow, container.cipher, shop_id, refresh=refresh, now=container.clock
    )


def tick(container: JobContainer) -> dict[str, int]:
    """Periodic duties: re-offer receipts of dead drains, wake a drain for due work, retry
    redemptions whose code the platform has not confirmed yet, expire unused codes,
    (once an hour across all schedulers) expire points on each shop's policy, and
    recalculate VIP tiers (at once after the merchant changed them, else hourly),
    reward advocates whose friends' orders have passed their pending period, resume CSV
    imports that stopped, sync the collections live rules name when they are due (every
    few hours; failing ones sooner), wake a delivery worker for due outbound webhooks
    (retries, and claims of workers that died), and (hourly) trim the outbound delivery
    log, (every few minutes) bring the analytics aggregates up to date, (every
    `reconcile_minutes` per shop) poll recently updated orders and check webhooks,
    resume order-history backfills that stopped, and (once a UTC day per shop) recompute
    customer scores and segments."""
    released = webhook_receipts.release_stale_claims(
        container.uow(), now=container.clock(), older_than=STALE_CLAIM
    )
    due = webhook_receipts.has_due_receipts(container.uow(), now=container.clock())
    if due:
        container.dispatcher.wake()
    pending = redemptions.stale_pending(
        container.uow(), now=container.clock(), older_than=STALE_REDEMPTION
    )
    for redemption_id in pending:
        container.dispatcher.retry_issue(redemption_id)
    expired = redemptions.expire_due(container.uow, now=container.clock(), grace=EXPIRY_GRACE)
    points = expiry.run_due(container.uow, now=container.clock())
    moved = tiers.run_due(container.uow, now=container.clock())
    now = container.clock()
    birthdays = 0
    if expiry.claim_period(container.uow(), f"birthdays:{now:%Y-%m-%dT%H}", now=now):
        birthdays = earning_rules.award_birthdays(container.uow, now=now)
    rewarded, advocate_codes = referrals.settle_due(container.uow, now=container.clock())
    for redemption_id in advocate_codes:  # after the commit that recorded them
        container.dispatcher.issue_later(redemption_id)
    stalled = imports.stalled(container.uow(), now=container.clock(), older_than=STALE_IMPORT)
    for shop_id, import_id in stalled:
        container.dispatcher.run_import(shop_id, import_id)
    due_collections = collections.claim_due(container.uow(), now=container.clock())
    for shop_id, refs in due_collections.items():
        container.dispatcher.resync(shop_id, refs)
    # Retries that came due, and deliveries whose worker died (their lease ran out).
    webhooks_due = outbound_webhooks.has_due(container.uow(), now=container.clock())
    if webhooks_due:
        container.dispatcher.deliver_webhooks()
    emails_due = bool(container.settings.smtp_url) and emails.has_due(
        container.uow(), now=container.clock()
    )
    if emails_due:
        container.dispatcher.send_emails()
    # Orders the webhooks missed (and the webhooks themselves), per shop every so often;
    # backfills whose worker died or that the platform stopped.
    every = container.settings.reconcile_minutes
    reconciles = (
        order_sync.claim_due_reconciles(
            container.uow(), now=container.clock(), every=timedelta(minutes=every)
        )
        if every > 0
        else []
    )
    for shop_id in reconciles:
        container.dispatcher.reconcile(shop_id)
    backfills = order_sync.stalled_backfills(
        container.uow(), now=container.clock(), older_than=STALE_BACKFILL
    )
    for shop_id in backfills:
        container.dispatcher.backfill(shop_id)
    # Analytics aggregates: the days changed since the last build (every few minutes).
    analytics_built = analytics.run_due(container.uow, now=container.clock())
    scored = scores.run_due(container.uow, now=container.clock())
    now = container.clock()
    if expiry.claim_period(container.uow(), f"webhook-log:{now:%Y-%m-%dT%H}", now=now):
        outbound_webhooks.purge_finished(
            container.uow(),
            now=now,
            older_than=timedelta(days=container.settings.webhook_log_days),
        )
    return {
        "released_claims": released,
        "woke": int(due),
        "redemptions_retried": len(pending),
        "redemptions_expired": expired,
        "points_expired": points.points_expired if points is not None else 0,
        "tier_changes": moved["up"] + moved["down"],
        "birthday_bonuses": birthdays,
        "referrals_rewarded": rewarded,
        "imports_resumed": len(stalled),
        "collections_due": sum(len(refs) for refs in due_collections.values()),
        "webhooks_woke": int(webhooks_due),
        "emails_woke": int(emails_due),
        "analytics_shops_built": analytics_built or 0,
        "reconciles_queued": len(reconciles),
        "backfills_resumed": len(backfills),
        "scores_shops_computed": scored,
    }


class _BackgroundLoop:
    """`work` on a thread of its own, one run at a time: a wake-up while it runs makes it
    look once more. Not a daemon, so `loyalty tick` finishes what it started before
    exiting. A failure leaves the work in its outbox for the next tick."""

    def __init__(self, name: str, work: Callable[[], object]) -> None:
        self._name = name
        self._work = work
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._again = False

    def wake(self) -> None:
        with self._lock:
            self._again = True
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._loop, name=self._name)
            self._thread.start()

    def _loop(self) -> None:
        while True:
            with self._lock:
                if not self._again:
                    self._thread = None
                    return
                self._again = False
            try:
                self._work()
            except Exception:
                logger.exception("in-process background work failed", extra={"loop": self._name})

    def join(self, timeout: float | None = None) -> None:
        """Wait for the thread, if one runs (tests, and `loyalty tick`)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)


class InlineDispatcher:
    """No Redis: drain in this process right after the commit that stored the receipt."""

    def __init__(self, container: JobContainer) -> None:
        self._container = container
        # A receiver or an SMTP server may take seconds: off the request thread.
        self._webhooks = _BackgroundLoop(
            "loyalty-outbound-webhooks", lambda: run_deliveries(container)
        )
        self._emails = _BackgroundLoop("loyalty-emails", lambda: run_emails(container))

    def send_emails(self) -> None:
        """Without SMTP_URL the emails stay in the outbox: nothing to start."""
        if self._container.settings.smtp_url:
            self._emails.wake()

    def join_emails(self, timeout: float | None = None) -> None:
        self._emails.join(timeout)

    def deliver_webhooks(self) -> None:
        self._webhooks.wake()

    def join_webhooks(self, timeout: float | None = None) -> None:
        self._webhooks.join(timeout)

    def wake(self) -> None:
        try:
            drain(self._container)
        except Exception:
            # The receipt is stored; `loyalty tick` (or the demo's ticker) drains it later.
            logger.exception("in-process drain failed")

    def wake_later(self, seconds: float) -> None:
        """Nothing to schedule in-process: the next tick picks due retries up."""

    def issue_later(self, redemption_id: int) -> None:
        """Off the request thread, so the shopper is answered 'pending' at once."""
        threading.Thread(
            target=self.retry_issue, args=(redemption_id,), name="loyalty-issue", daemon=True
        ).start()

    def retry_issue(self, redemption_id: int) -> None:
        try:
            run_issue(self._container, redemption_id)
        except Exception:
            # Still pending: the next tick tries again (the code is looked up first).
            logger.warning(
                "redemption not issued yet", extra={"redemption_id": redemption_id}, exc_info=True
            )

    def sync_later(self, shop_id: int, collection_refs: Sequence[str]) -> None:
        """Off the request thread: the merchant has the rule's answer already."""
        threading.Thread(
            target=self.resync,
            args=(shop_id, list(collection_refs)),
            name="loyalty-collections",
            daemon=True,
        ).start()

    def resync(self, shop_id: int, collection_refs: Sequence[str]) -> None:
        try:
            run_collection_sync(self._container, shop_id, collection_refs)
        except Exception:
            # Failures are recorded per collection; this is the unexpected kind. The next
            # due pass of the tick tries again.
            logger.exception("collection sync failed", extra={"shop_id": shop_id})

    def reconcile(self, shop_id: int) -> None:
        """In this process (the tick's): the embedded default has no worker."""
        try:
            run_reconcile(self._container, shop_id)
        except Exception:
            # Recorded on the shop's sync state; the next due tick polls the window again.
            logger.exception("order reconciliation failed", extra={"shop_id": shop_id})

    def backfill(self, shop_id: int) -> None:
        """Off the caller's thread (a request may have started it); its cursor is kept, so
        a run cut short by the process exiting is resumed by a later tick."""
        threading.Thread(
            target=self._backfill, args=(shop_id,), name="loyalty-backfill", daemon=True
        ).start()

    def _backfill(self, shop_id: int) -> None:
        try:
            run_backfill(self._container, shop_id)
        except Exception:
            logger.exception("order backfill stopped", extra={"shop_id": shop_id})

    def add_drain(self) -> None:
        """One process drains everything itself."""

    def release_slot(self, slot: int) -> None:
        """Slots only exist with Redis."""

    def hold_slot(self, slot: int) -> None:
        """Slots only exist with Redis."""

    def run_import(self, shop_id: int, import_id: int) -> None:
        """In this process, before answering: the embedded default has no worker."""
        try:
            imports.run_import(self._container.uow, shop_id, import_id, clock=self._container.clock)
        except Exception:
            # Committed batches stay; POST /imports/{id}/resume goes on from there.
            logger.exception("import stopped", extra={"import_id": import_id})


class RQDispatcher:
    def __init__(self, redis: Redis, *, debounce_s: float = 0.0) -> None:
        """`debounce_s`: after waking a drain, this process skips the Redis round trip for
        that long. Under load a drain is certainly running; a receipt stored in the window
        after a drain finished is picked up by the next wake-up or the scheduler's tick."""
        from rq import Queue

        self._redis = redis
        self._queue = Queue(QUEUE_WEBHOOKS, connection=redis)
        self._outbound = Queue(QUEUE_OUTBOUND, connection=redis)
        self._redemptions = Queue(QUEUE_REDEMPTIONS, connection=redis)
        self._imports = Queue(QUEUE_IMPORTS, connection=redis)
        self._sync = Queue(QUEUE_SYNC, connection=redis)
        self._debounce_s = debounce_s
        self._woken_at = float("-inf")

    @staticmethod
    def _flag(slot: int) -> str:
        return f"loyalty:drain:{slot}"

    def _enqueue(self, slot: int | None, delay_s: float = 0) -> None:
        from rq import Retry

        options = {
            "args": (slot,),
            "job_id": f"drain-{slot if slot is not None else 'x'}-{uuid.uuid4().hex[:12]}",
            # A drain that crashes (database down) is retried; the receipts it had claimed
            # come back through release_stale_claims.
            "retry": Retry(max=3, interval=[5, 30, 120]),
            "result_ttl": 0,
            "failure_ttl": 7 * 24 * 3600,
            "timeout": 3600,
        }
        if delay_s > 0:
            self._queue.enqueue_in(
                timedelta(seconds=delay_s),
                drain_receipts,
                slot,
                job_id=options["job_id"],
                retry=options["retry"],
                result_ttl=0,
                failure_ttl=options["failure_ttl"],
            )
        else:
            self._queue.enqueue_call(drain_receipts, **options)  # type: ignore[arg-type]

    def _start(self, slot: int) -> bool:
        from redis.exceptions import RedisError

        try:
            if self._redis.set(self._flag(slot), 1, nx=True, ex=DRAIN_FLAG_TTL_S):
                self._enqueue(slot)
                return True
        except RedisError:
            # The receipt is durable already; the scheduler wakes a drain for it later.
            logger.warning("could not wake a drain", exc_info=True)
        return False

    def wake(self) -> None:
        """At most one Redis round trip per debounce window per process."""
        now = time.monotonic()
        if now - self._woken_at < self._debounce_s:
            return
        self._woken_at = now
        self._start(0)

    def add_drain(self) -> None:
        for slot in range(1, MAX_DRAINS):
            if self._start(slot):
                return

    def wake_later(self, seconds: float) -> None:
        from redis.exceptions import RedisError

        try:
            self._enqueue(None, delay_s=seconds)
        except RedisError:
            logger.warning("could not schedule a retry drain", exc_info=True)

    @staticmethod
    def _enqueue_or_warn(
        queue: Queue,
        job: Callable[..., Any],
        args: tuple[Any, ...],
        *,
        job_id: str,
        timeout: int,
        retry_intervals: Sequence[int] = (),
        unqueued: str,
        about: dict[str, Any],
    ) -> None:
        """Enqueue a job (kept 7 days if it fails; no result kept). Redis down is logged,
        not raised: every such job has a database record the scheduler picks up again
        (`unqueued` says which), so the request or tick that asked goes on."""
        from redis.exceptions import RedisError
        from rq import Retry

        try:
            queue.enqueue_call(
                job,
                args=args,
                job_id=job_id,
                retry=Retry(max=len(retry_intervals), interval=list(retry_intervals))
                if retry_intervals
                else None,
                result_ttl=0,
                failure_ttl=7 * 24 * 3600,
                timeout=timeout,
            )
        except RedisError:
            logger.warning("could not enqueue: %s", unqueued, extra=about, exc_info=True)

    def issue_later(self, redemption_id: int) -> None:
        self._enqueue_or_warn(
            self._redemptions,
            issue_redemption,
            (redemption_id,),
            job_id=f"issue-{redemption_id}",
            timeout=120,
            retry_intervals=(5, 30, 120, 600, 1800),
            unqueued="redemption; the scheduler retries it",
            about={"redemption_id": redemption_id},
        )

    def retry_issue(self, redemption_id: int) -> None:
        self.issue_later(redemption_id)

    def sync_later(self, shop_id: int, collection_refs: Sequence[str]) -> None:
        refs = sorted(collection_refs)
        digest = uuid.uuid5(uuid.NAMESPACE_URL, ",".join(refs)).hex[:16]
        self._enqueue_or_warn(
            self._sync,
            sync_collections,
            (shop_id, refs),
            # One job per shop and set of collections: enqueued again, it runs once more
            # at worst, and a sync is idempotent.
            job_id=f"collections-{shop_id}-{digest}",
            timeout=1800,
            unqueued="a collection sync; the scheduler retries it",
            about={"shop_id": shop_id},
        )

    def resync(self, shop_id: int, collection_refs: Sequence[str]) -> None:
        self.sync_later(shop_id, collection_refs)

    @property
    def redis(self) -> Redis:
        return self._redis

    def deliver_webhooks(self) -> None:
        self._wake_outbox(deliver_webhooks, OUTBOUND_FLAG, "outbound")

    def send_emails(self) -> None:
        self._wake_outbox(send_emails, EMAILS_FLAG, "emails")

    def _wake_outbox(self, job: Callable[[], int], flag: str, name: str) -> None:
        """One job per flag lifetime; the outbox is the source of truth, so a lost job only
        waits for the scheduler's next tick."""
        from redis.exceptions import RedisError
        from rq import Retry

        try:
            if self._redis.set(flag, 1, nx=True, ex=DRAIN_FLAG_TTL_S):
                self._outbound.enqueue_call(
                    job,
                    job_id=f"{name}-{uuid.uuid4().hex[:12]}",
                    retry=Retry(max=3, interval=[5, 30, 120]),
                    result_ttl=0,
                    failure_ttl=7 * 24 * 3600,
                    timeout=3600,
                )
        except RedisError:
            logger.warning("could not wake %s work", name, exc_info=True)

    def release_slot(self, slot: int) -> None:
        from redis.exceptions import RedisError

        # The flag only spares Redis duplicate drains; a drain must go on without it. With
        # Redis down, the flag expires by itself.
        try:
            self._redis.delete(self._flag(slot))
        except RedisError:
            logger.warning("could not release drain slot %s", slot, exc_info=True)

    def hold_slot(self, slot: int) -> None:
        from redis.exceptions import RedisError

        # Called just after a batch was claimed: raising here would strand the batch as
        # claimed until the scheduler returns it (STALE_CLAIM), so Redis down is no error.
        try:
            self._redis.set(self._flag(slot), 1, ex=DRAIN_FLAG_TTL_S)
        except RedisError:
            logger.warning("could not hold drain slot %s", slot, exc_info=True)

    def reconcile(self, shop_id: int) -> None:
        self._enqueue_or_warn(
            self._sync,
            reconcile_orders,
            (shop_id,),
            job_id=f"reconcile-{shop_id}-{uuid.uuid4().hex[:8]}",
            timeout=1800,
            # Throttled or down: try the same window again soon (the watermark waits).
            retry_intervals=(60, 300, 900),
            unqueued="a reconciliation; the next due tick does",
            about={"shop_id": shop_id},
        )

    def backfill(self, shop_id: int) -> None:
        self._enqueue_or_warn(
            self._sync,
            backfill_orders,
            (shop_id,),
            # One job id per shop: starting it again while one is queued adds nothing.
            job_id=f"backfill-{shop_id}",
            timeout=6 * 3600,
            unqueued="a backfill; the tick resumes it",
            about={"shop_id": shop_id},
        )

    def run_import(self, shop_id: int, import_id: int) -> None:
        self._enqueue_or_warn(
            self._imports,
            import_csv,
            (shop_id, import_id),
            # One job id per import: a resume while a run is queued adds nothing.
            job_id=f"import-{import_id}",
            timeout=6 * 3600,
            unqueued="an import; the scheduler's tick starts it once it is stale",
            about={"import_id": import_id},
        )
