"""Rate limits for the routes anyone can reach without a key: fixed windows per client
address, counted in Redis when it is configured (so every web process counts together),
in memory otherwise. The storefront API has its own, per shopper and per address
(storefront_widget/auth.py), and the unsubscribe page its own HTML answer.

Behind a load balancer the client's address is in X-Forwarded-For: set
LOYALTY_TRUSTED_PROXIES to the number of proxies in front of the app (ProxyFix), or
every client would share the balancer's address and one bucket.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import Flask, current_app, request
from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from plugin_server.api.context import current_container
from plugin_server.api.errors import ApiError

logger = logging.getLogger(__name__)

_SHARED = "loyalty_public_limiter"
_LOCAL = "loyalty_local_limiter"


def _limiter(
    *, local: bool, app: Flask | None = None
) -> tuple[FixedWindowRateLimiter, dict[str, RateLimitItem]]:
    extensions = (app or current_app).extensions
    key = _LOCAL if local else _SHARED
    found: Any = extensions.get(key)
    if found is None:
        url = "memory://" if local else (current_container().settings.redis_url or "memory://")
        found = (FixedWindowRateLimiter(storage_from_string(url)), {})
        extensions[key] = found
    return found


def _item(items: dict[str, RateLimitItem], rate: str) -> RateLimitItem:
    item = items.get(rate)
    if item is None:
        item = items[rate] = parse(rate)
    return item


def client_address() -> str:
    return request.remote_addr or "unknown"


def _check(scope: str, rate: str, *, local: bool, count: bool) -> int | None:
    limiter, items = _limiter(local=local)
    item = _item(items, rate)
    address = client_address()
    try:
        within = limiter.hit(item, scope, address) if count else limiter.test(item, scope, address)
        if within:
            return None
        reset = limiter.get_window_stats(item, scope, address).reset_time
    except Exception as exc:
        # Redis down: let the request through. Refusing everyone (readiness included)
        # would turn a cache outage into a full one; the database still answers.
        warn_unavailable(exc)
        return None
    return max(1, int(reset - time.time()))


_last_warning = 0.0


def warn_unavailable(exc: Exception) -> None:
    """Rate limits let everyone through while their storage fails: say so, once a minute."""
    global _last_warning
    now = time.monotonic()
    if now - _last_warning > 60:  # once a minute, not once a request
        _last_warning = now
        logger.warning("rate limits not enforced: their storage failed (%s)", type(exc).__name__)


def retry_after(scope: str, rate: str, *, local: bool = False) -> int | None:
    """Count this request against `scope`'s `rate` for the client's address; None while
    within it, else the seconds until the window resets."""
    return _check(scope, rate, local=local, count=True)


def over(scope: str, rate: str, *, local: bool = False) -> int | None:
    """Like `retry_after` without counting: whether the address is already over."""
    return _check(scope, rate, local=local, count=False)


def over_locally(app: Flask, scope: str, rate: str, address: str) -> bool:
    """Whether `address` is over `scope`'s in-memory `rate`, outside a request context (the
    webhook fast path); without counting, like `over(..., local=True)`."""
    limiter, items = _limiter(local=True, app=app)
    return not limiter.test(_item(items, rate), scope, address)


def too_many(wait: int) -> ApiError:
    return ApiError(
        429, "rate_limited", "Too many requests; slow down.", headers={"Retry-After": str(wait)}
    )


def enforce(scope: str, rate: str) -> None:
    """Raise 429 (rate_limited, Retry-After) when the client's address is over `rate`."""
    wait = retry_after(scope, rate)
    if wait is not None:
        raise too_many(wait)
