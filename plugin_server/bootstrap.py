"""Wiring: build every long-lived dependency once, from settings, with no import-time I/O.

This module sits above `jobs`: it picks the dispatcher the jobs provide, and `jobs` never
imports it back (a worker process registers its container with `jobs.set_worker_container`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from plugin_server.crypto import CredentialCipher
from plugin_server.db import email_outbox, outbox
from plugin_server.db.engine import make_engine, make_session_factory
from plugin_server.db.unit_of_work import UnitOfWork
from plugin_server.jobs import Dispatcher, InlineDispatcher, RQDispatcher
from plugin_server.platforms.base import ShopPlatform
from plugin_server.platforms.shopify import ShopifyClient
from plugin_server.platforms.woocommerce import WooCommerceClient
from plugin_server.services import summary_cache
from plugin_server.services.shops import ShopDirectory
from plugin_server.services.storefront import StorefrontShops
from plugin_server.services.summary_cache import SummaryCache
from plugin_server.settings import Settings

if TYPE_CHECKING:
    from redis import Redis

logger = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


DEMO_CLOCK_FILE = "demo-clock-offset"


class DemoClock:
    """The embedded default's clock: real time plus the offset that `loyalty simulate
    advance` keeps in the instance folder, so the server, its ticker and the CLI all see
    the same moved time (a pending period can be watched ending). Development only."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def offset(self) -> timedelta:
        try:
            return timedelta(seconds=float(self.path.read_text()))
        except (OSError, ValueError):
            return timedelta()

    def advance(self, by: timedelta) -> timedelta:
        moved = self.offset() + by
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(str(moved.total_seconds()))
        return moved

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset()


@dataclass
class Container:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    cipher: CredentialCipher
    shops: ShopDirectory
    storefront_shops: StorefrontShops
    redis: Redis | None
    clock: Callable[[], datetime] = utc_now
    # The signed-in storefront summaries of this process (None: not cached; no Redis).
    summary_cache: SummaryCache | None = None
    dispatcher: Dispatcher = field(init=False)
    # Platform clients by platform name: patient ones for jobs, and ones that give up after
    # ~2 s for the attempt made while the shopper waits (a slow platform leaves the
    # redemption pending for a job to finish).
    platforms: Mapping[str, ShopPlatform] = field(default_factory=dict)
    quick_platforms: Mapping[str, ShopPlatform] = field(default_factory=dict)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.session_factory)

    def platform_clients(self, *, quick: bool = False) -> Mapping[str, ShopPlatform]:
        return self.quick_platforms if quick else self.platforms

    def close(self) -> None:
        # An in-process webhook delivery still running finishes first (its attempts are
        # bounded by the timeouts), so it never outlives the engine it uses.
        for name in ("join_webhooks", "join_emails"):
            join = getattr(self.dispatcher, name, None)
            if join is not None:
                join(timeout=60)
        self.engine.dispose()
        if self.redis is not None:
            self.redis.close()


def bootstrap(
    settings: Settings,
    *,
    redis: Redis | None = None,
    clock: Callable[[], datetime] | None = None,
    dispatcher: Dispatcher | None = None,
) -> Container:
    if clock is None and settings.development:
        clock = DemoClock(settings.instance_path / DEMO_CLOCK_FILE)
    engine = make_engine(settings.database_url)
    session_factory = make_session_factory(engine)
    cipher = CredentialCipher(settings.secret_key)
    if redis is None and settings.redis_url:
        from redis import Redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        # Fail fast: a webhook request that wakes a drain must never wait on a dead Redis
        # (Shopify gives up after 5 s; the receipt is already stored and the scheduler
        # wakes a drain later). RQ workers raise the socket timeout they need themselves.
        redis = Redis.from_url(
            settings.redis_url,
            socket_connect_timeout=0.5,
            socket_timeout=2,
            retry=Retry(NoBackoff(), 1),
        )
    container = Container(
        settings=settings,
        engine=engine,
        session_factory=session_factory,
        cipher=cipher,
        shops=ShopDirectory(session_factory, cipher, settings.shop_cache_seconds),
        storefront_shops=StorefrontShops(
            session_factory, settings.shop_cache_seconds, clock=clock or utc_now
        ),
        redis=redis,
        clock=clock or utc_now,
        platforms={"shopify": ShopifyClient(), "woocommerce": WooCommerceClient()},
        quick_platforms={
            "shopify": ShopifyClient(timeout_s=2.0, max_retries=0, max_throttle_waits=0),
            "woocommerce": WooCommerceClient(timeout_s=2.0, max_retries=0, max_retry_after_s=0),
        },
    )
    if dispatcher is None:
        dispatcher = (
            RQDispatcher(redis, debounce_s=settings.wake_debounce_s)
            if redis is not None
            else InlineDispatcher(container)
        )
    container.dispatcher = dispatcher
    _wake_deliveries_after_commit(container)
    if redis is not None:
        # Every process tracks its writes (workers and the CLI write what summaries show);
        # the cache fills only where summaries are served.
        versions = summary_cache.Versions(redis)
        summary_cache.track_writes(engine, versions)
        summary_cache.track_orm_writes(session_factory, summary_cache.member_models())
        if settings.summary_cache_seconds > 0:
            container.summary_cache = SummaryCache(settings.summary_cache_seconds)
    return container


def _wake_deliveries_after_commit(container: Container) -> None:
    """A transaction that queued webhook deliveries (db/outbox.py) wakes a delivery worker
    once it has committed, never before; a rolled-back one wakes nothing."""

    @event.listens_for(container.session_factory, "after_commit")
    def _committed(session: Session) -> None:
        if session.info.pop(outbox.PUBLISHED, False):
            try:
                container.dispatcher.deliver_webhooks()
            except Exception:
                # Committed already: the scheduler's tick finds the deliveries.
                logger.exception("could not wake webhook delivery")
        if session.info.pop(email_outbox.QUEUED, False):
            try:
                container.dispatcher.send_emails()
            except Exception:
                # Committed already: the scheduler's tick finds the emails.
                logger.exception("could not wake email sending")

    @event.listens_for(container.session_factory, "after_rollback")
    def _rolled_back(session: Session) -> None:
        session.info.pop(outbox.PUBLISHED, None)
        session.info.pop(email_outbox.QUEUED, None)
