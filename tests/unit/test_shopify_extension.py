"""The theme app extension is laid out as Shopify's CLI expects, and ships exactly the
widget files the app serves (`loyalty widget build-extension` copies them; they can never
drift apart)."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from plugin_server.cli import main
from storefront_widget import extension

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
    names = {p.name for p in extension.widget_files()}
    assert {"loader.js", "panel.js", "panel.css"} <= names
    stale = [str(p.relative_to(ROOT.parent)) for p in extension.stale_assets(EXTENSION)]
    assert not stale, (
        f"{stale} differ from storefront_widget/static: edit storefront_widget/src and run "
        f"`{extension.BUILD_COMMAND}`"
    )


def test_the_served_files_are_the_minified_sources() -> None:
    assert {p.name for p in extension.widget_files(extension.SRC)} == {
        p.name for p in extension.widget_files()
    }
    stale = [str(p.relative_to(ROOT.parent)) for p in extension.stale_static()]
    assert not stale, (
        f"{stale} are not what storefront_widget/src builds: run `{extension.BUILD_COMMAND}`"
    )


def test_minifying_keeps_strings_and_drops_comments(tmp_path: Path) -> None:
    source = tmp_path / "x.js"
    source.write_text('/* why */\nvar a = "two  spaces";  // note\nvar re = /a  b/;\n')
    assert extension.minified(source) == b'var a="two  spaces";var re=/a  b/;\n'
    source.write_text("var t = `a  ${b}`;\n")
    with pytest.raises(extension.UnsupportedSource):
        extension.minified(source)


def build(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["widget", "build-extension", *args])
    return result.exit_code, result.output


def test_the_command_writes_byte_identical_assets_once(tmp_path: Path) -> None:
    code, output = build("--extension-dir", str(tmp_path))
    assert code == 0, output
    for source in extension.widget_files():
        written = tmp_path / "assets" / source.name
        assert written.read_bytes() == source.read_bytes()
        assert f"wrote {written}" in output
    code, output = build("--extension-dir", str(tmp_path))
    assert code == 0
    assert "wrote" not in output
    assert "already matches" in output


def test_check_lists_the_assets_that_differ_and_writes_nothing(tmp_path: Path) -> None:
    assert build("--extension-dir", str(tmp_path))[0] == 0
    assets = tmp_path / "assets"
    (assets / "panel.css").write_bytes((assets / "panel.css").read_bytes() + b"\n")
    (assets / "loader.js").unlink()

    code, output = build("--extension-dir", str(tmp_path), "--check")
    assert code == 1
    assert str(assets / "panel.css") in output
    assert str(assets / "loader.js") in output
    assert str(assets / "panel.js") not in output
    assert extension.BUILD_COMMAND in output
    assert not (assets / "loader.js").exists()

    assert build("--extension-dir", str(tmp_path))[0] == 0
    assert build("--extension-dir", str(tmp_path), "--check") == (
        0,
        f"{assets} matches storefront_widget/static\n",
    )


def test_the_command_refuses_a_missing_extension(tmp_path: Path) -> None:
    code, output = build("--extension-dir", str(tmp_path / "nowhere"))
    assert code != 0
    assert "does not exist" in output
