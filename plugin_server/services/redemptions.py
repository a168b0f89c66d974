"""Redemptions: points in, a single-use platform discount code out.

Guarantees:
- The points are taken, under the customer's row lock, in the same transaction that records
  the redemption and its locally generated code; a balance that cannot cover the cost (or is
  negative) is refused. So concurrent redemptions never overdraw.
- The platform is asked for the code only after that commit, and always looks the code up
  before creating it, so a retry after a crash never makes a second code.
- If the platform definitively refuses, the points come back as a compensating entry.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin_server.crypto import CredentialCipher
from plugin_server.db import repositories
from plugin_server.db.models import Customer, LedgerEntry, Redemption, Reward, Shop
from plugin_server.db.unit_of_work import UnitOfWork
from plugin_server.domain.errors import (
    CustomerNotFound,
    IdempotencyKeyReused,
    InsufficientPoints,
    PlatformNotSupported,
    RedemptionNotCancellable,
    RedemptionNotFound,
    RewardNotFound,
    ShopInactive,
    TierRequired,
    ValidationFailed,
)
from plugin_server.domain.ledger import EntryKind
from plugin_server.domain.rewards import plan_discount
from plugin_server.platforms.base import (
    CodeTaken,
    DiscountSpec,
    IssuedDiscount,
    PlatformRejected,
    ShopCredentials,
    ShopPlatform,
)
from plugin_server.services import tiers
from plugin_server.services.rewards import definition

logger = logging.getLogger(__name__)

PENDING, ISSUED, USED, EXPIRED, FAILED, CANCELLED = (
    "pending",
    "issued",
    "used",
    "expired",
    "failed",
    "cancelled",
)
# No 0/O or 1/I: shoppers type these codes at checkout.
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_KEY = re.compile(r"[\x21-\x7e]{1,100}")


def new_code() -> str:
    return "LOYAL-" + "".join(secrets.choice(_ALPHABET) for _ in range(10))


def _decimal_or_none(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def view(r: Redemption, customer_ref: str) -> dict[str, Any]:
    discount = json.loads(r.discount)
    return {
        "id": r.id,
        "customer_id": customer_ref,
        "reward_id": r.reward_id,
        "points": r.points,
        "status": r.status,
        # The code is only worth showing once the platform has it.
        "code": r.code if r.status in (ISSUED, USED, EXPIRED) else None,
        "discount": discount,
        "expires_at": r.expires_at.isoformat(),
        "failure_reason": r.failure_reason,
        "created_at": r.created_at.isoformat(),
        "issued_at": r.issued_at.isoformat() if r.issued_at else None,
        "used_at": r.used_at.isoformat() if r.used_at else None,
        "used_order_id": r.used_order_ref,
    }


def redeem(
    uow: UnitOfWork,
    shop_id: int,
    customer_ref: str,
    *,
    reward_id: Any,
    points: Any,
    idempotency_key: str | None,
    now: datetime,
    supported_platforms: Collection[str] = ("shopify", "woocommerce"),
) -> tuple[dict[str, Any], bool]:
    """Take the points and record a pending redemption; (redemption, created).

    Raises InsufficientPoints (409) when the spendable balance cannot cover the cost, and
    IdempotencyKeyReused when a key comes back with a different request.
    """
    if reward_id is not None and (isinstance(reward_id, bool) or not isinstance(reward_id, int)):
        raise ValidationFailed("reward_id must be an integer", field="reward_id")
    if points is not None and (isinstance(points, bool) or not isinstance(points, int)):
        raise ValidationFailed("points must be a whole number", field="points")
    if reward_id is None and points is None:
        raise ValidationFailed("give reward_id, or points for a points-for-money reward")
    if idempotency_key is not None and not _KEY.fullmatch(idempotency_key):
        raise ValidationFailed(
            "Idempotency-Key must be 1 to 100 printable characters", field="Idempotency-Key"
        )
    fingerprint = hashlib.sha256(json.dumps([customer_ref, reward_id, points]).encode()).hexdigest()
    with uow:
        session = uow.session
        shop = session.get(Shop, shop_id)
        assert shop is not None
        if shop.platform not in supported_platforms:
            raise PlatformNotSupported(
                f"redemptions for {shop.platform} shops are not available yet"
            )
        if not shop.active:
            raise ShopInactive("the shop has uninstalled the app; redemptions are closed")
        # The row lock that serialises every redemption of this customer (on SQLite the
        # transaction already holds the write lock).
        customer = session.scalars(
            select(Customer)
            .where(Customer.shop_id == shop_id, Customer.customer_ref == customer_ref)
            .with_for_update()
        ).one_or_none()
        if customer is None:
            raise CustomerNotFound(f"no customer {customer_ref!r} in this shop")
        if idempotency_key is not None:
            earlier = session.scalars(
                select(Redemption).where(
                    Redemption.shop_id == shop_id, Redemption.idempotency_key == idempotency_key
                )
            ).one_or_none()
            if earlier is not None:
                if earlier.request_fingerprint != fingerprint:
                    raise IdempotencyKeyReused()
                return view(earlier, customer_ref), False
        reward = _pick_reward(session, shop_id, reward_id)
        if reward.min_tier_id is not None and not tiers.holds_at_least(
            session, shop_id, customer.id, reward.min_tier_id
        ):
            raise TierRequired(f"{reward.name} is for members of a higher tier")
        plan = plan_discount(definition(reward), points=points)
        balance = repositories.balance(session, shop_id, customer.id, now).spendable
        if balance < plan.points:
            raise InsufficientPoints(f"{plan.points} points needed, {max(balance, 0)} spendable")
        redemption = Redemption(
            shop_id=shop_id,
            customer_id=customer.id,
            reward_id=reward.id,
            points=plan.points,
            code=new_code(),
            status=PENDING,
            discount=json.dumps(
                {
                    "kind": plan.kind,
                    "title": plan.title,
                    "amount": None if plan.amount is None else f"{plan.amount:.2f}",
                    "currency": plan.currency,
                    "percent": None if plan.percent is None else f"{plan.percent:.2f}",
                    "min_subtotal": (
                        None if plan.min_subtotal is None else f"{plan.min_subtotal:.2f}"
                    ),
                    "product_ids": list(plan.product_ids),
                    "collection_ids": list(plan.collection_ids),
                }
            ),
            idempotency_key=idempotency_key,
            request_fingerprint=fingerprint,
            attempts=0,
            expires_at=now + timedelta(days=plan.valid_days),
            created_at=now,
            updated_at=now,
        )
        session.add(redemption)
        session.flush()
        repositories.insert_ignoring_conflict(
            session,
            LedgerEntry,
            _entry(
                redemption,
                points=-plan.points,
                kind=EntryKind.REDEEM,
                suffix="redeem",
                reason=plan.title,
                now=now,
            ),
            ("shop_id", "idempotency_key"),
        )
        out = view(redemption, customer_ref)
        uow.commit()
    return out, True


def _pick_reward(session: Any, shop_id: int, reward_id: int | None) -> Reward:
    stmt = select(Reward).where(Reward.shop_id == shop_id, Reward.archived_at.is_(None))
    if reward_id is not None:
        reward = session.scalars(stmt.where(Reward.id == reward_id)).one_or_none()
        if reward is None:
            raise RewardNotFound(f"no active reward {reward_id} in this shop")
        return reward
    reward = session.scalars(
        stmt.where(Reward.kind == "points_for_money").order_by(Reward.id)
    ).first()
    if reward is None:
        raise ValidationFailed("this shop has no points-for-money reward: give reward_id")
    return reward


def get_redemption(uow: UnitOfWork, shop_id: int, redemption_id: int) -> dict[str, Any]:
    with uow:
        row = uow.session.execute(
            select(Redemption, Customer.customer_ref)
            .join(Customer, Customer.id == Redemption.customer_id)
            .where(Redemption.shop_id == shop_id, Redemption.id == redemption_id)
        ).one_or_none()
        if row is None:
            raise RedemptionNotFound(f"no redemption {redemption_id} in this shop")
        return view(row[0], row[1])


def issue(
    uow_factory: Callable[[], UnitOfWork],
    cipher: CredentialCipher,
    platforms: Mapping[str, ShopPlatform],
    redemption_id: int,
    *,
    now: Callable[[], datetime],
    credentials: Callable[[int], ShopCredentials] | None = None,
) -> str:
    """Get the redemption's code created at the platform; its status afterwards.

    `credentials(shop_id)`, when given, supplies fresh credentials (refreshing an expiring
    token first); otherwise the stored ones are used as they are.

    Retries look the code up first, and a TAKEN answer means an earlier attempt of ours
    created it, so repeating this after a crash or timeout never creates a second code.
    A definitive refusal fails the redemption and gives the points back; retryable
    platform errors propagate (the caller retries later).
    """
    with uow_factory() as uow:
        row = uow.session.execute(
            select(Redemption, Shop, Customer)
            .join(Shop, Shop.id == Redemption.shop_id)
            .join(Customer, Customer.id == Redemption.customer_id)
            .where(Redemption.id == redemption_id)
        ).one_or_none()
        if row is None:
            raise RedemptionNotFound(f"no redemption {redemption_id}")
        redemption, shop, customer = row
        if redemption.status != PENDING:
            return redemption.status
        platform = platforms[shop.platform]
        creds = shop_credentials(cipher, shop)
        shop_active = shop.active
        d = json.loads(redemption.discount)
        spec = DiscountSpec(
            code=redemption.code,
            title=d["title"],
            kind=d["kind"],
            starts_at=redemption.created_at,
            ends_at=redemption.expires_at,
            amount=_decimal_or_none(d["amount"]),
            currency=d["currency"],
            percent=_decimal_or_none(d["percent"]),
            min_subtotal=_decimal_or_none(d["min_subtotal"]),
            customer_ref=None
            if customer.customer_ref.startswith(("guest:", "redacted:"))
            else customer.customer_ref,
            customer_email=customer.email,
            product_ids=tuple(d["product_ids"]),
            collection_ids=tuple(d["collection_ids"]),
        )
        code = redemption.code
        shop_id = shop.id
        # A first attempt goes straight to create (one round trip less while the shopper
        # waits): if an earlier attempt died mid-call, the code exists and TAKEN below
        # sends us to look it up. Every retry looks first.
        look_first = redemption.attempts > 0
    if not shop_active:
        # An uninstalled shop gets no further API calls: the points go back.
        _fail(uow_factory, redemption_id, "shop_inactive: the shop uninstalled the app", now=now())
        return FAILED
    try:
        if credentials is not None:
            creds = credentials(shop_id)
        issued = platform.find_discount_code(creds, code) if look_first else None
        if issued is None:
            try:
                issued = platform.create_discount_code(creds, spec)
            except CodeTaken:
                # Our own earlier attempt won a race with this one: the code is ours.
                issued = platform.find_discount_code(creds, code)
                if issued is None:
                    raise
    except PlatformRejected as exc:
        _fail(uow_factory, redemption_id, f"{exc.code}: {exc}", now=now())
        return FAILED
    except Exception:
        _note_attempt(uow_factory, redemption_id, now=now())
        raise
    _mark_issued(uow_factory, redemption_id, issued, now=now())
    return ISSUED


def shop_credentials(cipher: CredentialCipher, shop: Shop) -> ShopCredentials:
    return ShopCredentials(
        domain=shop.domain,
        access_token=cipher.decrypt(shop.access_token_enc),
        consumer_key=cipher.decrypt(shop.consumer_key_enc),
        consumer_secret=cipher.decrypt(shop.consumer_secret_enc),
        api_base_url=shop.api_base_url,
    )


def _note_attempt(
    uow_factory: Callable[[], UnitOfWork], redemption_id: int, *, now: datetime
) -> None:
    with uow_factory() as uow:
        redemption = uow.session.get(Redemption, redemption_id, with_for_update=True)
        if redemption is not None:
            redemption.attempts += 1
            redemption.updated_at = now
            uow.commit()


def _mark_issued(
    uow_factory: Callable[[], UnitOfWork],
    redemption_id: int,
    issued: IssuedDiscount,
    *,
    now: datetime,
) -> None:
    with uow_factory() as uow:
        redemption = uow.session.get(Redemption, redemption_id, with_for_update=True)
        assert redemption is not None
        if redemption.status == PENDING:
            redemption.status, redemption.platform_ref = ISSUED, issued.platform_ref
            redemption.issued_at = redemption.updated_at = now
            redemption.attempts += 1
            uow.commit()


def _fail(
    uow_factory: Callable[[], UnitOfWork], redemption_id: int, reason: str, *, now: datetime
) -> None:
    """Fail the redemption and give the points back, once."""
    with uow_factory() as uow:
        redemption = uow.session.get(Redemption, redemption_id, with_for_update=True)
        assert redemption is not None
        if redemption.status != PENDING:
            return
        redemption.status, redemption.failure_reason = FAILED, reason[:2000]
        redemption.updated_at = now
        redemption.attempts += 1
        if redemption.points == 0:  # a free code (a referral's): nothing to give back
            uow.commit()
            return
        repositories.insert_ignoring_conflict(
            uow.session,
            LedgerEntry,
            _entry(
                redemption,
                points=redemption.points,
                kind=EntryKind.REDEEM_REFUND,
                suffix="refund",
                reason="Points returned: the store could not create the discount code",
                now=now,
            ),
            ("shop_id", "idempotency_key"),
        )
        uow.commit()
    logger.warning("redemption failed; points returned", extra={"redemption_id": redemption_id})


def stale_pending(uow: UnitOfWork, *, now: datetime, older_than: timedelta) -> list[int]:
    with uow:
        return list(
            uow.session.scalars(
                select(Redemption.id)
                .where(Redemption.status == PENDING, Redemption.updated_at < now - older_than)
                .order_by(Redemption.id)
                .limit(500)
            )
        )


def list_redemptions(
    uow: UnitOfWork, shop_id: int, customer_ref: str, *, limit: int
) -> list[dict[str, Any]]:
    """A customer's redemptions, newest first."""
    with uow:
        customer_id = uow.session.scalar(
            select(Customer.id).where(
                Customer.shop_id == shop_id, Customer.customer_ref == customer_ref
            )
        )
        if customer_id is None:
            raise CustomerNotFound(f"no customer {customer_ref!r} in this shop")
        rows = uow.session.scalars(
            select(Redemption)
            .where(Redemption.shop_id == shop_id, Redemption.customer_id == customer_id)
            .order_by(Redemption.id.desc())
            .limit(limit)
        )
        return [view(r, customer_ref) for r in rows]


