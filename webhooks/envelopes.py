"""Reading each platform's delivery headers into an `Envelope`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from plugin_server.domain.orders import Platform
from webhooks.base import Envelope, header, required_headers

SHOPIFY_SIGNATURE = "X-Shopify-Hmac-Sha256"
SHOPIFY_SHOP = "X-Shopify-Shop-Domain"
WOO_SIGNATURE = "X-WC-Webhook-Signature"
WOO_SOURCE = "X-WC-Webhook-Source"


def _timestamp(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def shopify_envelope(headers: Mapping[str, str], shop_domain: str) -> Envelope:
    """Topic and delivery id from Shopify's headers; MissingHeaders names what is absent."""
    topic, delivery_id = required_headers(headers, "X-Shopify-Topic", "X-Shopify-Webhook-Id")
    return Envelope(
        platform=Platform.SHOPIFY,
        shop_domain=shop_domain,
        topic=topic,
        delivery_id=delivery_id[:255],
        triggered_at=_timestamp(header(headers, "X-Shopify-Triggered-At")),
        event_id=(header(headers, "X-Shopify-Event-Id") or "")[:255] or None,
        api_version=header(headers, "X-Shopify-API-Version"),
    )


def woocommerce_envelope(headers: Mapping[str, str], source: str) -> Envelope:
    """Topic and delivery id from WooCommerce's headers; MissingHeaders names what is absent."""
    topic, delivery_id = required_headers(headers, "X-WC-Webhook-Topic", "X-WC-Webhook-Delivery-ID")
    return Envelope(
        platform=Platform.WOOCOMMERCE,
        shop_domain=source,
        topic=topic,
        delivery_id=delivery_id[:255],
        event_id=header(headers, "X-WC-Webhook-ID"),
    )
