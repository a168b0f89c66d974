"""Each shop's copy of the collections (Shopify) and product categories (WooCommerce) that
its order rules name: which products each holds, and how fresh that is.

A sync reads the whole collection from the store's API outside any transaction, then
replaces the copy in one short transaction (only the difference is written). A failed sync
changes nothing but the collection's error, so the products of the last success keep
counting. Orders are matched against the copy as it is when they are paid (see
`plugin_server.domain.collections` for what a collection never synced matches).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from plugin_server.db import repositories
from plugin_server.db.models import Collection, CollectionProduct, EarningRule, Shop
from plugin_server.db.unit_of_work import UnitOfWork
from plugin_server.domain.collections import (
    REFRESH_EVERY,
    RETRY_AFTER,
    SyncState,
    collection_ids,
)
from plugin_server.domain.earning_rules import RuleKind
from plugin_server.domain.errors import CollectionNotFound, ShopNotFound
from plugin_server.platforms.base import (
    CollectionMembers,
    PlatformError,
    ShopCredentials,
    ShopPlatform,
)

logger = logging.getLogger(__name__)

_CHUNK = 500  # ids per IN list: well under SQLite's bound-parameter limit
_ORDER_RULES = (RuleKind.BONUS.value, RuleKind.EXCLUSION.value)


def _state(row: Collection) -> SyncState:
    return SyncState(row.synced_at, row.last_attempt_at, row.last_error)


def view(ref: str, row: Collection | None) -> dict[str, Any]:
    """A collection as the merchant sees it in a rule: its sync state and product count."""
    if row is None:
        return {
            "id": ref,
            "title": None,
            "status": "pending",
            "product_count": 0,
            "synced_at": None,
            "last_attempt_at": None,
            "error": None,
        }
    return {
        "id": ref,
        "title": row.title,
        "status": _state(row).status.value,
        "product_count": row.product_count,
        "synced_at": row.synced_at.isoformat() if row.synced_at else None,
        "last_attempt_at": row.last_attempt_at.isoformat() if row.last_attempt_at else None,
        "error": row.last_error,
    }


def rows(session: Session, shop_id: int, refs: Iterable[str]) -> dict[str, Collection]:
    """The shop's state rows for these collection ids (missing ones are not registered)."""
    wanted = sorted(set(refs))
    out: dict[str, Collection] = {}
    for start in range(0, len(wanted), _CHUNK):
        for row in session.scalars(
            select(Collection).where(
                Collection.shop_id == shop_id,
                Collection.collection_ref.in_(wanted[start : start + _CHUNK]),
            )
        ):
            out[row.collection_ref] = row
    return out


def register(session: Session, shop_id: int, refs: Sequence[str], *, now: datetime) -> list[str]:
    """Make sure each collection has a state row (in the caller's transaction); the ones
    that want a sync now: never synced, or failing."""
    if not refs:
        return []
    repositories.insert_many_ignoring_conflict(
        session,
        Collection,
        [
            {"shop_id": shop_id, "collection_ref": ref, "product_count": 0, "created_at": now}
            for ref in refs
        ],
        ("shop_id", "collection_ref"),
    )
    found = rows(session, shop_id, refs)
    return [
        ref
        for ref in refs
        if ref not in found or found[ref].synced_at is None or found[ref].last_error is not None
    ]


def members(
    session: Session, shop_id: int, refs: Iterable[str], product_refs: Iterable[str]
) -> dict[str, frozenset[str]]:
    """Which of `product_refs` each collection holds in the shop's copy (collection id ->
    product ids); what an order needs to be matched, in one query."""
    wanted, products = sorted(set(refs)), sorted(set(product_refs))
    if not wanted or not products:
        return {}
    found: dict[str, set[str]] = {}
    for start in range(0, len(products), _CHUNK):
        for ref, product in session.execute(
            select(Collection.collection_ref, CollectionProduct.product_ref)
            .join(CollectionProduct, CollectionProduct.collection_id == Collection.id)
            .where(
                Collection.shop_id == shop_id,
                CollectionProduct.shop_id == shop_id,
                Collection.collection_ref.in_(wanted),
                CollectionProduct.product_ref.in_(products[start : start + _CHUNK]),
            )
        ):
            found.setdefault(ref, set()).add(product)
    return {ref: frozenset(items) for ref, items in found.items()}