def _entry(
    redemption: Redemption, *, points: int, kind: EntryKind, suffix: str, reason: str, now: datetime
) -> dict[str, Any]:
    return {
        "shop_id": redemption.shop_id,
        "customer_id": redemption.customer_id,
        "points": points,
        "kind": kind.value,
        "reason": reason,
        "source_type": "redemption",
        "source_ref": str(redemption.id),
        "order_id": None,
        "idempotency_key": f"redemption:{redemption.id}:{suffix}",
        "created_at": now,
        "available_at": now,
    }


def mark_used(
    session: Session, shop_id: int, codes: Sequence[str], order_ref: str, *, now: datetime
) -> list[int]:
    """Mark the redemptions whose codes an order carries as used; their ids.

    Runs inside the order event's transaction. Codes compare case-insensitively, as at
    checkout. An order that used a code we had already expired (its webhook came late)
    takes the returned points back again: the shopper got the discount.
    """
    wanted = sorted({c.strip().upper() for c in codes if c.strip()})
    if not wanted:
        return []
    found = session.scalars(
        select(Redemption)
        .where(
            Redemption.shop_id == shop_id,
            Redemption.code.in_(wanted),
            Redemption.status.in_([PENDING, ISSUED, EXPIRED]),
        )
        .with_for_update()
    ).all()
    for redemption in found:
        if redemption.status == EXPIRED and _points_returned(session, redemption):
            repositories.insert_ignoring_conflict(
                session,
                LedgerEntry,
                _entry(
                    redemption,
                    points=-redemption.points,
                    kind=EntryKind.REDEEM,
                    suffix="used-after-expiry",
                    reason="Points taken again: the expired code was used on an order",
                    now=now,
                ),
                ("shop_id", "idempotency_key"),
            )
        redemption.status, redemption.used_at = USED, now
        redemption.used_order_ref, redemption.updated_at = order_ref[:64], now
    return [r.id for r in found]


