"""A guest's points joining the account later registered with the same email.

In a shop where guests earn, a guest checkout earns on a member of its own,
"guest:<email>" (emails are lower-cased by the webhook normalisers). When an account
with that email first appears (an order or customer webhook carrying a customer id), the
guest's balance moves to it, exactly once, in the transaction that creates the account:

- one debit on the guest and one credit on the account per expiry batch still holding
  points (spending and expiry take the oldest first, as `services.expiry` does), each
  dated (`available_at`) as its batch, so pending points stay pending until the day they
  were due and moved points expire when they would have on the guest;
- idempotency keys name the guest and the batch, so a retried webhook or a concurrent
  one never moves the points twice;
- only the first account with the email gets them: a second account registered with an
  email some account already has finds that account and moves nothing (guest points
  earned after the merge stay with the guest, whose history shows where the rest went).
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from plugin_server.db import repositories
from plugin_server.db.models import Customer, LedgerEntry, Shop
from plugin_server.domain import expiry as expiry_rules
from plugin_server.domain.ledger import EntryKind
from plugin_server.services import expiry

logger = logging.getLogger(__name__)

GUEST_PREFIX = "guest:"


class MergeConflict(Exception):
    """Another transaction moved these points: roll back; the retry finds them moved."""


def lock_guest_for_new_account(
    session: Session, shop: Shop, customer_ref: str | None, email: str | None
) -> Customer | None:
    """The guest whose points a new account with this email would take, row-locked; None
    when guests do not earn, the account already exists or no guest has the email.

    Called before the account's own row is written: the guest's row (the older one) is
    locked first, as every other writer that takes both locks them in id order."""
    if not (shop.guests_earn and customer_ref and email):
        return None
    if repositories.customer_by_ref(session, shop.id, customer_ref) is not None:
        return None  # not the account's first appearance
    return session.scalars(
        select(Customer)
        .where(Customer.shop_id == shop.id, Customer.customer_ref == GUEST_PREFIX + email)
        .with_for_update()
    ).one_or_none()


def merge_guest(
    session: Session, shop: Shop, guest: Customer, account: Customer, *, now: datetime
) -> list[int]:
    """Move the locked `guest`'s points to the new `account` (see the module docstring);
    the ids of the entries written, none when there is nothing to move or another account
    with the email was there first. Runs inside the caller's transaction."""
    assert guest.email is not None
    if account.customer_ref.startswith(GUEST_PREFIX) or account.email != guest.email:
        return []
    first_account = session.scalar(
        select(
            exists().where(
                Customer.shop_id == shop.id,
                Customer.email == guest.email,
                Customer.id != account.id,
                ~Customer.customer_ref.startswith(GUEST_PREFIX),
            )
        )
    )
    if first_account:
        return []
    merged_before = session.scalar(
        select(
            exists().where(
                LedgerEntry.shop_id == shop.id,
                LedgerEntry.customer_id == guest.id,
                LedgerEntry.kind == EntryKind.GUEST_MERGE_OUT.value,
            )
        )
    )
    if merged_before:
        return []
    batches = _movable(session, shop.id, guest.id, now)
    ids: list[int] = []
    for n, batch in enumerate(batches):
        ids += _move(session, shop, guest, account, batch, n, now=now)
    if ids:
        logger.info(
            "guest points merged into account",
            extra={
                "shop_id": shop.id,
                "guest_id": guest.id,
                "customer_id": account.id,
                "points": sum(b.points for b in batches),
            },
        )
    return ids


def _movable(
    session: Session, shop_id: int, guest_id: int, now: datetime
) -> list[expiry_rules.Batch]:
    """The guest's batches with points left, never more than the balance holds (available
    and pending alike)."""
    bal = repositories.balance(session, shop_id, guest_id, now)
    room = {True: max(0, bal.spendable), False: max(0, bal.pending)}
    out = []
    # Newest first, so a balance smaller than its batches (never expected) keeps the
    # points that expire last.
    for batch in sorted(
        expiry.batches_left(session, shop_id, guest_id), key=lambda b: b.available_at, reverse=True
    ):
        available = batch.available_at <= now
        points = min(batch.points, room[available])
        room[available] -= points
        if points > 0:
            out.append(expiry_rules.Batch(points, batch.available_at))
    return sorted(out, key=lambda b: b.available_at)


def _move(
    session: Session,
    shop: Shop,
    guest: Customer,
    account: Customer,
    batch: expiry_rules.Batch,
    n: int,
    *,
    now: datetime,
) -> list[int]:
    key = f"guest-merge:{guest.id}:{n}"
    entries = [
        {
            "shop_id": shop.id,
            "customer_id": guest.id,
            "points": -batch.points,
            "kind": EntryKind.GUEST_MERGE_OUT.value,
            "reason": f"Moved to the account {account.customer_ref} registered with this email",
            "source_type": "customer",
            "source_ref": account.customer_ref,
            "idempotency_key": f"{key}:from",
            "created_at": now,
            "available_at": batch.available_at,
        },
        {
            "shop_id": shop.id,
            "customer_id": account.id,
            "points": batch.points,
            "kind": EntryKind.GUEST_MERGE_IN.value,
            "reason": "Points earned as a guest with this email before registering",
            "source_type": "customer",
            "source_ref": guest.customer_ref,
            "idempotency_key": f"{key}:into",
            "created_at": now,
            "available_at": batch.available_at,
        },
    ]
    ids = []
    for entry in entries:
        entry_id = repositories.insert_ignoring_conflict(
            session, LedgerEntry, entry, ("shop_id", "idempotency_key")
        )
        if entry_id is None:
            raise MergeConflict(f"ledger entry {entry['idempotency_key']} already exists")
        ids.append(entry_id)
    return ids