def list_collections(uow: UnitOfWork, shop_id: int) -> list[dict[str, Any]]:
    """Every collection the shop's rules have named, with its sync state."""
    with uow:
        return [
            view(row.collection_ref, row)
            for row in uow.session.scalars(
                select(Collection).where(Collection.shop_id == shop_id).order_by(Collection.id)
            )
        ]


def get_collection(uow: UnitOfWork, shop_id: int, ref: str) -> dict[str, Any]:
    with uow:
        return view(ref, rows(uow.session, shop_id, [ref]).get(ref))


def require_known(uow: UnitOfWork, shop_id: int, ref: str) -> None:
    """CollectionNotFound unless a rule of the shop has named the collection."""
    with uow:
        if ref not in rows(uow.session, shop_id, [ref]):
            raise CollectionNotFound(f"no rule of this shop names collection {ref}")


def _live_refs(session: Session, now: datetime, shop_id: int | None = None) -> set[tuple[int, str]]:
    """(shop, collection) pairs named by rules that can still pay or exclude: active order
    rules of active shops, campaigns not ended yet (those not started yet included)."""
    query = (
        select(EarningRule.shop_id, EarningRule.collection_ids)
        .join(Shop, Shop.id == EarningRule.shop_id)
        .where(
            Shop.active.is_(True),
            EarningRule.kind.in_(_ORDER_RULES),
            EarningRule.archived_at.is_(None),
            EarningRule.collection_ids.is_not(None),
            or_(EarningRule.ends_at.is_(None), EarningRule.ends_at > now),
        )
    )
    if shop_id is not None:
        query = query.where(EarningRule.shop_id == shop_id)
    return {
        (shop, ref) for shop, text in session.execute(query) for ref in json.loads(text or "[]")
    }


def live_refs(uow: UnitOfWork, shop_id: int, *, now: datetime) -> list[str]:
    """The collections the shop's live rules name."""
    with uow:
        return sorted(ref for _, ref in _live_refs(uow.session, now, shop_id))


def claim_due(uow: UnitOfWork, *, now: datetime, limit: int = 200) -> dict[int, list[str]]:
    """The collections in use that the scheduler should sync again (shop -> ids): never
    synced, synced more than REFRESH_EVERY ago, or failing, and not attempted within
    RETRY_AFTER. Claiming marks the attempt, so other schedulers and the next ticks skip
    them for RETRY_AFTER (run the same tick twice: nothing is claimed twice)."""
    with uow:
        session = uow.session
        live = _live_refs(session, now)
        if not live:
            return {}
        shops = sorted({shop for shop, _ in live})
        known = {
            (shop, ref)
            for shop, ref in session.execute(
                select(Collection.shop_id, Collection.collection_ref).where(
                    Collection.shop_id.in_(shops)
                )
            )
        }
        for shop_id in sorted({shop for shop, _ in live - known}):
            # Rules register their collections when saved; this only repairs a gap.
            register(session, shop_id, sorted(r for s, r in live - known if s == shop_id), now=now)
        candidates = session.scalars(
            select(Collection)
            .where(
                Collection.shop_id.in_(shops),
                or_(
                    Collection.synced_at.is_(None),
                    Collection.synced_at <= now - REFRESH_EVERY,
                    Collection.last_error.is_not(None),
                ),
                or_(
                    Collection.last_attempt_at.is_(None),
                    Collection.last_attempt_at <= now - RETRY_AFTER,
                ),
            )
            .order_by(Collection.id)
            .with_for_update(skip_locked=True)
        )
        claimed: dict[int, list[str]] = {}
        count = 0
        for row in candidates:
            if (row.shop_id, row.collection_ref) not in live or not _state(row).is_due(now):
                continue
            row.last_attempt_at = now
            claimed.setdefault(row.shop_id, []).append(row.collection_ref)
            count += 1
            if count >= limit:
                break
        if claimed or live - known:
            uow.commit()
    return claimed