def _points_returned(session: Session, redemption: Redemption) -> bool:
    key = f"redemption:{redemption.id}:expiry-return"
    return (
        session.scalar(
            select(LedgerEntry.id).where(
                LedgerEntry.shop_id == redemption.shop_id, LedgerEntry.idempotency_key == key
            )
        )
        is not None
    )


def expire_due(uow_factory: Callable[[], UnitOfWork], *, now: datetime, grace: timedelta) -> int:
    """Expire codes past their end date (plus `grace`, for orders whose webhook is still on
    its way); give the points back where the shop says so. How many expired."""
    with uow_factory() as uow:
        due = list(
            uow.session.scalars(
                select(Redemption.id)
                .where(
                    Redemption.status.in_([ISSUED, PENDING]),
                    Redemption.expires_at <= now - grace,
                )
                .order_by(Redemption.id)
                .limit(500)
            )
        )
    expired = 0
    for redemption_id in due:  # one transaction each: a bad row never blocks the rest
        with uow_factory() as uow:
            session = uow.session
            redemption = session.get(Redemption, redemption_id, with_for_update=True)
            if redemption is None or redemption.status not in (ISSUED, PENDING):
                continue
            shop = session.get(Shop, redemption.shop_id)
            assert shop is not None
            never_issued = redemption.status == PENDING
            if never_issued:
                # The store never confirmed the code and its end date has passed, so it
                # cannot be used now either: the points always come back.
                redemption.status = FAILED
                redemption.failure_reason = "expired before the store confirmed the code"
            else:
                redemption.status = EXPIRED
            redemption.updated_at = now
            if redemption.points and (never_issued or shop.return_points_on_expiry):
                repositories.insert_ignoring_conflict(
                    session,
                    LedgerEntry,
                    _entry(
                        redemption,
                        points=redemption.points,
                        kind=EntryKind.REDEEM_REFUND,
                        suffix="expiry-return",
                        reason="Points returned: the discount code expired unused",
                        now=now,
                    ),
                    ("shop_id", "idempotency_key"),
                )
            uow.commit()
            expired += 1
    return expired


