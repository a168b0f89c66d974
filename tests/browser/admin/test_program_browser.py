"""The program pages in real headless Chromium: the merchant creates a double-points
campaign on a collection, raises a tier's threshold, starts a referral campaign; a form
sent back with errors keeps what was typed and takes the focus to its summary; axe-core
finds nothing on the three pages, in English, Vietnamese and Thai, nor with errors showing."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from playwright.sync_api import Page, expect

from plugin_server import demo, jobs
from plugin_server.services import tiers
from tests.browser.admin.conftest import Admin, axe_violations, sign_in
from tests.integration.test_admin_app import flagged_referral


def form_time(admin: Admin, **delta: float) -> str:
    return (admin.container.clock() + timedelta(**delta)).strftime("%Y-%m-%dT%H:%M")


def seed_collection(admin: Admin, collection_id: str, title: str, products: list[int]) -> None:
    """In the demo shop's sandbox store, so saving a rule syncs it within the request."""
    base = jobs.shop_credentials(admin.container, admin.shop_id).api_base_url
    r = requests.post(
        f"{base}/_sandbox/shopify/{demo.DEMO_DOMAIN}/collections",
        json={"id": collection_id, "title": title, "product_ids": products},
        timeout=5,
    )
    r.raise_for_status()


def test_create_a_double_points_campaign(page: Page, admin: Admin) -> None:
    seed_collection(admin, "411", "Hats", [501, 502, 503])
    sign_in(page, admin)
    page.click("nav.sections >> text=Earning rules")
    page.select_option("#f-kind", "bonus")
    page.fill("#f-name", "Double points on hats")
    page.fill("#f-multiplier", "2")
    page.fill("#f-starts_at", form_time(admin, minutes=-1))
    page.fill("#f-ends_at", form_time(admin, days=7))
    page.fill("#f-collection_ids", "411")
    page.click("#earning-form button[type=submit]")
    page.wait_for_selector(".notice")
    assert "Rule created: Double points on hats." in page.locator(".notice").inner_text()
    row = page.locator("#earning-rules tr", has_text="Double points on hats")
    text = row.inner_text()
    assert "Bonus campaign" in text
    assert "2 times the points" in text
    assert "Collection 411 “Hats”: synced, 3 products" in text
    assert "Active" in text
    # And it can be archived from the list.
    row.get_by_role("button", name="Archive: Double points on hats").click()
    page.wait_for_selector(".notice")
    assert "Rule archived" in page.locator(".notice").inner_text()
    assert "Archived" in page.locator("#earning-rules tr", has_text="Double points").inner_text()


def test_raise_a_tier_threshold(page: Page, admin: Admin) -> None:
    gold = tiers.create_tier(
        admin.container.uow(),
        admin.shop_id,
        {"name": "Gold", "threshold": "1000", "multiplier": "1.5"},
        now=admin.container.clock(),
    )
    sign_in(page, admin)
    page.click("nav.sections >> text=VIP tiers")
    assert "Points earned" in page.locator("#tier-qualifying").inner_text()
    page.get_by_role("link", name="Edit: Gold").click()
    page.wait_for_selector("#tier-edit-form")
    assert page.input_value("#f-threshold") == "1000"
    page.fill("#f-threshold", "2500")
    page.click("#tier-edit-form button[type=submit]")
    page.wait_for_selector(".notice")
    assert "Tier saved: Gold." in page.locator(".notice").inner_text()
    assert page.locator(f"#tier-{gold['id']} [data-col=threshold]").inner_text() == "2500"
    page.reload()
    assert page.locator(f"#tier-{gold['id']} [data-col=threshold]").inner_text() == "2500"