def sync_collection(
    uow_factory: Callable[[], UnitOfWork],
    platforms: Mapping[str, ShopPlatform],
    shop_id: int,
    collection_ref: str,
    *,
    credentials: Callable[[int], ShopCredentials],
    now: Callable[[], datetime],
    quick: bool = False,
    max_pages: int | None = None,
) -> dict[str, Any] | None:
    """Fetch one collection from the store and make the shop's copy match it; its view.

    Any collection id of the shop may be synced (the operator's CLI does so before a rule
    names it). On a platform error the copy is left as it was and the error recorded; a
    `quick` attempt (made while the merchant waits) records only errors that retrying
    cannot fix, and returns None for the others so a job tries again. Idempotent: a sync
    that started before the copy's last successful one never overwrites it."""
    [ref] = collection_ids([collection_ref])
    with uow_factory() as uow:
        shop = uow.session.get(Shop, shop_id)
        if shop is None:
            raise ShopNotFound(f"no shop {shop_id}")
        platform = platforms[shop.platform]
        active = shop.active
        register(uow.session, shop_id, [ref], now=now())
        uow.commit()
    if not active:
        # An uninstalled shop gets no further API calls; its copy stays as it was.
        return _record_failure(
            uow_factory, shop_id, ref, "shop_inactive: the shop uninstalled the app", now=now()
        )
    started = now()
    try:
        fetched = platform.collection_products(credentials(shop_id), ref, max_pages=max_pages)
    except PlatformError as exc:
        if quick and exc.retryable:
            logger.info(
                "collection sync left to a job: %s",
                exc.code,
                extra={"shop_id": shop_id, "collection": ref},
            )
            return None
        logger.warning(
            "collection sync failed: %s",
            exc.code,
            extra={"shop_id": shop_id, "collection": ref},
        )
        return _record_failure(uow_factory, shop_id, ref, f"{exc.code}: {exc}", now=now())
    return _replace(uow_factory, shop_id, ref, fetched, started=started, now=now())


def _locked(session: Session, shop_id: int, ref: str) -> Collection:
    return session.scalars(
        select(Collection)
        .where(Collection.shop_id == shop_id, Collection.collection_ref == ref)
        .with_for_update()
    ).one()


def _record_failure(
    uow_factory: Callable[[], UnitOfWork], shop_id: int, ref: str, error: str, *, now: datetime
) -> dict[str, Any]:
    with uow_factory() as uow:
        row = _locked(uow.session, shop_id, ref)
        row.last_error, row.last_attempt_at = error[:2000], now
        out = view(ref, row)
        uow.commit()
    return out


def _replace(
    uow_factory: Callable[[], UnitOfWork],
    shop_id: int,
    ref: str,
    fetched: CollectionMembers,
    *,
    started: datetime,
    now: datetime,
) -> dict[str, Any]:
    with uow_factory() as uow:
        session = uow.session
        row = _locked(session, shop_id, ref)
        if row.synced_at is not None and row.synced_at > started:
            # A sync that started later has already written a newer copy.
            out = view(ref, row)
            uow.commit()
            return out
        have = set(
            session.scalars(
                select(CollectionProduct.product_ref).where(
                    CollectionProduct.shop_id == shop_id, CollectionProduct.collection_id == row.id
                )
            )
        )
        want = set(fetched.product_ids)
        gone = sorted(have - want)
        for start in range(0, len(gone), _CHUNK):
            session.execute(
                delete(CollectionProduct).where(
                    CollectionProduct.shop_id == shop_id,
                    CollectionProduct.collection_id == row.id,
                    CollectionProduct.product_ref.in_(gone[start : start + _CHUNK]),
                )
            )
        repositories.insert_many_ignoring_conflict(
            session,
            CollectionProduct,
            [
                {"shop_id": shop_id, "collection_id": row.id, "product_ref": product}
                for product in sorted(want - have)
            ],
            ("shop_id", "collection_id", "product_ref"),
        )
        row.title = (fetched.title or "")[:255] or None
        row.product_count = len(want)
        row.synced_at, row.last_attempt_at, row.last_error = started, now, None
        out = view(ref, row)
        uow.commit()
    logger.info(
        "collection synced",
        extra={
            "shop_id": shop_id,
            "collection": ref,
            "products": len(want),
            "added": len(want - have),
            "removed": len(gone),
        },
    )
    return out