def cancel(
    uow_factory: Callable[[], UnitOfWork],
    platforms: Mapping[str, ShopPlatform],
    shop_id: int,
    redemption_id: int,
    *,
    credentials: Callable[[int], ShopCredentials],
    now: Callable[[], datetime],
) -> dict[str, Any]:
    """Withdraw an issued, unused code and give its points back.

    The store deactivates the code first, so it can no longer be used by the time the
    points come back; if an order used it meanwhile, the redemption stays used and keeps
    its points. Platform errors propagate and change nothing here.
    """
    with uow_factory() as uow:
        row = uow.session.execute(
            select(Redemption, Shop.platform)
            .join(Shop, Shop.id == Redemption.shop_id)
            .where(Redemption.shop_id == shop_id, Redemption.id == redemption_id)
        ).one_or_none()
        if row is None:
            raise RedemptionNotFound(f"no redemption {redemption_id} in this shop")
        redemption, platform_name = row
        if redemption.status != ISSUED or redemption.platform_ref is None:
            raise RedemptionNotCancellable(
                f"a {redemption.status} redemption cannot be cancelled; only issued codes can"
            )
        platform_ref = redemption.platform_ref
    platforms[platform_name].deactivate_discount(credentials(shop_id), platform_ref)
    with uow_factory() as uow:
        session = uow.session
        locked = session.get(Redemption, redemption_id, with_for_update=True)
        assert locked is not None
        redemption = locked
        if redemption.status == ISSUED:
            redemption.status, redemption.updated_at = CANCELLED, now()
        if redemption.status == CANCELLED and redemption.points:
            repositories.insert_ignoring_conflict(
                session,
                LedgerEntry,
                _entry(
                    redemption,
                    points=redemption.points,
                    kind=EntryKind.REDEEM_REFUND,
                    suffix="cancel",
                    reason="Points returned: the discount code was cancelled",
                    now=now(),
                ),
                ("shop_id", "idempotency_key"),
            )
        customer_ref = session.scalar(
            select(Customer.customer_ref).where(Customer.id == redemption.customer_id)
        )
        out = view(redemption, customer_ref or "")
        uow.commit()
    return out
