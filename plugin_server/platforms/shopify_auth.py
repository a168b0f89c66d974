"""Shopify OAuth: verifying signed queries, exchanging codes and id tokens for expiring
offline tokens, refreshing them, and subscribing to webhooks after install.

The id-token exchange and the refresh go through Shopify's `shopifyapp` package; the
authorization-code grant (for installs outside the admin) is not in it, so that one POST is
made here with httpx, with the same timeouts and sandbox redirection as the Admin client.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from shopify_app import ShopifyApp
from shopify_app.types import TokenExchangeAccessToken

from plugin_server.platforms.base import (
    PlatformRejected,
    PlatformUnavailable,
    ShopCredentials,
)
from plugin_server.platforms.shopify import ShopifyClient, _SandboxTransport

TIMEOUT_S = 10.0
# Topics every shop is subscribed to at install (the mandatory privacy topics are declared
# in shopify.app.toml, as Shopify requires).
WEBHOOK_TOPICS = (
    "ORDERS_CREATE",
    "ORDERS_PAID",
    "ORDERS_CANCELLED",
    "REFUNDS_CREATE",
    "CUSTOMERS_CREATE",
    "CUSTOMERS_UPDATE",
    "APP_UNINSTALLED",
)
SUBSCRIBE = """
mutation LoyaltySubscribe($topic: WebhookSubscriptionTopic!, $sub: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $sub) {
    webhookSubscription { id topic }
    userErrors { field message }
  }
}
"""


@dataclass(frozen=True, slots=True)
class ShopToken:
    access_token: str
    scope: str
    expires_at: datetime | None = None
    refresh_token: str | None = None
    refresh_token_expires_at: datetime | None = None

    def __repr__(self) -> str:  # never print tokens
        return f"ShopToken(scope={self.scope!r}, expires_at={self.expires_at!r})"


def query_hmac_valid(raw_query: str, secrets_: tuple[str, ...]) -> bool:
    """Shopify's signed-query check, on the query string exactly as Shopify encoded it."""
    pairs = [p for p in raw_query.split("&") if p]
    given = [p.partition("=")[2] for p in pairs if p.startswith("hmac=")]
    if len(given) != 1:
        return False
    rest = sorted(
        (p for p in pairs if not p.startswith(("hmac=", "signature="))),
        key=lambda p: p.partition("=")[0],
    )
    from urllib.parse import unquote_plus

    message = "&".join(unquote_plus(p) for p in rest)
    return any(
        hmac.compare_digest(
            hmac.new(s.encode(), message.encode(), hashlib.sha256).hexdigest(), given[0]
        )
        for s in secrets_
        if s
    )


def _http(domain: str, api_base_url: str | None) -> httpx.Client:
    transport = _SandboxTransport(api_base_url, domain) if api_base_url else None
    return httpx.Client(timeout=TIMEOUT_S, transport=transport)


def _parse_token(body: dict[str, Any], now: datetime) -> ShopToken:
    def after(seconds: Any) -> datetime | None:
        return now + timedelta(seconds=int(seconds)) if seconds else None

    if not body.get("access_token"):
        raise PlatformRejected("Shopify returned no access token", code="invalid_grant")
    return ShopToken(
        access_token=str(body["access_token"]),
        scope=str(body.get("scope") or ""),
        expires_at=after(body.get("expires_in")),
        refresh_token=body.get("refresh_token"),
        refresh_token_expires_at=after(body.get("refresh_token_expires_in")),
    )


def exchange_code(
    domain: str, code: str, *, client_id: str, client_secret: str, api_base_url: str | None
) -> ShopToken:
    """Authorization-code grant for an expiring offline token."""
    try:
        with _http(domain, api_base_url) as client:
            response = client.post(
                f"https://{domain}/admin/oauth/access_token",
                json={
                    "client_id": client_id,
                    "client_secret": client_secret,
                    "code": code,
                    "expiring": 1,
                },
            )
    except httpx.HTTPError as exc:
        raise PlatformUnavailable(f"Shopify unreachable ({type(exc).__name__})") from None
    if response.status_code >= 500:
        raise PlatformUnavailable(f"Shopify answered {response.status_code}")
    body = (
        response.json()
        if response.headers.get("content-type", "").startswith("application/json")
        else {}
    )
    if response.status_code != 200:
        raise PlatformRejected(
            f"Shopify refused the code: {body.get('error_description') or body.get('error')}",
            code=str(body.get("error") or f"http_{response.status_code}"),
        )
    return _parse_token(body, datetime.now(UTC))


