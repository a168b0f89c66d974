"""What every inbound webhook adapter shares: the envelope and the errors."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from plugin_server.domain.errors import MalformedPayload
from plugin_server.domain.orders import Platform


class InvalidSignature(Exception):
    """The request is not signed by the platform (bad, missing or for another secret)."""


class MissingHeaders(Exception):
    """Headers the platform always sends are missing."""

    def __init__(self, names: list[str]) -> None:
        super().__init__("missing headers: " + ", ".join(names))
        self.names = names


@dataclass(frozen=True, slots=True)
class Envelope:
    """The delivery metadata from the webhook headers; the body is stored separately."""

    platform: Platform
    shop_domain: str
    topic: str
    delivery_id: str
    triggered_at: datetime | None = None
    event_id: str | None = None
    api_version: str | None = None


def parse_json_object(body: bytes) -> dict[str, Any]:
    """Parse a webhook body, keeping every JSON number that has a fraction as `Decimal`.

    Shopify sends some money as JSON numbers (refund line `subtotal`), so floats must never
    be created on the way in.
    """
    try:
        payload = json.loads(body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedPayload(f"body is not valid JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise MalformedPayload("body is not a JSON object")
    return payload


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header value, or None when absent or blank (header names are case-insensitive)."""
    value = headers.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None
