"""Collections (Shopify) and product categories (WooCommerce) that order rules name.

Order webhooks carry only product ids per line, so which products a collection holds comes
from the store's API and is kept per shop; the order rules read that copy when an order is
paid. Until a collection's first successful sync its copy is empty: it matches no products,
so a campaign on it pays no bonus on them and an exclusion by it excludes nothing yet (a
rule's product_ids still apply). The rule view shows each collection's sync state, so the
merchant sees a collection that is still pending or failing.

Everything here is pure: ids, sync states, and the products a rule's collections hold.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from plugin_server.domain.errors import ValidationFailed

MAX_COLLECTIONS = 20  # per rule: each one is a sync against the store's API
# A collection in use is fetched again this long after its last successful sync...
REFRESH_EVERY = timedelta(hours=6)
# ...and, after a failed attempt, tried again no sooner than this.
RETRY_AFTER = timedelta(minutes=30)
# A larger collection is refused rather than half-synced (its error says so).
MAX_COLLECTION_PRODUCTS = 50_000
_NUMERIC = re.compile(r"[1-9][0-9]{0,19}")
_SHOPIFY_GID = re.compile(r"gid://shopify/Collection/([1-9][0-9]{0,19})")


class SyncStatus(StrEnum):
    PENDING = "pending"  # never synced: matches no products yet
    SYNCED = "synced"  # the last attempt succeeded
    FAILED = "failed"  # the last attempt failed: the products of the last success still count


def collection_ids(value: Any, field: str = "collection_ids") -> list[str]:
    """Collection (Shopify) or category (WooCommerce) ids as numeric strings, each once, in
    the order given; a Shopify GraphQL id (gid://shopify/Collection/N) becomes N."""
    if not isinstance(value, list):
        raise ValidationFailed(f"{field} must be a list of collection ids", field=field)
    if len(value) > MAX_COLLECTIONS:
        raise ValidationFailed(f"{field} holds at most {MAX_COLLECTIONS} ids", field=field)
    out: list[str] = []
    for item in value:
        text = str(item).strip() if isinstance(item, (int, str)) else ""
        gid = _SHOPIFY_GID.fullmatch(text)
        if gid:
            text = gid.group(1)
        if isinstance(item, bool) or not _NUMERIC.fullmatch(text):
            raise ValidationFailed(f"{field}: {item!r} is not a collection id", field=field)
        if text not in out:
            out.append(text)
    return out


def product_ref_from_gid(node_id: str) -> str:
    """A Shopify product's id as order webhooks carry it (the number of its GraphQL id)."""
    return node_id.rsplit("/", 1)[-1]


@dataclass(frozen=True, slots=True)
class SyncState:
    """What the shop's copy of one collection is worth right now."""

    synced_at: datetime | None
    last_attempt_at: datetime | None
    last_error: str | None

    @property
    def status(self) -> SyncStatus:
        if self.last_error is not None:
            return SyncStatus.FAILED
        return SyncStatus.SYNCED if self.synced_at is not None else SyncStatus.PENDING

    def is_due(self, now: datetime) -> bool:
        """Whether the scheduler should fetch it again: never synced or synced more than
        REFRESH_EVERY ago, and no attempt within RETRY_AFTER (so a failing store is not
        asked every tick)."""
        if self.synced_at is not None and self.synced_at > now - REFRESH_EVERY:
            return self.last_error is not None and self._may_retry(now)
        return self._may_retry(now)

    def _may_retry(self, now: datetime) -> bool:
        return self.last_attempt_at is None or self.last_attempt_at <= now - RETRY_AFTER


def products_of(
    collections: Iterable[str], members: Mapping[str, frozenset[str]]
) -> frozenset[str]:
    """The products of `collections` as the shop's copy holds them (`members`: collection id
    -> product ids); a collection missing from it (never synced) holds none."""
    out: set[str] = set()
    for collection in collections:
        out |= members.get(collection, frozenset())
    return frozenset(out)
