"""The Shopify theme app extension ships the widget files the app serves.

`static/` is their only source; the extension's `assets/` are copies made by
`loyalty widget build-extension`, byte for byte (Shopify serves them from its CDN, so a
header or any other edit would make the two widgets differ).
"""

from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).with_name("static")
EXTENSION = Path(__file__).parent / "shopify_extension" / "loyalty-widget"
BUILD_COMMAND = "loyalty widget build-extension"


def widget_files(static: Path = STATIC) -> list[Path]:
    """The files the app serves from `static`, by name (dotfiles such as .DS_Store skipped)."""
    return sorted(p for p in static.iterdir() if p.is_file() and not p.name.startswith("."))


def stale_assets(extension: Path = EXTENSION, static: Path = STATIC) -> list[Path]:
    """The paths in `extension/assets` that are missing or differ from their `static` file."""
    assets = extension / "assets"
    return [
        assets / source.name
        for source in widget_files(static)
        if not _same_bytes(source, assets / source.name)
    ]


def build_assets(extension: Path = EXTENSION, static: Path = STATIC) -> list[Path]:
    """Copy the widget files into `extension/assets`; returns the paths written.

    Files already identical are not rewritten, so their modification times stay put and
    `shopify app dev` does not upload them again.
    """
    stale = stale_assets(extension, static)
    if stale:
        (extension / "assets").mkdir(exist_ok=True)
    for target in stale:
        target.write_bytes((static / target.name).read_bytes())
    return stale


def _same_bytes(source: Path, target: Path) -> bool:
    return target.is_file() and target.read_bytes() == source.read_bytes()
