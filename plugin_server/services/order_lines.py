"""Recording what orders bought (`order_lines`), for the offers recommender.

Lines are facts about a paid order: written once, in the transaction that records the
order, and never changed afterwards (a refund is its own fact, kept in `order_refunds`).
Lines without a product (custom items, tips) are not kept: nothing could be recommended
from them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.orm import Session

from plugin_server.db import repositories
from plugin_server.db.models import OrderLine
from plugin_server.domain import orders as domain

TITLE_LENGTH = 255


def record_lines(
    session: Session,
    shop_id: int,
    *,
    order_ref: str,
    order_id: int | None,
    customer_id: int | None,
    lines: Iterable[domain.OrderLine],
    currency: str,
    ordered_at: datetime,
    now: datetime,
) -> int:
    """Store the order's product lines inside the caller's transaction; how many were new.
    Safe to repeat: a line already stored (same order and line ref) is left as it is."""
    rows = [
        {
            "shop_id": shop_id,
            "order_ref": order_ref,
            "order_id": order_id,
            "customer_id": customer_id,
            "line_ref": line.line_ref,
            "product_ref": line.product_ref,
            "variant_ref": line.variant_ref,
            "title": line.title[:TITLE_LENGTH],
            "quantity": line.quantity,
            "amount": line.subtotal,
            "currency": currency,
            "ordered_at": ordered_at,
            "created_at": now,
        }
        for line in lines
        if line.product_ref and line.quantity > 0
    ]
    if not rows:
        return 0
    return repositories.insert_many_ignoring_conflict(
        session, OrderLine, rows, ("shop_id", "order_ref", "line_ref")
    )
