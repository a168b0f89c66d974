"""Outbound webhooks: the merchant's endpoints, and the delivery of the outbox.

Deliveries are queued by `plugin_server.db.outbox` in the transaction that wrote each
event. Workers claim due deliveries with a lease (SKIP LOCKED on PostgreSQL, the write lock
on SQLite), post them with connect/read timeouts and no transaction open, then record the
attempt. A worker that dies mid-delivery leaves its claim to run out; the delivery is then
claimed again. Delivery is therefore at least once: receivers dedupe on the
`X-Loyalty-Delivery` header (or the envelope's event `id`).
"""

from __future__ import annotations

import logging
import secrets
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from sqlalchemy import and_, delete, func, or_, select, update

from plugin_server.crypto import CredentialCipher
from plugin_server.db import outbox
from plugin_server.db.models import Shop, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from plugin_server.db.outbox import DELIVERING, FAILED, PENDING, SUCCEEDED
from plugin_server.db.unit_of_work import UnitOfWork
from plugin_server.domain import outbound
from plugin_server.domain.errors import (
    InvalidWebhookUrl,
    UnknownTopic,
    ValidationFailed,
    WebhookDeliveryInProgress,
    WebhookDeliveryNotFound,
    WebhookEndpointInactive,
    WebhookEndpointLimit,
    WebhookEndpointNotFound,
    WebhookUrlNotAllowed,
)
from plugin_server.platforms import safe_http

logger = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"
# Every event is sent to each subscribed endpoint: a bound on the fan-out per shop.
MAX_ENDPOINTS = 10
USER_AGENT = "loyalty-webhooks/1"


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """How deliveries are made; from Settings."""

    connect_timeout_s: float = 3.0
    read_timeout_s: float = 10.0
    max_attempts: int = 10
    retry_base: timedelta = timedelta(seconds=30)
    retry_cap: timedelta = timedelta(hours=6)
    lease: timedelta = timedelta(minutes=2)
    allow_private: bool = False
    secret_overlap: timedelta = timedelta(hours=24)

    @classmethod
    def from_settings(cls, s: Any) -> DeliveryPolicy:
        # The lease must outlast the longest attempt, or a slow one would be sent twice.
        lease = max(s.webhook_lease_s, s.webhook_connect_timeout_s + s.webhook_read_timeout_s + 10)
        return cls(
            connect_timeout_s=s.webhook_connect_timeout_s,
            read_timeout_s=s.webhook_read_timeout_s,
            max_attempts=s.webhook_max_attempts,
            retry_base=timedelta(seconds=s.webhook_retry_base_s),
            retry_cap=timedelta(seconds=s.webhook_retry_cap_s),
            lease=timedelta(seconds=lease),
            allow_private=s.webhooks_allow_private,
            secret_overlap=timedelta(hours=s.webhook_secret_overlap_hours),
        )


# --- endpoints --------------------------------------------------------------------------


def check_url(url: str, *, allow_private: bool) -> str:
    """The URL if we may post to it: http(s), and (unless `allow_private`) a host that
    resolves only to public addresses. Raises InvalidWebhookUrl / WebhookUrlNotAllowed."""
    try:
        url = outbound.check_url_syntax(url)
    except outbound.InvalidEndpointUrl as exc:
        raise InvalidWebhookUrl(str(exc)) from None
    if not allow_private:
        _check_public(url)
    return url


def _check_public(url: str) -> None:
    parts = urlsplit(url)
    try:
        safe_http.resolve_public(
            parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
        )
    except safe_http.AddressNotAllowed as exc:
        raise WebhookUrlNotAllowed(str(exc)) from None


