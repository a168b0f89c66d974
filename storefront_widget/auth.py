"""Who is asking: a shopper proven by Shopify's App Proxy signature or by a short-lived
token the store signed, never by anything the browser chooses itself."""

from __future__ import annotations

import base64
import functools
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from flask import Request
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter
from redis.exceptions import RedisError
from shopify_app import ShopifyApp

from plugin_server.api import rate_limits
from plugin_server.api.errors import ApiError
from plugin_server.bootstrap import Container
from plugin_server.services.storefront import StorefrontShop, StorefrontShops

if TYPE_CHECKING:
    from redis import Redis


TOKEN_AUDIENCE = "loyalty-storefront"
MAX_TOKEN_LIFETIME_S = 3600
_CUSTOMER_REF = re.compile(r"[A-Za-z0-9_.:@+-]{1,100}")


@dataclass(frozen=True, slots=True)
class Shopper:
    shop_id: int
    platform: str
    domain: str
    customer_ref: str | None  # None: a guest
    via: str  # "app_proxy" | "token"
    origins: tuple[str, ...] = ()  # the shop's own storefront origins (CORS)


def _unauthorized(code: str, message: str) -> ApiError:
    return ApiError(401, code, message)


def authenticate(container: Container, request: Request) -> Shopper:
    shops = container.storefront_shops
    if "signature" in request.args:
        return _app_proxy(container, shops, request)
    auth = request.headers.get("Authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return _token(shops, token.strip())
    raise _unauthorized(
        "unauthorized",
        "Call through the shop's app proxy, or send a store-signed token as "
        "'Authorization: Bearer <token>'.",
    )


def _active_shop(shops: StorefrontShops, platform: str | None, domain: str) -> StorefrontShop:
    shop = shops.active(platform, domain)
    if shop is None:
        raise _unauthorized("unknown_shop", "This shop has not installed the app.")
    return shop


# Where the query string is put for the verifier, which parses a whole URL.
_PROXY_BASE = "https://app-proxy.invalid/storefront/v1"


@functools.lru_cache(maxsize=4)
def _shopify_app(api_key: str, secret: str, old_secret: str | None) -> ShopifyApp:
    return ShopifyApp(api_key, secret, old_secret)


def _app_proxy(container: Container, shops: StorefrontShops, request: Request) -> Shopper:
    s = container.settings
    if not s.shopify_api_key or not s.shopify_api_secret:
        raise ApiError(503, "not_configured", "The app's Shopify credentials are not set.")
    app = _shopify_app(s.shopify_api_key, s.shopify_api_secret, s.shopify_old_api_secret)
    # Shopify's own check: signature over the sorted, decoded parameters (repeated keys
    # joined by commas), constant-time, and a timestamp within 90 seconds. It reads only
    # the query string; the headers would only be copied and redacted for its log.
    query = request.environ.get("QUERY_STRING", "")
    result = app.verify_app_proxy_req(
        {"method": request.method, "headers": {}, "url": f"{_PROXY_BASE}?{query}", "body": ""}
    )
    if not result.ok or not result.shop:
        code = "stale_request" if result.log.code == "timestamp_too_old" else "invalid_signature"
        raise _unauthorized(code, "The app proxy signature is missing, wrong or too old.")
    shop = _active_shop(shops, "shopify", f"{result.shop}.myshopify.com")
    customer = result.logged_in_customer_id or None
    if customer is not None and not customer.isdigit():
        raise _unauthorized("invalid_signature", "logged_in_customer_id is not a customer id.")
    return Shopper(shop.id, shop.platform, shop.domain, customer, "app_proxy", shop.origins)


def _public_key(encoded: str) -> Ed25519PublicKey:
    raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    return Ed25519PublicKey.from_public_bytes(raw)


def _token(shops: StorefrontShops, token: str) -> Shopper:
    try:
        unverified: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise _unauthorized("invalid_token", "The token is not a JWT.") from None
    if header.get("alg") != "EdDSA" or not isinstance(unverified.get("iss"), str):
        raise _unauthorized("invalid_token", "Tokens are EdDSA-signed and name their store.")
    shop = _active_shop(shops, None, unverified["iss"])
    if not shop.token_public_key:
        raise _unauthorized("invalid_token", "This shop has no token key registered.")
    try:
        claims = jwt.decode(
            token,
            _public_key(shop.token_public_key),
            algorithms=["EdDSA"],
            audience=TOKEN_AUDIENCE,
            issuer=shop.domain,
            leeway=30,
            options={"require": ["exp", "iat", "iss", "aud"]},
        )
    except jwt.ExpiredSignatureError:
        raise _unauthorized("token_expired", "The token has expired.") from None
    except jwt.PyJWTError:
        raise _unauthorized("invalid_token", "The token's signature or claims are wrong.") from None
    if int(claims["exp"]) - int(claims["iat"]) > MAX_TOKEN_LIFETIME_S:
        raise _unauthorized("invalid_token", "Tokens may live at most an hour.")
    sub = claims.get("sub")
    if sub is not None and (not isinstance(sub, str) or not _CUSTOMER_REF.fullmatch(sub)):
        raise _unauthorized("invalid_token", "sub must be the store's customer id.")
    return Shopper(shop.id, shop.platform, shop.domain, sub or None, "token", shop.origins)


# Both windows counted, and the keys after them read, in one round trip.
_COUNT = """
local out = {}
for i = 1, 2 do
  out[i] = redis.call('INCR', KEYS[i])
  if out[i] == 1 then redis.call('EXPIRE', KEYS[i], ARGV[i]) end
end
if #KEYS > 2 then
  local values = redis.call('MGET', unpack(KEYS, 3))
  for i = 1, #values do out[i + 2] = values[i] end
end
return out
"""


class RateLimits:
    """Fixed windows per shopper and per address. With Redis (`redis`, the app's client)
    every web process counts together, and both counts travel in one pipelined round trip
    with whatever else the request needs from Redis (`read`); without it, in memory."""

    def __init__(self, redis: Redis | None, *, per_shopper: str, per_address: str) -> None:
        self._redis = redis
        self._count = redis.register_script(_COUNT) if redis is not None else None
        self._memory = FixedWindowRateLimiter(storage_from_string("memory://"))
        self._per_shopper = parse(per_shopper)
        self._per_address = parse(per_address)

    def check(self, shopper: Shopper, address: str, read: Sequence[str] = ()) -> list[Any]:
        """Count this request; ApiError 429 past either limit. Returns the values of the
        Redis keys in `read` (None each without Redis, or when it failed)."""
        who = shopper.customer_ref or f"guest@{address}"
        limits = (
            (self._per_address, ("addr", address)),
            (self._per_shopper, ("shopper", str(shopper.shop_id), who)),
        )
        if self._count is None:
            for item, keys in limits:
                if not self._memory.hit(item, *keys):
                    reset = self._memory.get_window_stats(item, *keys).reset_time
                    raise _too_many(reset - time.time())
            return [None] * len(read)
        now = time.time()
        counters: list[str] = []
        windows: list[int] = []
        ends: list[float] = []
        for item, parts in limits:
            seconds = item.get_expiry()
            start = int(now // seconds) * seconds
            counters.append(":".join(("loyalty:rl", *parts, str(start))))
            windows.append(seconds + 1)
            ends.append(start + seconds)
        try:
            answers = self._count(keys=[*counters, *read], args=windows)
        except RedisError as exc:
            # Redis down: let the shopper through. Refusing everyone would turn a cache
            # outage into a storefront outage; the database still answers.
            rate_limits.warn_unavailable(exc)
            return [None] * len(read)
        for n, (item, _parts) in enumerate(limits):
            if int(answers[n]) > item.amount:
                raise _too_many(ends[n] - now)
        values = list(answers[2:])
        return values + [None] * (len(read) - len(values))  # trailing nils are dropped


def _too_many(seconds: float) -> ApiError:
    return ApiError(
        429,
        "rate_limited",
        "Too many requests; slow down.",
        headers={"Retry-After": str(max(1, int(seconds)))},
    )
