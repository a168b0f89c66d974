"""Background jobs. Each takes ids, looks up the container and calls one service.

With REDIS_URL set, work goes to RQ queues and `loyalty worker` runs it; without it (the
embedded default) it runs in this process right after the commit that created it.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from plugin_server.domain.errors import ReceiptNotFound
from plugin_server.services import webhook_receipts

if TYPE_CHECKING:
    from redis import Redis

    from plugin_server.bootstrap import Container

logger = logging.getLogger(__name__)

QUEUE_WEBHOOKS = "webhooks"
QUEUES = (QUEUE_WEBHOOKS,)
# A receipt is tried this many times before it is marked failed for an operator to look at.
MAX_ATTEMPTS = 5
STALE_AFTER = timedelta(minutes=2)

_worker_container: Container | None = None


def set_worker_container(container: Container | None) -> None:
    global _worker_container
    _worker_container = container


def worker_container() -> Container:
    """The container of a worker process, built from the environment on first use."""
    global _worker_container
    if _worker_container is None:
        from plugin_server.bootstrap import bootstrap
        from plugin_server.settings import Settings

        _worker_container = bootstrap(Settings.from_env())
    return _worker_container


def process_receipt(receipt_id: int) -> str:
    """RQ job: apply one webhook receipt to the ledger."""
    return run_receipt(worker_container(), receipt_id)


def run_receipt(container: Container, receipt_id: int) -> str:
    """Apply a receipt; on an unexpected error note the attempt and re-raise so RQ retries."""
    try:
        return webhook_receipts.apply_receipt(
            container.uow(), receipt_id, now=container.clock()
        ).status
    except ReceiptNotFound:
        logger.warning("receipt vanished before it was processed", extra={"receipt_id": receipt_id})
        return "missing"
    except Exception as exc:
        final = webhook_receipts.record_failure(
            container.uow(),
            receipt_id,
            f"{type(exc).__name__}: {exc}",
            max_attempts=MAX_ATTEMPTS,
            now=container.clock(),
        )
        if final:
            logger.exception("receipt failed for good", extra={"receipt_id": receipt_id})
            return webhook_receipts.FAILED
        raise


def requeue_stale_receipts(container: Container) -> list[int]:
    """Enqueue receipts left pending (Redis down at enqueue, a worker killed mid-job)."""
    ids = webhook_receipts.stale_pending_receipts(
        container.uow(), now=container.clock(), older_than=STALE_AFTER
    )
    for receipt_id in ids:
        container.dispatcher.enqueue_receipt(receipt_id)
    return ids


class InlineDispatcher:
    """Runs jobs in this process, after the commit; failures stay on the receipt."""

    def __init__(self, container: Container) -> None:
        self._container = container

    def enqueue_receipt(self, receipt_id: int) -> None:
        try:
            run_receipt(self._container, receipt_id)
        except Exception:
            # The receipt is stored and keeps its error; `loyalty tick` tries it again.
            logger.exception("receipt processing failed", extra={"receipt_id": receipt_id})


class RQDispatcher:
    def __init__(self, redis: Redis, *, retry_intervals: tuple[int, ...]) -> None:
        from rq import Queue

        self._queue = Queue(QUEUE_WEBHOOKS, connection=redis)
        self._retry_intervals = list(retry_intervals)

    @property
    def queue(self) -> object:
        return self._queue

    def enqueue_receipt(self, receipt_id: int) -> None:
        from redis.exceptions import RedisError
        from rq import Retry

        try:
            self._queue.enqueue_call(
                process_receipt,
                args=(receipt_id,),
                # One job id per receipt: a re-enqueue replaces rather than duplicates.
                job_id=f"receipt-{receipt_id}",
                retry=Retry(max=MAX_ATTEMPTS - 1, interval=self._retry_intervals),
                result_ttl=0,
                failure_ttl=7 * 24 * 3600,
                timeout=60,
            )
        except RedisError:
            # The receipt is already durable; the scheduler re-enqueues stale receipts.
            logger.warning(
                "could not enqueue receipt; it will be picked up later",
                extra={"receipt_id": receipt_id},
                exc_info=True,
            )