def _check_topics(topics: Sequence[str]) -> list[str]:
    unknown = outbound.unknown_topics(topics)
    if unknown:
        raise UnknownTopic(
            f"unknown topic(s) {', '.join(unknown)}; known: {', '.join(outbound.TOPICS)}"
        )
    if not topics:
        raise ValidationFailed("name at least one topic", field="topics")
    return sorted(set(topics), key=outbound.TOPICS.index)


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def endpoint_view(e: WebhookEndpoint, *, now: datetime) -> dict[str, Any]:
    overlap = e.previous_secret_expires_at
    return {
        "id": e.id,
        "url": e.url,
        "description": e.description,
        "topics": outbox.parse_topics(e.topics),
        "active": e.active,
        "previous_secret_valid_until": (
            overlap.isoformat() if overlap is not None and overlap > now else None
        ),
        "created_at": e.created_at.isoformat(),
        "updated_at": e.updated_at.isoformat(),
    }


def _endpoint(session: Any, shop_id: int, endpoint_id: int, *, lock: bool = False) -> Any:
    stmt = select(WebhookEndpoint).where(
        WebhookEndpoint.shop_id == shop_id,
        WebhookEndpoint.id == endpoint_id,
        WebhookEndpoint.deleted_at.is_(None),
    )
    found = session.scalar(stmt.with_for_update() if lock else stmt)
    if found is None:
        raise WebhookEndpointNotFound(f"no webhook endpoint {endpoint_id} in this shop")
    return found


def create_endpoint(
    uow: UnitOfWork,
    cipher: CredentialCipher,
    shop_id: int,
    *,
    url: str,
    topics: Sequence[str],
    description: str | None = None,
    active: bool = True,
    allow_private: bool,
    now: datetime,
) -> dict[str, Any]:
    """Register an endpoint; the answer carries its signing secret, the only time it is
    shown (it is stored encrypted)."""
    url = check_url(url, allow_private=allow_private)
    topics = _check_topics(topics)
    secret = new_secret()
    with uow:
        # The shop's row lock makes count-then-insert safe against a concurrent create.
        uow.session.get(Shop, shop_id, with_for_update=True)
        existing = uow.session.scalar(
            select(func.count())
            .select_from(WebhookEndpoint)
            .where(WebhookEndpoint.shop_id == shop_id, WebhookEndpoint.deleted_at.is_(None))
        )
        if (existing or 0) >= MAX_ENDPOINTS:
            raise WebhookEndpointLimit(
                f"a shop may have {MAX_ENDPOINTS} webhook endpoints; delete one first"
            )
        endpoint = WebhookEndpoint(
            shop_id=shop_id,
            url=url,
            description=description,
            topics=",".join(topics),
            active=active,
            secret_enc=cipher.encrypt(secret),
            created_at=now,
            updated_at=now,
        )
        uow.session.add(endpoint)
        uow.session.flush()
        view = endpoint_view(endpoint, now=now)
        uow.commit()
    return {**view, "secret": secret}


def list_endpoints(uow: UnitOfWork, shop_id: int, *, now: datetime) -> list[dict[str, Any]]:
    with uow:
        found = uow.session.scalars(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.shop_id == shop_id, WebhookEndpoint.deleted_at.is_(None))
            .order_by(WebhookEndpoint.id)
        ).all()
        return [endpoint_view(e, now=now) for e in found]


def get_endpoint(
    uow: UnitOfWork, shop_id: int, endpoint_id: int, *, now: datetime
) -> dict[str, Any]:
    with uow:
        return endpoint_view(_endpoint(uow.session, shop_id, endpoint_id), now=now)


def update_endpoint(
    uow: UnitOfWork,
    shop_id: int,
    endpoint_id: int,
    changes: dict[str, Any],
    *,
    allow_private: bool,
    now: datetime,
) -> dict[str, Any]:
    """Change url, topics, description or active. Deliveries already queued keep theirs."""
    if "url" in changes:
        changes["url"] = check_url(changes["url"], allow_private=allow_private)
    if "topics" in changes:
        changes["topics"] = ",".join(_check_topics(changes["topics"]))
    with uow:
        endpoint = _endpoint(uow.session, shop_id, endpoint_id, lock=True)
        for name, value in changes.items():
            setattr(endpoint, name, value)
        endpoint.updated_at = now
        view = endpoint_view(endpoint, now=now)
        uow.commit()
    return view


