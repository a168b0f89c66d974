"""The analytics page in real headless Chromium: the merchant widens the range to 90 days
and sees the figures and charts change, downloads a figure group's CSV, and gets the
API's message for a bad custom range; axe-core finds no violations in en, vi and th."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from plugin_server.services import analytics
from tests.browser.admin.conftest import Admin, axe_violations, sign_in
from tests.integration.test_analytics import Seeder


def seed_history(admin: Admin) -> None:
    """A member who joined and earned 60 days ago (inside 90 days, outside 30), one who
    earned and redeemed last week; then the scheduler's build."""
    now = admin.container.clock()
    s = Seeder(admin.container, admin.shop_id)
    old = s.customer(now - timedelta(days=60))
    s.entry(old, "earn_order", 500, now - timedelta(days=60))
    recent = s.customer(now - timedelta(days=6))
    s.entry(recent, "earn_order", 120, now - timedelta(days=6))
    s.entry(recent, "redeem", -100, now - timedelta(days=5))
    analytics.build_shop(admin.container.uow(), admin.shop_id, now=now)


def figure(page: Page, key: str) -> str:
    return page.locator(f'[data-figure="{key}"]').inner_text().strip()


def test_widen_the_range_to_90_days(page: Page, admin: Admin) -> None:
    seed_history(admin)
    sign_in(page, admin)
    page.click("nav.sections >> text=Analytics")
    page.wait_for_selector("#points-h")
    assert page.locator(".presets a[aria-current]").inner_text() == "Last 30 days"
    issued, joined = int(figure(page, "points_issued")), int(figure(page, "new_members"))
    assert issued >= 120  # last week's (the demo shop has some history of its own)
    chart = page.locator("#chart-points svg")
    assert chart.get_attribute("role") == "img"
    before = chart.inner_html()

    page.click(".presets >> text=Last 90 days")
    page.wait_for_selector('.presets a[aria-current] >> text="Last 90 days"')
    assert int(figure(page, "points_issued")) == issued + 500
    assert int(figure(page, "new_members")) == joined + 1
    assert page.locator("#chart-points svg").inner_html() != before
    # The chart's numbers as a table: 90 days, the old earning among them.
    page.click("#chart-points summary")
    rows = page.locator("#chart-points tbody tr")
    assert rows.count() == 90
    assert "500" in page.locator("#chart-points tbody").inner_text()
    # Keyboard: the presets and the custom range are reachable and labelled.
    assert page.locator("label[for=f-from]").count() == 1
    assert page.locator("label[for=f-to]").count() == 1


def test_download_a_csv(page: Page, admin: Admin) -> None:
    seed_history(admin)
    sign_in(page, admin)
    page.goto(f"{admin.url}/admin/analytics?days=90")
    shown = figure(page, "points_issued")
    with page.expect_download() as info:
        page.click('a[data-csv="points"]')
    download = info.value
    assert download.suggested_filename.startswith("analytics-points-")
    path = download.path()
    assert path is not None
    with open(path, encoding="utf-8") as f:
        rows = {row["figure"]: row for row in csv.DictReader(io.StringIO(f.read()))}
    assert rows["points_issued"]["value"] == shown
    assert rows["points_issued"]["definition"].startswith("Points credited in the range")


def test_a_bad_custom_range_shows_the_apis_message(page: Page, admin: Admin) -> None:
    sign_in(page, admin)
    page.goto(f"{admin.url}/admin/analytics")
    page.fill("#f-from", "2026-03-10")
    page.fill("#f-to", "2026-03-01")
    page.click(".range-form button[type=submit]")
    page.wait_for_selector("#error-summary")
    assert "from must not be after to" in page.locator("#error-summary").inner_text()
    assert "from must not be after to" in page.locator("#f-from-error").inner_text()
    expect(page.locator("#error-summary")).to_be_focused()  # admin.js moves focus on load
    assert page.input_value("#f-from") == "2026-03-10"
    assert page.input_value("#f-to") == "2026-03-01"
    assert axe_violations(page) == []


@pytest.mark.parametrize("locale", ["en", "vi", "th"])
def test_axe_finds_no_violations(page: Page, admin: Admin, locale: str) -> None:
    seed_history(admin)
    sign_in(page, admin, locale)
    page.goto(f"{admin.url}/admin/analytics?days=90")
    page.wait_for_selector("#tiers-h")
    for summary in page.locator("details summary").all():
        summary.click()  # the tables and definitions too
    assert axe_violations(page) == []
    page.goto(f"{admin.url}/admin/analytics?from=2026-13-01")
    page.wait_for_selector("#error-summary")
    assert axe_violations(page) == []
