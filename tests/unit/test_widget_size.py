"""The widget's weight budget, gzipped as a CDN serves it: the loader every page pays for
under 2 KB, the panel (JS and CSS together, loaded on first use) under 12 KB."""

from __future__ import annotations

import gzip
from pathlib import Path

STATIC = Path(__file__).parents[2] / "storefront_widget" / "static"
LOADER_BUDGET = 2 * 1024
PANEL_BUDGET = 12 * 1024


def gzipped(*names: str) -> int:
    return sum(len(gzip.compress((STATIC / n).read_bytes(), compresslevel=9)) for n in names)


def test_loader_fits_its_budget() -> None:
    assert 0 < gzipped("loader.js") <= LOADER_BUDGET


def test_panel_fits_its_budget() -> None:
    assert 0 < gzipped("panel.js", "panel.css") <= PANEL_BUDGET


def test_no_html_insertion_in_widget_code() -> None:
    for name in ("loader.js", "panel.js"):
        source = (STATIC / name).read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in source, f"{name} uses {sink}"