def delete_endpoint(uow: UnitOfWork, shop_id: int, endpoint_id: int, *, now: datetime) -> None:
    """Remove an endpoint: nothing more is sent to it, and what was still queued for it is
    marked failed. Its delivery log stays readable."""
    with uow:
        endpoint = _endpoint(uow.session, shop_id, endpoint_id, lock=True)
        endpoint.active, endpoint.deleted_at, endpoint.updated_at = False, now, now
        endpoint.previous_secret_enc = None
        uow.session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.endpoint_id == endpoint.id,
                WebhookDelivery.status.in_([PENDING, DELIVERING]),
            )
            .values(
                status=FAILED,
                last_error="endpoint deleted",
                claim_token=None,  # a worker mid-attempt logs it but changes nothing
                lease_expires_at=None,
                updated_at=now,
            )
        )
        uow.commit()


def rotate_secret(
    uow: UnitOfWork,
    cipher: CredentialCipher,
    shop_id: int,
    endpoint_id: int,
    *,
    overlap: timedelta,
    now: datetime,
) -> dict[str, Any]:
    """A new signing secret, shown once. For `overlap` the old one signs too (both
    signatures are sent), so receivers can switch without refusing deliveries."""
    secret = new_secret()
    with uow:
        endpoint = _endpoint(uow.session, shop_id, endpoint_id, lock=True)
        if overlap > timedelta(0):
            endpoint.previous_secret_enc = endpoint.secret_enc
            endpoint.previous_secret_expires_at = now + overlap
        else:
            endpoint.previous_secret_enc, endpoint.previous_secret_expires_at = None, None
        endpoint.secret_enc = cipher.encrypt(secret)
        endpoint.updated_at = now
        view = endpoint_view(endpoint, now=now)
        uow.commit()
    return {**view, "secret": secret}


def ping(uow: UnitOfWork, shop_id: int, endpoint_id: int, *, now: datetime) -> dict[str, Any]:
    """Queue a `ping` delivery to one endpoint (whatever its topics)."""
    with uow:
        session = uow.session
        endpoint = _endpoint(session, shop_id, endpoint_id)
        if not endpoint.active:
            raise WebhookEndpointInactive(f"webhook endpoint {endpoint_id} is disabled")
        shop = session.get(Shop, shop_id)
        assert shop is not None
        rows = outbox.delivery_rows(
            session,
            shop_id,
            {"id": shop.id, "platform": shop.platform, "domain": shop.domain},
            outbound.PING,
            {"message": "Webhook test from your loyalty program.", "endpoint_id": endpoint.id},
            source_key=f"ping:{uuid.uuid4()}",
            created_at=now,
            endpoint_ids=[endpoint.id],
        )
        outbox.queue(session, rows)
        delivery = session.scalar(
            select(WebhookDelivery).where(WebhookDelivery.delivery_key == rows[0]["delivery_key"])
        )
        assert delivery is not None
        view = delivery_view(delivery)
        uow.commit()
    return view


# --- the delivery log -----------------------------------------------------------------


def delivery_view(
    d: WebhookDelivery, attempts: Sequence[WebhookAttempt] | None = None
) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": d.id,
        "endpoint_id": d.endpoint_id,
        "event_id": d.event_id,
        "delivery_key": d.delivery_key,
        "topic": d.topic,
        "status": d.status,
        "attempts": d.attempts,
        "redelivery": d.redelivery,
        "next_attempt_at": d.next_attempt_at.isoformat() if d.status == PENDING else None,
        "last_status_code": d.last_status_code,
        "last_error": d.last_error,
        "last_duration_ms": d.last_duration_ms,
        "created_at": d.created_at.isoformat(),
        "delivered_at": d.delivered_at.isoformat() if d.delivered_at else None,
    }
    if attempts is not None:
        view["payload"] = d.body
        view["attempt_log"] = [
            {
                "attempt": a.attempt,
                "redelivery": a.redelivery,
                "started_at": a.started_at.isoformat(),
                "duration_ms": a.duration_ms,
                "status_code": a.status_code,
                "error": a.error,
                "succeeded": a.succeeded,
            }
            for a in attempts
        ]
    return view


