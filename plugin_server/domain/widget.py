"""The storefront widget's merchant settings: theme, texts per locale, allowed origins."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from plugin_server.domain.errors import ValidationFailed

LOCALES = ("en", "vi", "th")
# Theme keys become CSS custom properties (--loyalty-<key>) on the widget's own root.
THEME_KEYS = ("accent", "accent-text", "background", "text", "radius")
DEFAULT_THEME = {
    "accent": "#1f5f8b",
    "accent-text": "#ffffff",
    "background": "#ffffff",
    "text": "#1a1a1a",
    "radius": "12px",
}
TEXT_KEYS = (
    "title",
    "launcher",
    "welcome_guest",
    "join",
    "sign_in",
    "ways_to_earn",
    "earn_rule",
    "rewards",
    "redeem",
    "your_codes",
    "history",
)
_COLOR = re.compile(r"#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?")
_RADIUS = re.compile(r"\d{1,2}px")
MAX_TEXT = 200


def default_settings() -> dict[str, Any]:
    return {"theme": dict(DEFAULT_THEME), "texts": {}, "origins": [], "position": "right"}


def validate_widget_settings(
    changes: Mapping[str, Any], current: Mapping[str, Any]
) -> dict[str, Any]:
    """The settings after `changes`; ValidationFailed naming the first bad field."""
    unknown = sorted(set(changes) - {"theme", "texts", "origins", "position"})
    if unknown:
        raise ValidationFailed(f"unknown fields: {', '.join(unknown)}")
    out = {**default_settings(), **current}
    if "theme" in changes:
        theme = changes["theme"]
        if not isinstance(theme, dict) or set(theme) - set(THEME_KEYS):
            raise ValidationFailed(f"theme takes {', '.join(THEME_KEYS)}", field="theme")
        for key, value in theme.items():
            pattern = _RADIUS if key == "radius" else _COLOR
            if not isinstance(value, str) or not pattern.fullmatch(value):
                raise ValidationFailed(
                    f"theme.{key} must be {'like 12px' if key == 'radius' else 'a #rrggbb colour'}",
                    field=f"theme.{key}",
                )
        out["theme"] = {**out["theme"], **theme}
    if "texts" in changes:
        texts = changes["texts"]
        if not isinstance(texts, dict) or set(texts) - set(LOCALES):
            raise ValidationFailed(f"texts is keyed by locale: {', '.join(LOCALES)}", field="texts")
        merged = {k: dict(v) for k, v in out["texts"].items()}
        for locale, strings in texts.items():
            if not isinstance(strings, dict) or set(strings) - set(TEXT_KEYS):
                raise ValidationFailed(
                    f"texts.{locale} takes {', '.join(TEXT_KEYS)}", field=f"texts.{locale}"
                )
            for key, value in strings.items():
                if not isinstance(value, str) or not 0 < len(value) <= MAX_TEXT:
                    raise ValidationFailed(
                        f"texts.{locale}.{key}: 1 to {MAX_TEXT} characters",
                        field=f"texts.{locale}.{key}",
                    )
            merged[locale] = {**merged.get(locale, {}), **strings}
        out["texts"] = merged
    if "origins" in changes:
        origins = changes["origins"]
        if not isinstance(origins, list) or len(origins) > 10:
            raise ValidationFailed("origins is a list of up to 10 https origins", field="origins")
        out["origins"] = [_origin(o) for o in origins]
    if "position" in changes:
        if changes["position"] not in ("left", "right"):
            raise ValidationFailed("position is left or right", field="position")
        out["position"] = changes["position"]
    return out


def _origin(value: Any) -> str:
    parts = urlsplit(value if isinstance(value, str) else "")
    if parts.scheme != "https" or not parts.hostname or parts.path not in ("", "/"):
        raise ValidationFailed(
            f"{value!r} is not an https origin like https://shop.example", field="origins"
        )
    return f"https://{parts.netloc.lower()}"


def validate_public_key(value: Any) -> str:
    """An Ed25519 public key: 32 bytes, base64url without padding."""
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_-]{43}=?", value):
        raise ValidationFailed(
            "token_public_key must be a 32-byte Ed25519 key in base64url", field="token_public_key"
        )
    raw = base64.urlsafe_b64decode(value.rstrip("=") + "=")
    if len(raw) != 32:
        raise ValidationFailed("token_public_key must be 32 bytes", field="token_public_key")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")
