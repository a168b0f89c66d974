"""The theme app extension is laid out as Shopify's CLI expects, and ships exactly the
widget files the app serves (they can never drift apart)."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[2] / "storefront_widget"
EXTENSION = ROOT / "shopify_extension" / "loyalty-widget"


def test_extension_config() -> None:
    config = tomllib.loads((EXTENSION / "shopify.extension.toml").read_text())
    [extension] = config["extensions"]
    assert extension["type"] == "theme"
    assert extension["handle"] == "loyalty-widget"


def test_app_embed_block_targets_the_body_and_loads_one_deferred_script() -> None:
    liquid = (EXTENSION / "blocks" / "loyalty-embed.liquid").read_text()
    schema = json.loads(re.search(r"{% schema %}(.*){% endschema %}", liquid, re.S).group(1))  # type: ignore[union-attr]
    assert schema["target"] == "body"
    assert liquid.count("<script") == 1
    assert re.search(r"<script\s[^>]*\bdefer\b", liquid)
    assert "'loader.js' | asset_url" in liquid
    assert "/apps/loyalty" in liquid
    locales = json.loads((EXTENSION / "locales" / "en.default.json").read_text())
    for key in re.findall(r'"t:([\w.]+)"', liquid):
        section, name = key.split(".")
        assert name in locales[section]


def test_assets_are_the_widget_files() -> None:
    for name in ("loader.js", "panel.js", "panel.css"):
        assert (EXTENSION / "assets" / name).read_bytes() == (ROOT / "static" / name).read_bytes()
