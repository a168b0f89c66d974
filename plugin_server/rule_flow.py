"""Saving an order rule as the merchant experiences it: the rule at once, and the
collections it names synced from the store within ~2 s, or in the background.

The admin API's rule routes and the CLI share this, so both give the same guarantees.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from plugin_server import jobs
from plugin_server.domain import collections as domain_collections
from plugin_server.services import collections, earning_rules

if TYPE_CHECKING:
    from plugin_server.bootstrap import Container

logger = logging.getLogger(__name__)

# The whole quick attempt, across the rule's collections; what is left goes to a job.
QUICK_BUDGET_S = 3.0


def create_rule(container: Container, shop_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """Create the rule (one transaction), then sync its new collections once, quickly."""
    out, to_sync = earning_rules.create_rule(container.uow(), shop_id, body, now=container.clock())
    return _after_save(container, shop_id, out, to_sync)


def update_rule(
    container: Container, shop_id: int, rule_id: int, changes: dict[str, Any]
) -> dict[str, Any]:
    """Change the rule (one transaction), then sync collections it names that never
    synced (or are failing) once, quickly."""
    out, to_sync = earning_rules.update_rule(
        container.uow(), shop_id, rule_id, changes, now=container.clock()
    )
    return _after_save(container, shop_id, out, to_sync)


def _after_save(
    container: Container, shop_id: int, out: dict[str, Any], to_sync: list[str]
) -> dict[str, Any]:
    if not to_sync:
        return out
    sync_quickly(container, shop_id, to_sync)
    return earning_rules.get_rule(container.uow(), shop_id, out["id"])


def sync_quickly(container: Container, shop_id: int, refs: Sequence[str]) -> None:
    """Only after the rule's commit: sync each collection once within the request (quick
    clients, a few pages at most, QUICK_BUDGET_S in all); a job finishes the rest. An
    error retrying cannot fix (no such collection) shows on the rule at once."""
    deadline = time.monotonic() + QUICK_BUDGET_S
    left = [
        ref
        for ref in refs
        if time.monotonic() >= deadline or _quick_sync(container, shop_id, ref) is None
    ]
    if left:
        container.dispatcher.sync_later(shop_id, left)


def sync_now(
    container: Container, shop_id: int, collection_ref: str
) -> tuple[dict[str, Any], bool]:
    """The merchant's "sync again": one quick attempt, else a job; (the collection's view,
    whether the attempt finished). CollectionNotFound unless a rule of the shop names it."""
    [ref] = domain_collections.collection_ids([collection_ref], "collection_id")
    collections.require_known(container.uow(), shop_id, ref)
    done = _quick_sync(container, shop_id, ref)
    if done is not None:
        return done, True
    container.dispatcher.sync_later(shop_id, [ref])
    return collections.get_collection(container.uow(), shop_id, ref), False


def _quick_sync(container: Container, shop_id: int, ref: str) -> dict[str, Any] | None:
    try:
        return collections.sync_collection(
            container.uow,
            container.platform_clients(quick=True),
            shop_id,
            ref,
            credentials=lambda shop_id: jobs.shop_credentials(container, shop_id),
            now=container.clock,
            quick=True,
            max_pages=jobs.QUICK_SYNC_PAGES,
        )
    except Exception:
        # The rule is saved; the merchant must not see this request fail for it.
        logger.exception("quick collection sync failed", extra={"shop_id": shop_id})
        return None