def list_deliveries(
    uow: UnitOfWork,
    shop_id: int,
    *,
    endpoint_id: int | None = None,
    status: str | None = None,
    before: int | None = None,
    limit: int = 25,
) -> list[dict[str, Any]]:
    """The shop's deliveries, newest first."""
    with uow:
        stmt = select(WebhookDelivery).where(WebhookDelivery.shop_id == shop_id)
        if endpoint_id is not None:
            stmt = stmt.where(WebhookDelivery.endpoint_id == endpoint_id)
        if status is not None:
            stmt = stmt.where(WebhookDelivery.status == status)
        if before is not None:
            stmt = stmt.where(WebhookDelivery.id < before)
        found = uow.session.scalars(stmt.order_by(WebhookDelivery.id.desc()).limit(limit))
        return [delivery_view(d) for d in found]


def _delivery(session: Any, shop_id: int, delivery_id: int, *, lock: bool = False) -> Any:
    stmt = select(WebhookDelivery).where(
        WebhookDelivery.shop_id == shop_id, WebhookDelivery.id == delivery_id
    )
    found = session.scalar(stmt.with_for_update() if lock else stmt)
    if found is None:
        raise WebhookDeliveryNotFound(f"no webhook delivery {delivery_id} in this shop")
    return found


def get_delivery(uow: UnitOfWork, shop_id: int, delivery_id: int) -> dict[str, Any]:
    """One delivery with its payload and the log of every attempt."""
    with uow:
        d = _delivery(uow.session, shop_id, delivery_id)
        attempts = uow.session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id == d.id)
            .order_by(WebhookAttempt.attempt, WebhookAttempt.id)
        ).all()
        return delivery_view(d, attempts)


def replay(uow: UnitOfWork, shop_id: int, delivery_id: int, *, now: datetime) -> dict[str, Any]:
    """Send a finished delivery again: the same body, event id and delivery id, marked as
    a redelivery, with a new round of retries. Refused while it is still pending."""
    with uow:
        session = uow.session
        d = _delivery(session, shop_id, delivery_id, lock=True)
        if d.status in (PENDING, DELIVERING):
            raise WebhookDeliveryInProgress(
                f"webhook delivery {delivery_id} is {d.status}; replay it once it has finished"
            )
        endpoint = session.get(WebhookEndpoint, d.endpoint_id)
        if endpoint is None or endpoint.deleted_at is not None:
            raise WebhookEndpointNotFound(f"webhook endpoint {d.endpoint_id} was deleted")
        if not endpoint.active:
            raise WebhookEndpointInactive(f"webhook endpoint {d.endpoint_id} is disabled")
        d.status, d.redelivery, d.attempts_at_replay = PENDING, True, d.attempts
        d.next_attempt_at, d.updated_at, d.delivered_at = now, now, None
        d.lease_expires_at, d.claim_token = None, None
        session.info[outbox.PUBLISHED] = True  # wake a worker after the commit
        view = delivery_view(d)
        uow.commit()
    return view


def purge_finished(
    uow: UnitOfWork, *, now: datetime, older_than: timedelta, limit: int = 5000
) -> int:
    """Delete up to `limit` succeeded or failed deliveries (with their attempts) whose last
    attempt was scheduled before `now - older_than`; how many. The delivery log is kept
    that long; pending deliveries are never purged."""
    cutoff = now - older_than
    with uow:
        session = uow.session
        ids = list(
            session.scalars(
                select(WebhookDelivery.id)
                .where(
                    WebhookDelivery.status.in_([SUCCEEDED, FAILED]),
                    WebhookDelivery.next_attempt_at < cutoff,
                )
                .limit(limit)
            )
        )
        if ids:
            session.execute(delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(ids)))
            session.execute(delete(WebhookDelivery).where(WebhookDelivery.id.in_(ids)))
        uow.commit()
    return len(ids)


# --- delivering -------------------------------------------------------------------------


