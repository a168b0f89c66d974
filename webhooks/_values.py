"""Strict readers for platform JSON values: ids, money and times, never through float."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from plugin_server.domain.errors import MalformedPayload

ZERO = Decimal("0")


def ref(payload: Mapping[str, Any], key: str, *, where: str = "payload") -> str:
    """A required platform id as a string (64-bit integers stay exact)."""
    value = payload.get(key)
    if isinstance(value, bool) or value is None:
        raise MalformedPayload(f"{where}.{key} is missing")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and re.fullmatch(r"[0-9A-Za-z_:/.-]{1,64}", value.strip()):
        return value.strip()
    raise MalformedPayload(f"{where}.{key} is not an id: {value!r}")


def optional_ref(value: Any) -> str | None:
    if value is None or isinstance(value, bool) or value in (0, "0", ""):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and re.fullmatch(r"[0-9A-Za-z_:/.-]{1,64}", value.strip()):
        return value.strip()
    raise MalformedPayload(f"not an id: {value!r}")


def money(value: Any, *, field: str, default: Decimal | None = None) -> Decimal:
    """A money amount from a JSON string or number; MalformedPayload if it is anything else."""
    if value is None or value == "":
        if default is not None:
            return default
        raise MalformedPayload(f"{field} is missing")
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise MalformedPayload(f"{field} is not an amount: {value!r}")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise MalformedPayload(f"{field} is not an amount: {value!r}") from None
    if not amount.is_finite():
        raise MalformedPayload(f"{field} is not an amount: {value!r}")
    return amount


def shop_money(
    obj: Mapping[str, Any], key: str, *, field: str, default: Decimal | None = None
) -> Decimal:
    """Shopify money: `<key>_set.shop_money.amount` (shop currency), else the plain field."""
    money_set = obj.get(f"{key}_set")
    if isinstance(money_set, Mapping):
        shop = money_set.get("shop_money")
        if isinstance(shop, Mapping) and shop.get("amount") is not None:
            return money(shop.get("amount"), field=f"{field}_set.shop_money.amount")
    return money(obj.get(key), field=field, default=default)


def timestamp(value: Any) -> datetime | None:
    """An ISO-8601 time as aware UTC; naive times (WooCommerce `*_gmt`) are taken as UTC."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def text(value: Any, limit: int = 255) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()[:limit]


def email(value: Any) -> str | None:
    found = text(value, 320)
    return found.lower() if found and "@" in found else None


def attributes(pairs: list[Mapping[str, Any]], key: str) -> tuple[tuple[str, str], ...]:
    """Name/value pairs (Shopify `note_attributes` use `name`, WooCommerce `meta_data`
    uses `key`); anything that is not a short string pair is left out."""
    out = []
    for pair in pairs[:100]:
        name, value = pair.get(key), pair.get("value")
        if isinstance(name, str) and isinstance(value, str) and len(name) <= 100:
            out.append((name, value[:255]))
    return tuple(out)


def address_parts(address: Any, *keys: str) -> tuple[str | None, ...] | None:
    if not isinstance(address, Mapping):
        return None
    return tuple(text(address.get(k)) for k in keys)


def items(
    payload: Mapping[str, Any], key: str, *, where: str = "payload"
) -> list[Mapping[str, Any]]:
    """A list of JSON objects (absent or null counts as empty)."""
    value = payload.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise MalformedPayload(f"{where}.{key} is not a list of objects")
    return value
