"""Manual point adjustments by the merchant, recorded in the ledger like everything else."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select

from plugin_server.db import repositories
from plugin_server.db.models import Customer, LedgerEntry
from plugin_server.db.unit_of_work import UnitOfWork
from plugin_server.domain.errors import CustomerNotFound, IdempotencyKeyReused, ValidationFailed
from plugin_server.domain.ledger import EntryKind
from plugin_server.services.customers import entry_view

MAX_ADJUSTMENT = 1_000_000
_KEY = re.compile(r"[\x21-\x7e]{1,100}")


def adjust_points(
    uow: UnitOfWork,
    shop_id: int,
    customer_ref: str,
    *,
    points: Any,
    reason: Any,
    idempotency_key: str | None,
    now: datetime,
) -> tuple[dict[str, Any], bool]:
    """Append an adjustment entry; (entry, created). A repeated Idempotency-Key returns the
    first entry instead of adding another, and refuses a key reused for something else.

    Deductions are recorded in full even past zero: the balance then shows what is owed.
    """
    if (
        isinstance(points, bool)
        or not isinstance(points, int)
        or points == 0
        or abs(points) > MAX_ADJUSTMENT
    ):
        raise ValidationFailed(
            f"points must be a non-zero whole number within ±{MAX_ADJUSTMENT}", field="points"
        )
    if not isinstance(reason, str) or not reason.strip() or len(reason.strip()) > 255:
        raise ValidationFailed("reason must be 1 to 255 characters", field="reason")
    if idempotency_key is not None and not _KEY.fullmatch(idempotency_key):
        raise ValidationFailed(
            "Idempotency-Key must be 1 to 100 printable characters", field="Idempotency-Key"
        )
    reason = reason.strip()
    key = f"adjustment:{idempotency_key or uuid.uuid4().hex}"
    with uow:
        # The customer's row lock, as redemptions and the expiry run take it: a deduction
        # never interleaves with an expiry computed from the balance before it.
        customer = uow.session.scalars(
            select(Customer)
            .where(Customer.shop_id == shop_id, Customer.customer_ref == customer_ref)
            .with_for_update()
        ).one_or_none()
        if customer is None:
            raise CustomerNotFound(f"no customer {customer_ref!r} in this shop")
        entry_id = repositories.insert_ignoring_conflict(
            uow.session,
            LedgerEntry,
            {
                "shop_id": shop_id,
                "customer_id": customer.id,
                "points": points,
                "kind": EntryKind.ADJUSTMENT.value,
                "reason": reason,
                "source_type": "merchant",
                "source_ref": key.removeprefix("adjustment:")[:64],
                "order_id": None,
                "idempotency_key": key,
                "created_at": now,
                "available_at": now,
            },
            ("shop_id", "idempotency_key"),
        )
        entry = uow.session.scalars(
            select(LedgerEntry).where(
                LedgerEntry.shop_id == shop_id, LedgerEntry.idempotency_key == key
            )
        ).one()
        if entry_id is None and (
            entry.customer_id != customer.id or entry.points != points or entry.reason != reason
        ):
            raise IdempotencyKeyReused()
        out = entry_view(entry, now)
        out["balance"] = repositories.balance(uow.session, shop_id, customer.id, now).spendable
        uow.commit()
    return out, entry_id is not None
