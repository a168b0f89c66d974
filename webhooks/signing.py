"""HMAC helpers shared by the platforms; every comparison is constant-time."""

from __future__ import annotations

import base64
import hashlib
import hmac


def hmac_sha256_base64(secret: str | bytes, body: bytes) -> str:
    """base64(HMAC-SHA256(secret, body)): the header both Shopify and WooCommerce send."""
    key = secret.encode() if isinstance(secret, str) else secret
    return base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()


def hmac_sha256_hex(secret: str | bytes, message: str | bytes) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    data = message.encode() if isinstance(message, str) else message
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def signatures_match(expected: str, given: str | None) -> bool:
    """Constant-time comparison that treats a missing signature as a mismatch."""
    if not given:
        return False
    return hmac.compare_digest(expected.encode(), given.strip().encode())
