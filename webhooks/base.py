"""What every inbound webhook adapter shares: the envelope and the errors."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from plugin_server.domain.errors import MalformedPayload
from plugin_server.domain.orders import Platform

T = TypeVar("T")


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


def dispatch(
    handlers: Mapping[str, Callable[[Mapping[str, Any]], T]], topic: str, payload: Mapping[str, Any]
) -> T:
    """Run the topic's handler; MalformedPayload for a topic no handler knows."""
    handler = handlers.get(topic)
    if handler is None:
        raise MalformedPayload(f"topic {topic} is not handled")
    return handler(payload)


def required_headers(headers: Mapping[str, str], *names: str) -> list[str]:
    """The values of headers the platform always sends; MissingHeaders names absent ones."""
    values = [header(headers, name) for name in names]
    missing = [name for name, value in zip(names, values, strict=True) if value is None]
    if missing:
        raise MissingHeaders(missing)
    return [v for v in values if v is not None]


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header value, or None when absent or blank (header names are case-insensitive)."""
    value = headers.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None
