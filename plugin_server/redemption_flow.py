"""Redeeming as the shopper experiences it: points taken, then the code within ~2 s or pending.

Shared by the admin API and the storefront widget, so both give the same guarantees.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from plugin_server import jobs
from plugin_server.platforms.base import PlatformError
from plugin_server.services import redemptions

if TYPE_CHECKING:
    from plugin_server.bootstrap import Container

logger = logging.getLogger(__name__)


def redeem_and_issue(
    container: Container,
    shop_id: int,
    customer_ref: str,
    *,
    reward_id: Any,
    points: Any,
    idempotency_key: str | None,
) -> tuple[dict[str, Any], bool]:
    """Take the points (one transaction), then ask the platform for the code once, quickly.

    If the platform is slow, throttled or down, the redemption stays `pending` and a job
    finishes it; the caller polls `GET /redemptions/<id>`. A repeated Idempotency-Key
    returns the redemption as it is now.
    """
    out, created = redemptions.redeem(
        container.uow(),
        shop_id,
        customer_ref,
        reward_id=reward_id,
        points=points,
        idempotency_key=idempotency_key,
        now=container.clock(),
        supported_platforms=tuple(container.platforms),
    )
    if out["status"] != redemptions.PENDING:
        return out, created
    # Only after the commit above: the code is never asked for before the points are taken.
    try:
        jobs.run_issue(container, out["id"], quick=True)
    except PlatformError as exc:
        logger.info("redemption left pending: %s", exc.code, extra={"redemption_id": out["id"]})
        container.dispatcher.issue_later(out["id"])
    return redemptions.get_redemption(container.uow(), shop_id, out["id"]), created
