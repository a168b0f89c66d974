"""Inbound webhooks: verify signatures and normalise platform payloads into domain events.

No Flask and no database here: this package turns bytes and headers into
`plugin_server.domain.orders` values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plugin_server.domain.orders import NormalizedEvent, Platform
from webhooks.base import parse_json_object


def handled_topics(platform: Platform) -> frozenset[str]:
    from webhooks import shopify, woocommerce

    return shopify.HANDLED_TOPICS if platform is Platform.SHOPIFY else woocommerce.HANDLED_TOPICS


def normalize(platform: Platform, topic: str, body: bytes) -> NormalizedEvent:
    """Parse and normalise a stored delivery; raises MalformedPayload if it cannot be."""
    from webhooks import shopify, woocommerce

    payload: Mapping[str, Any] = parse_json_object(body)
    module = shopify if platform is Platform.SHOPIFY else woocommerce
    return module.normalize(topic, payload)
