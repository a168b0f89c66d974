"""Configuration files the platforms read, rendered for one deployment."""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).parent


def render_shopify_app_toml(*, app_url: str, client_id: str) -> str:
    template = (_HERE / "shopify.app.toml").read_text()
    return template.replace("{app_url}", app_url.rstrip("/")).replace("{client_id}", client_id)