def test_create_a_referral_campaign(page: Page, admin: Admin) -> None:
    sign_in(page, admin)
    page.click("nav.sections >> text=Referral program")
    page.fill("#f-name", "Give 10 dollars, get 250")
    page.select_option("#f-friend_discount_kind", "fixed_amount")
    page.fill("#f-friend_discount_value", "10")
    page.fill("#f-currency", "USD")
    page.select_option("#f-advocate_reward_kind", "points")
    page.fill("#f-advocate_points", "250")
    page.click("#campaign-form button[type=submit]")
    page.wait_for_selector(".notice")
    assert "Referral campaign created" in page.locator(".notice").inner_text()
    row = page.locator("#referral-campaigns tr", has_text="Give 10 dollars, get 250")
    text = row.inner_text()
    assert "10.00 USD off" in text
    assert "250 points" in text
    assert "Live" in text
    page.click("text=Referrals held for review")
    page.wait_for_selector("h1")
    assert page.locator("h1").inner_text() == "Referral review"


def test_a_form_with_errors_keeps_what_was_typed_and_focuses_the_summary(
    page: Page, admin: Admin
) -> None:
    sign_in(page, admin)
    page.goto(f"{admin.url}/admin/earning")
    page.select_option("#f-kind", "bonus")
    page.fill("#f-name", "Too generous")
    page.fill("#f-multiplier", "20")
    page.fill("#f-ends_at", form_time(admin, days=2))
    page.fill("#f-collection_ids", "411, 412")
    page.click("#earning-form button[type=submit]")
    page.wait_for_selector("#error-summary")
    assert (
        "multiplier must be above 1 and at most 10" in page.locator("#error-summary").inner_text()
    )
    expect(page.locator("#error-summary")).to_be_focused()  # admin.js moves focus on load
    assert page.input_value("#f-name") == "Too generous"
    assert page.input_value("#f-multiplier") == "20"
    assert page.input_value("#f-collection_ids") == "411, 412"
    assert page.get_attribute("#f-multiplier", "aria-invalid") == "true"
    # The summary's link takes the merchant to the field.
    page.click("#error-summary a")
    assert page.evaluate("document.activeElement.id") == "f-multiplier"
    page.fill("#f-multiplier", "2")
    page.click("#earning-form button[type=submit]")
    page.wait_for_selector(".notice")
    assert "Rule created: Too generous." in page.locator(".notice").inner_text()


@pytest.mark.parametrize("locale", ["en", "vi", "th"])
def test_no_accessibility_violations_on_the_program_pages(
    page: Page, admin: Admin, locale: str
) -> None:
    flagged_referral(admin.container, admin.shop_id)  # a campaign and its counts
    seed_collection(admin, "411", "Hats", [501])
    gold = tiers.create_tier(
        admin.container.uow(),
        admin.shop_id,
        {"name": "Gold", "threshold": "1000"},
        now=admin.container.clock(),
    )
    sign_in(page, admin, locale)
    assert page.get_attribute("html", "lang") == locale
    # A rule with a collection, so its sync state and button show too.
    page.goto(f"{admin.url}/admin/earning")
    page.fill("#f-name", "Hats")
    page.fill("#f-ends_at", form_time(admin, days=2))
    page.fill("#f-collection_ids", "411")
    page.click("#earning-form button[type=submit]")
    page.wait_for_selector(".notice")
    rule_path = page.locator("#earning-rules td.actions a").first.get_attribute("href")
    assert rule_path is not None
    campaign_path = "/admin/referral-program"
    for path in (
        "/admin/earning",
        rule_path,
        "/admin/tiers",
        f"/admin/tiers/{gold['id']}",
        campaign_path,
    ):
        page.goto(f"{admin.url}{path}")
        assert axe_violations(page) == [], path
    page.goto(f"{admin.url}{campaign_path}")
    edit = page.locator("#referral-campaigns td.actions a").first.get_attribute("href")
    page.goto(f"{admin.url}{edit}")
    assert axe_violations(page) == [], edit
    # With the error summary and invalid fields showing, on each page.
    for path, form in (
        ("/admin/earning", "#earning-form"),
        ("/admin/tiers", "#tier-form"),
        ("/admin/referral-program", "#campaign-form"),
    ):
        page.goto(f"{admin.url}{path}")
        page.fill(f"{form} [name=name]", "")
        page.click(f"{form} button[type=submit]")
        page.wait_for_selector("#error-summary")
        assert axe_violations(page) == [], f"{path} with errors"