def _iso(when: datetime | None) -> str | None:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if when else None


def _from_library(token: TokenExchangeAccessToken) -> ShopToken:
    def parse(value: str | None) -> datetime | None:
        return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None

    return ShopToken(
        access_token=token.token,
        scope=token.scope,
        expires_at=parse(token.expires),
        refresh_token=token.refresh_token,
        refresh_token_expires_at=parse(token.refresh_token_expires),
    )


def _library_failure(result: Any, what: str) -> Exception:
    code = result.log.code
    status = result.response.status
    if code == "network_error" or status >= 500:
        return PlatformUnavailable(f"Shopify {what} failed ({code})", code=code)
    return PlatformRejected(f"Shopify {what} refused: {result.log.detail}", code=code)


def refresh(
    app: ShopifyApp,
    domain: str,
    *,
    refresh_token: str,
    expires_at: datetime | None,
    refresh_token_expires_at: datetime | None,
    api_base_url: str | None,
) -> ShopToken:
    """A new access token and a new (rotated) refresh token."""
    current = TokenExchangeAccessToken(
        shop=domain.removesuffix(".myshopify.com"),
        token="",
        # Asked for ahead of expiry, so tell the library the token is spent already.
        expires=_iso(datetime.now(UTC) - timedelta(seconds=1)),
        scope="",
        access_mode="offline",
        refresh_token=refresh_token,
        refresh_token_expires=_iso(refresh_token_expires_at),
        user=None,
    )
    with _http(domain, api_base_url) as client:
        result = app.refresh_token_exchanged_access_token(current, http_client=client)
    if not result.ok or result.access_token is None:
        raise _library_failure(result, "token refresh")
    return _from_library(result.access_token)


def exchange_id_token(
    app: ShopifyApp, request_input: dict[str, Any], *, api_base_url: str | None
) -> tuple[str, ShopToken]:
    """(shop domain, token) for an embedded app's session token, verified first."""
    verified = app.verify_app_home_req(
        request_input,  # type: ignore[arg-type]
        app_home_patch_id_token_path="/auth/shopify/patch-id-token",
    )
    if not verified.ok or verified.id_token is None or verified.shop is None:
        raise PlatformRejected(
            f"invalid session token: {verified.log.detail}", code="invalid_id_token"
        )
    domain = f"{verified.shop}.myshopify.com"
    with _http(domain, api_base_url) as client:
        result = app.exchange_using_token_exchange(
            "offline", id_token=verified.id_token, expiring=True, http_client=client
        )
    if not result.ok or result.access_token is None:
        raise _library_failure(result, "token exchange")
    return domain, _from_library(result.access_token)


def subscribe_webhooks(client: ShopifyClient, creds: ShopCredentials, uri: str) -> list[str]:
    """Create our webhook subscriptions; their ids. Refusals name the topic."""
    return [subscribe_topic(client, creds, uri, topic) for topic in WEBHOOK_TOPICS]


def subscribe_topic(client: ShopifyClient, creds: ShopCredentials, uri: str, topic: str) -> str:
    """Subscribe to one topic; the subscription's id. A refusal names the topic."""
    data = client.graphql(creds, SUBSCRIBE, {"topic": topic, "sub": {"uri": uri, "format": "JSON"}})
    payload = data["webhookSubscriptionCreate"]
    errors = payload.get("userErrors") or []
    if errors:
        raise PlatformRejected(f"{topic}: {errors[0].get('message')}", code="webhook_refused")
    return str(payload["webhookSubscription"]["id"])
