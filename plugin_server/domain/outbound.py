"""Signed outbound webhooks to the merchant's own systems: topics, the envelope, the
signature and the retry schedule. Pure: no I/O (the service sends and stores).

A delivery's body is the JSON envelope

    {"id": "<event id>", "topic": "points.earned", "created_at": "<ISO 8601 UTC>",
     "shop": {"id": 1, "platform": "shopify", "domain": "..."}, "data": {...}}

signed with HMAC-SHA256 over `"<timestamp>.<raw body>"` using the endpoint's secret, sent
as `X-Loyalty-Signature: sha256=<hex>` with `X-Loyalty-Timestamp: <unix seconds>`. While a
rotated secret is still honoured, the header carries one signature per secret, comma
separated; a receiver accepts the delivery when any of them matches.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

POINTS_EARNED = "points.earned"
POINTS_REDEEMED = "points.redeemed"
POINTS_EXPIRED = "points.expired"
POINTS_EXPIRING = "points.expiring"
TIER_CHANGED = "tier.changed"
REFERRAL_COMPLETED = "referral.completed"
REFERRAL_FLAGGED = "referral.flagged"
# Sent only on request (`.../ping`), to every endpoint whatever its topics.
PING = "ping"

TOPICS: tuple[str, ...] = (
    POINTS_EARNED,
    POINTS_REDEEMED,
    POINTS_EXPIRED,
    POINTS_EXPIRING,
    TIER_CHANGED,
    REFERRAL_COMPLETED,
    REFERRAL_FLAGGED,
)

SIGNATURE_HEADER = "X-Loyalty-Signature"
TIMESTAMP_HEADER = "X-Loyalty-Timestamp"
DELIVERY_HEADER = "X-Loyalty-Delivery"
EVENT_HEADER = "X-Loyalty-Event"
TOPIC_HEADER = "X-Loyalty-Topic"
ATTEMPT_HEADER = "X-Loyalty-Attempt"
REDELIVERY_HEADER = "X-Loyalty-Redelivery"
# What receivers should tolerate between our clock and theirs, and refuse beyond.
DEFAULT_TOLERANCE = timedelta(minutes=5)


class InvalidEndpointUrl(ValueError):
    """Not an absolute http(s) URL we can post to."""


def check_url_syntax(url: str) -> str:
    """The URL, stripped, if it is an absolute http(s) URL without credentials or fragment."""
    url = url.strip()
    if len(url) > 2048:
        raise InvalidEndpointUrl("the URL is longer than 2048 characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError as exc:
        raise InvalidEndpointUrl(f"not a URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise InvalidEndpointUrl("only http and https URLs are accepted")
    if not parts.hostname:
        raise InvalidEndpointUrl("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise InvalidEndpointUrl("credentials in the URL are not accepted; use the signature")
    if parts.fragment:
        raise InvalidEndpointUrl("the URL must not have a #fragment")
    return url


def unknown_topics(topics: Iterable[str]) -> list[str]:
    """The topics that cannot be subscribed to, in the order given."""
    known = set(TOPICS)
    return [t for t in topics if t not in known]


def envelope(
    *, event_id: str, topic: str, shop: Mapping[str, Any], created_at: datetime, data: Any
) -> str:
    """The body every delivery of one event carries, as the exact text that is signed."""
    return json.dumps(
        {
            "id": event_id,
            "topic": topic,
            "created_at": created_at.isoformat(),
            "shop": dict(shop),
            "data": data,
        },
        separators=(",", ":"),
        sort_keys=False,
        default=str,
    )


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """`sha256=<hex>` of HMAC-SHA256(secret, "<timestamp>.<body>")."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def signature_header(secrets: Iterable[str], timestamp: int, body: bytes) -> str:
    """One signature per secret still honoured (the new one first), comma separated."""
    return ", ".join(sign(s, timestamp, body) for s in secrets)


def verify(
    secret: str,
    body: bytes,
    signature: str,
    timestamp: str,
    *,
    now: datetime,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> bool:
    """What a receiver does: the timestamp is recent, and one signature matches (compared
    in constant time, so a forger learns nothing from how long a refusal took)."""
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    if abs(now.timestamp() - ts) > tolerance.total_seconds():
        return False
    expected = sign(secret, ts, body)
    ok = False
    for candidate in signature.split(","):
        # No early exit: every candidate is compared.
        ok |= hmac.compare_digest(candidate.strip().encode(), expected.encode())
    return ok


def retry_delay(
    attempt: int,
    *,
    base: timedelta,
    cap: timedelta,
    rand: Callable[[float, float], float] = random.uniform,
) -> timedelta:
    """How long to wait after failed attempt number `attempt` (1-based): exponential,
    base * 2**(attempt-1) capped at `cap`, with "equal jitter" (a uniform draw between half
    and all of it) so receivers that failed together are not retried in lockstep."""
    if attempt < 1:
        raise ValueError("attempts are numbered from 1")
    ceiling = min(cap.total_seconds(), base.total_seconds() * 2 ** min(attempt - 1, 62))
    return timedelta(seconds=rand(ceiling / 2, ceiling))


def is_success(status_code: int) -> bool:
    """Only a 2xx answer counts; redirects are not followed (the URL must be the final one)."""
    return 200 <= status_code < 300