def has_due(uow: UnitOfWork, *, now: datetime) -> bool:
    """Whether any delivery is due (pending and due, or a claim whose lease ran out)."""
    with uow:
        return uow.session.scalar(select(WebhookDelivery.id).where(_due(now)).limit(1)) is not None


def _due(now: datetime) -> Any:
    return or_(
        and_(WebhookDelivery.status == PENDING, WebhookDelivery.next_attempt_at <= now),
        and_(WebhookDelivery.status == DELIVERING, WebhookDelivery.lease_expires_at <= now),
    )


@dataclass(frozen=True, slots=True)
class Claim:
    token: str
    ids: list[int]


def claim_due(uow: UnitOfWork, *, now: datetime, lease: timedelta, limit: int) -> Claim:
    """Atomically claim up to `limit` due deliveries until `now + lease`. On PostgreSQL
    concurrent workers skip each other's rows (SKIP LOCKED)."""
    token = uuid.uuid4().hex
    with uow:
        due = (
            select(WebhookDelivery.id)
            .where(_due(now))
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        ids = list(
            uow.session.scalars(
                update(WebhookDelivery)
                .where(WebhookDelivery.id.in_(due))
                .values(
                    status=DELIVERING,
                    lease_expires_at=now + lease,
                    claim_token=token,
                    updated_at=now,
                )
                .returning(WebhookDelivery.id)
                .execution_options(synchronize_session=False)
            )
        )
        uow.commit()
    return Claim(token, sorted(ids))


@dataclass(frozen=True, slots=True)
class Outcome:
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and outbound.is_success(self.status_code)


def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    policy: DeliveryPolicy,
) -> Outcome:
    """One HTTP POST with connect/read timeouts and no redirects; never raises."""
    started = time.monotonic()
    try:
        # Resolved and checked again now, and the connection made to that very address:
        # DNS may have changed since registration, or may change between check and connect.
        response = safe_http.session(allow_private=policy.allow_private).post(
            url,
            data=body,
            headers=headers,
            timeout=(policy.connect_timeout_s, policy.read_timeout_s),
            allow_redirects=False,
            stream=True,  # the answer's body is never read
        )
        response.close()
        status: int | None = response.status_code
        error = None if outbound.is_success(response.status_code) else f"HTTP {status}"
    except (WebhookUrlNotAllowed, safe_http.AddressNotAllowed) as exc:
        status, error = None, f"url_not_allowed: {exc}"
    except requests.Timeout as exc:
        kind = "connect" if isinstance(exc, requests.ConnectTimeout) else "read"
        status, error = None, f"timeout ({kind})"
    except requests.ConnectionError as exc:
        status, error = None, f"connection failed: {type(exc.__cause__ or exc).__name__}"
    except requests.RequestException as exc:
        status, error = None, f"{type(exc).__name__}: {exc}"[:500]
    duration = int((time.monotonic() - started) * 1000)
    return Outcome(status, error, duration)


