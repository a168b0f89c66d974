"""The widget's shipped files, built from their readable sources.

`src/` holds the widget as it is written and read (comments welcome). `static/` holds what
the app serves: the same files minified (rjsmin, rcssmin: whitespace and comments only, no
renaming), which is what the size budgets are measured on. The Shopify theme app extension's
`assets/` are byte-for-byte copies of `static/` (Shopify serves them from its CDN, so any
other edit would make the two widgets differ). `loyalty widget build-extension` makes both;
`--check` (and a test) fails when either is stale.
"""

from __future__ import annotations

from pathlib import Path

import rcssmin
import rjsmin

ROOT = Path(__file__).parent
SRC = ROOT / "src"
STATIC = ROOT / "static"
EXTENSION = ROOT / "shopify_extension" / "loyalty-widget"
BUILD_COMMAND = "loyalty widget build-extension"


class UnsupportedSource(Exception):
    """A source the minifier could damage."""


def widget_files(static: Path = STATIC) -> list[Path]:
    """The files the app serves from `static`, by name (dotfiles such as .DS_Store skipped)."""
    return sorted(p for p in static.iterdir() if p.is_file() and not p.name.startswith("."))


def minified(source: Path) -> bytes:
    text = source.read_text(encoding="utf-8")
    if source.suffix == ".js":
        # rjsmin predates template literals and would squeeze the whitespace inside them.
        if "`" in text:
            raise UnsupportedSource(f"{source}: use quotes, not template literals")
        return (rjsmin.jsmin(text) + "\n").encode()
    if source.suffix == ".css":
        return (rcssmin.cssmin(text) + "\n").encode()
    return text.encode()


def stale_static(src: Path = SRC, static: Path = STATIC) -> list[Path]:
    """The served files that are missing or are not the minified `src` file."""
    return [
        static / source.name
        for source in widget_files(src)
        if not _same(static / source.name, minified(source))
    ]


def stale_assets(extension: Path = EXTENSION, static: Path = STATIC) -> list[Path]:
    """The paths in `extension/assets` that are missing or differ from their `static` file."""
    assets = extension / "assets"
    return [
        assets / served.name
        for served in widget_files(static)
        if not _same(assets / served.name, served.read_bytes())
    ]


def build_static(src: Path = SRC, static: Path = STATIC) -> list[Path]:
    """Minify `src` into `static`; returns the paths written (unchanged files are left)."""
    stale = stale_static(src, static)
    for target in stale:
        target.write_bytes(minified(src / target.name))
    return stale


def build_assets(extension: Path = EXTENSION, static: Path = STATIC) -> list[Path]:
    """Copy the served files into `extension/assets`; returns the paths written.

    Files already identical are not rewritten, so their modification times stay put and
    `shopify app dev` does not upload them again.
    """
    stale = stale_assets(extension, static)
    if stale:
        (extension / "assets").mkdir(exist_ok=True)
    for target in stale:
        target.write_bytes((static / target.name).read_bytes())
    return stale


def _same(target: Path, content: bytes) -> bool:
    return target.is_file() and target.read_bytes() == content
