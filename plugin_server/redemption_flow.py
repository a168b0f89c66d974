"""Redeeming as the shopper experiences it: points taken, then the code within ~2 s or pending.

Shared by the admin API and the storefront widget, so both give the same guarantees.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from plugin_server import jobs
from plugin_server.platforms.base import PlatformError
from plugin_server.services import redemptions, referrals

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
    issue_quickly(container, out["id"])
    return redemptions.get_redemption(container.uow(), shop_id, out["id"]), created


def issue_quickly(container: Container, redemption_id: int) -> None:
    """Ask the platform for a committed redemption's code once, within the request; a job
    finishes it if the platform is slow, throttled or down."""
    try:
        jobs.run_issue(container, redemption_id, quick=True)
    except PlatformError as exc:
        logger.info("redemption left pending: %s", exc.code, extra={"redemption_id": redemption_id})
        container.dispatcher.issue_later(redemption_id)


def claim_referral(
    container: Container,
    shop_id: int,
    code: str,
    *,
    customer_ref: str | None,
    email: str | None,
    address: str | None,
    device: str | None,
) -> tuple[dict[str, Any], bool]:
    """A friend's claim (one transaction), then their code from the store as a redemption's:
    within ~2 s, or `pending` and a job finishes it (claiming again shows it)."""
    result = referrals.claim(
        container.uow(),
        shop_id,
        code,
        customer_ref=customer_ref,
        email=email,
        address=address,
        device=device,
        now=container.clock(),
    )
    if result.redemption_id is None:
        return result.view, result.created
    issue_quickly(container, result.redemption_id)
    found = redemptions.get_redemption(container.uow(), shop_id, result.redemption_id)
    view = dict(result.view)
    view.update(status=found["status"], code=found["code"])
    return view, result.created


def review_referral(
    container: Container, shop_id: int, referral_id: int, *, approve: bool, note: str | None
) -> dict[str, Any]:
    """The merchant's decision; an advocate's discount code it pays is issued after it."""
    out, issue = referrals.review(
        container.uow(), shop_id, referral_id, approve=approve, note=note, now=container.clock()
    )
    if issue is not None:
        container.dispatcher.issue_later(issue)
    return out