def _secrets(cipher: CredentialCipher, endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    found = [cipher.decrypt(endpoint.secret_enc)]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret_enc is not None and expires is not None and expires > now:
        found.append(cipher.decrypt(endpoint.previous_secret_enc))
    return [s for s in found if s]


def deliver_one(
    uow_factory: Callable[[], UnitOfWork],
    cipher: CredentialCipher,
    policy: DeliveryPolicy,
    delivery_id: int,
    token: str,
    *,
    clock: Callable[[], datetime],
    send: Callable[..., Outcome] = post,
) -> str:
    """Make one attempt of a claimed delivery and record it; the resulting status."""
    now = clock()
    with uow_factory() as uow:
        # Locked while the lease is renewed, so a worker that reclaims an expired lease
        # either sees the renewal or has replaced our token before we read it.
        d = uow.session.get(WebhookDelivery, delivery_id, with_for_update=True)
        if d is None or d.claim_token != token:
            return "lost"  # the lease ran out and another worker has it (or it was erased)
        endpoint = uow.session.get(WebhookEndpoint, d.endpoint_id)
        assert endpoint is not None
        usable = endpoint.active and endpoint.deleted_at is None
        signing = _secrets(cipher, endpoint, now) if usable else []
        url, body, attempt = endpoint.url, d.body.encode(), d.attempts + 1
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            outbound.DELIVERY_HEADER: d.delivery_key,
            outbound.EVENT_HEADER: d.event_id,
            outbound.TOPIC_HEADER: d.topic,
            outbound.ATTEMPT_HEADER: str(attempt),
        }
        redelivery = d.redelivery
        if redelivery:
            headers[outbound.REDELIVERY_HEADER] = "true"
        # The lease runs from this attempt, not from the batch's claim: a batch of slow
        # receivers never outlives its leases.
        d.lease_expires_at = now + policy.lease
        uow.commit()
    if not usable:
        with uow_factory() as uow:
            uow.session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == delivery_id, WebhookDelivery.claim_token == token)
                .values(
                    status=FAILED,
                    last_error="endpoint disabled",
                    claim_token=None,
                    lease_expires_at=None,
                    updated_at=now,
                )
            )
            uow.commit()
        return FAILED
    timestamp = int(now.timestamp())
    headers[outbound.TIMESTAMP_HEADER] = str(timestamp)
    headers[outbound.SIGNATURE_HEADER] = outbound.signature_header(signing, timestamp, body)
    result = send(url, body, headers, policy=policy)
    return _record(uow_factory, policy, delivery_id, token, attempt, redelivery, now, result, clock)


def _record(
    uow_factory: Callable[[], UnitOfWork],
    policy: DeliveryPolicy,
    delivery_id: int,
    token: str,
    attempt: int,
    redelivery: bool,
    started: datetime,
    result: Outcome,
    clock: Callable[[], datetime],
) -> str:
    now = clock()
    with uow_factory() as uow:
        session = uow.session
        d = session.get(WebhookDelivery, delivery_id, with_for_update=True)
        if d is None:
            return "lost"  # erased meanwhile (the customer's redaction)
        session.add(
            WebhookAttempt(
                shop_id=d.shop_id,
                delivery_id=d.id,
                attempt=attempt,
                redelivery=redelivery,
                started_at=started,
                duration_ms=result.duration_ms,
                status_code=result.status_code,
                error=result.error,
                succeeded=result.succeeded,
            )
        )
        d.attempts = max(d.attempts, attempt)
        d.last_status_code, d.last_error = result.status_code, result.error
        d.last_duration_ms, d.updated_at = result.duration_ms, now
        if d.claim_token != token:
            # Our lease ran out mid-attempt and another worker owns the delivery now: the
            # attempt is logged, its state is theirs to set.
            uow.commit()
            return "lost"
        d.claim_token, d.lease_expires_at = None, None
        if result.succeeded:
            d.status, d.delivered_at = SUCCEEDED, now
        elif d.attempts - d.attempts_at_replay >= policy.max_attempts:
            d.status = FAILED
        else:
            d.status = PENDING
            d.next_attempt_at = now + outbound.retry_delay(
                d.attempts - d.attempts_at_replay, base=policy.retry_base, cap=policy.retry_cap
            )
        status = d.status
        uow.commit()
    if status != SUCCEEDED:
        logger.info(
            "webhook delivery attempt failed: %s",
            result.error,
            extra={"delivery_id": delivery_id, "attempt": attempt, "status": status},
        )
    return status


def deliver_due(
    uow_factory: Callable[[], UnitOfWork],
    cipher: CredentialCipher,
    policy: DeliveryPolicy,
    *,
    clock: Callable[[], datetime],
    batch: int = 20,
    send: Callable[..., Outcome] = post,
    max_batches: int | None = None,
) -> int:
    """Claim and deliver due deliveries in batches until none are due; how many attempts
    were made."""
    made = 0
    batches = 0
    while max_batches is None or batches < max_batches:
        claim = claim_due(uow_factory(), now=clock(), lease=policy.lease, limit=batch)
        if not claim.ids:
            return made
        batches += 1
        for delivery_id in claim.ids:
            deliver_one(
                uow_factory, cipher, policy, delivery_id, claim.token, clock=clock, send=send
            )
            made += 1
    return made
