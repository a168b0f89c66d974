"""Charts for the admin pages: SVG drawn on the server with `leather`, inlined in the page.

No script and no third-party request: leather builds the drawing with ElementTree, so
every text in it (a tier's name, typed by the merchant) is escaped when serialised, and it
styles with SVG presentation attributes (fill, stroke, font-size), never `style`, so the
admin app's CSP (style-src 'self') holds. Each chart gets role="img" with a title and
aria-label; the page gives its numbers as a table too.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import leather
from markupsafe import Markup

# leather's look is module-level settings (its documented way to theme): the admin app's
# font, and text colours that keep a 4.5:1 contrast on the chart's background.
leather.theme.background_color = "#ffffff"
for _name in ("title", "legend", "axis_title", "tick"):
    setattr(leather.theme, f"{_name}_font_family", "system-ui, sans-serif")
leather.theme.title_color = leather.theme.legend_color = "#1a1a1a"
leather.theme.axis_title_color = leather.theme.label_color = "#4a4a4a"
leather.theme.tick_color = "#e3e5e7"
leather.theme.zero_color = "#8c9196"
# Distinguishable without colour vision too, and 3:1 against white (WCAG non-text).
SERIES_COLORS = ["#005bd3", "#b3261e", "#0d6b3a", "#7a4fa8", "#8a5300"]
leather.theme.default_series_colors = SERIES_COLORS

WIDTH, HEIGHT = 720, 320


def _svg(chart: leather.Chart, label: str, *, height: int = HEIGHT) -> Markup:
    root = ET.Element(
        "svg",
        {
            "xmlns": "http://www.w3.org/2000/svg",
            "viewBox": f"0 0 {WIDTH} {height}",
            "role": "img",
            "aria-label": label,
            "class": "chart",
            "focusable": "false",
        },
    )
    title = ET.SubElement(root, "title")
    title.text = label
    root.append(chart.to_svg_group(WIDTH, height))
    # ElementTree escaped every text and attribute value above: this markup is safe.
    return Markup(ET.tostring(root, encoding="unicode"))


def lines_by_day(
    label: str, days: Sequence[date], series: Sequence[tuple[str, Sequence[int]]]
) -> Markup:
    """One line per named series over consecutive days."""
    chart = leather.Chart()
    # As UTC midnights (naive: leather's tick maths cannot take an offset), since its ticks
    # for a short span are hours, which a date lacks.
    at = [datetime.combine(d, time(0)) for d in days]
    first, last = at[0], at[-1]
    if first == last:  # a one-day range: leather needs a domain of some width
        first, last = first - timedelta(days=1), last + timedelta(days=1)
    chart.add_x_scale(first, last)
    span = (last - first).days
    shape = "%Y-%m" if span >= 120 else "%m-%d %H:%M" if span <= 3 else "%m-%d"
    chart.add_x_axis(tick_formatter=lambda d, _i, _n: d.strftime(shape))
    values = [v for _, vs in series for v in vs]
    low, top = min(values, default=0), max(values, default=0)
    # From zero (or below it: more points returned than redeemed on a day).
    chart.add_y_scale(min(low, 0), max(top, low + 1, 1))
    for name, points in series:
        chart.add_line(list(zip(at, points, strict=True)), name=name, width=2)
    return _svg(chart, label)


def bars(label: str, items: Sequence[tuple[str, int | Decimal]]) -> Markup:
    """Horizontal bars, the first item on top (a funnel reads top to bottom)."""
    chart = leather.Chart()
    top = max((Decimal(v) for _, v in items), default=Decimal(0))
    chart.add_x_scale(0, max(top, Decimal(1)))
    # Ordinal ticks are the names: two items with one name would share a bar, so number them.
    seen: dict[str, int] = {}
    rows = []
    for name, value in items:
        seen[name] = seen.get(name, 0) + 1
        rows.append((Decimal(value), name if seen[name] == 1 else f"{name} ({seen[name]})"))
    chart.add_bars(rows)
    return _svg(chart, label, height=max(140, 60 + 44 * len(items)))
