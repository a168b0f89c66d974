"""The admin app in real headless Chromium (the system's, driven by Playwright, as the
widget's tests are): the merchant finds a customer and adjusts points, reviews a flagged
referral, creates a reward; axe-core finds no violations on any page; the adjust form
works with the keyboard alone; and embedded in Shopify, forms post with App Bridge's
session token (App Bridge itself replaced by a stand-in, since its CDN is out of reach)."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, Route, expect

from plugin_server import demo
from tests.browser.admin.conftest import Admin, axe_violations, sign_in
from tests.integration.test_admin_app import EVIL, flagged_referral, session_token


def balance(page: Page) -> int:
    return int(page.locator("#balance").inner_text())


def test_find_a_customer_and_adjust_points(page: Page, admin: Admin) -> None:
    sign_in(page, admin)
    page.click("nav.sections >> text=Customers")
    page.fill("#q", "ann@")
    page.press("#q", "Enter")
    page.click("table >> a", timeout=5000)
    page.wait_for_selector("#balance")
    before = balance(page)
    page.fill("#f-points", "25")
    page.fill("#f-reason", "Sorry for the late parcel")
    page.click("#adjust-form button[type=submit]")
    page.wait_for_selector(".notice")
    assert balance(page) == before + 25
    assert "Sorry for the late parcel" in page.locator("table").first.inner_text()
    # A deduction the service refuses shows its message and keeps what was typed.
    page.fill("#f-points", "0")
    page.fill("#f-reason", "oops")
    page.click("#adjust-form button[type=submit]")
    page.wait_for_selector("#error-summary")
    assert "points must be a non-zero whole number" in page.locator("#error-summary").inner_text()
    expect(page.locator("#error-summary")).to_be_focused()  # admin.js moves focus on load
    assert page.input_value("#f-reason") == "oops"
    assert balance(page) == before + 25


def test_adjust_points_with_the_keyboard_only(page: Page, admin: Admin) -> None:
    sign_in(page, admin)
    page.goto(f"{admin.url}/admin/customers/{demo.DEMO_CUSTOMER_ID}")
    before = balance(page)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"  # skip link first
    page.keyboard.press("Enter")
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "f-points":
            break
    assert page.evaluate("document.activeElement.id") == "f-points"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # visible focus
    page.keyboard.type("-10")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "f-reason"
    page.keyboard.type("Returned item")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.tagName") == "BUTTON"
    page.keyboard.press("Enter")
    page.wait_for_selector(".notice")
    assert balance(page) == before - 10


def test_review_a_flagged_referral(page: Page, admin: Admin) -> None:
    referral_id = flagged_referral(admin.container, admin.shop_id)
    sign_in(page, admin)
    page.click("nav.sections >> text=Referral review")
    card = page.locator(f"#referral-{referral_id}")
    assert "self_referral" in card.inner_text()
    card.locator("input[name=note]").fill("Known regular")
    card.locator("button", has_text="Approve").click()
    page.wait_for_selector(".notice")
    assert f"Referral {referral_id} approved." in page.locator(".notice").inner_text()
    assert page.locator(f"#referral-{referral_id}").count() == 0
    assert "Nothing waiting for review." in page.locator("main").inner_text()


def test_create_a_reward(page: Page, admin: Admin) -> None:
    sign_in(page, admin)
    page.click("nav.sections >> text=Rewards")
    page.fill("#f-name", "Ten percent")
    page.select_option("#f-kind", "percentage")
    page.fill("#f-points_cost", "300")
    page.fill("#f-percent", "10")
    page.click("#reward-form button[type=submit]")
    page.wait_for_selector(".notice")
    assert "Reward created: Ten percent." in page.locator(".notice").inner_text()
    row = page.locator("tr", has_text="Ten percent")
    assert "Percentage off" in row.inner_text()
    assert "300" in row.inner_text()


@pytest.mark.parametrize("locale", ["en", "vi", "th"])
def test_no_accessibility_violations_on_any_page(page: Page, admin: Admin, locale: str) -> None:
    flagged_referral(admin.container, admin.shop_id)
    sign_in(page, admin, locale)
    assert page.get_attribute("html", "lang") == locale
    pages = [
        "/admin/",
        "/admin/customers",
        "/admin/customers?q=example",
        f"/admin/customers/{demo.DEMO_CUSTOMER_ID}",
        "/admin/referrals",
        "/admin/rewards",
    ]
    for path in pages:
        page.goto(f"{admin.url}{path}")
        assert axe_violations(page) == [], path
    # With the error summary and invalid fields showing.
    page.click("#reward-form button[type=submit]")
    page.wait_for_selector("#error-summary")
    assert axe_violations(page) == [], "rewards with errors"


def test_names_are_shown_as_text(page: Page, admin: Admin) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_in(page, admin)
    page.click("nav.sections >> text=Rewards")
    page.fill("#f-name", EVIL)
    page.select_option("#f-kind", "free_shipping")
    page.fill("#f-points_cost", "10")
    page.click("#reward-form button[type=submit]")
    page.wait_for_selector(".notice")
    assert EVIL in page.locator("table").inner_text()
    page.goto(f"{admin.url}/admin/customers?q={EVIL}")
    assert EVIL in page.locator("#q").input_value()
    assert dialogs == []


def test_embedded_in_shopify_forms_post_with_the_session_token(page: Page, admin: Admin) -> None:
    """App Bridge's stand-in gives tokens and, on the patch page, reloads with one."""
    token = session_token(demo.DEMO_DOMAIN)
    quoted = json.dumps(token)
    stand_in = (
        f"window.shopify = {{idToken: function () {{ return Promise.resolve({quoted}); }}}};"
        "var reload = new URLSearchParams(location.search).get('shopify-reload');"
        "if (reload) { location.replace(reload + (reload.indexOf('?') < 0 ? '?' : '&')"
        f" + 'id_token=' + {quoted}); }}"
    )
    seen: list[dict[str, str]] = []

    def app_bridge(route: Route) -> None:
        route.fulfill(status=200, content_type="text/javascript", body=stand_in)

    page.route("https://cdn.shopify.com/**", app_bridge)
    page.on(
        "request",
        lambda r: seen.append(r.headers) if r.method == "POST" and "/adjust" in r.url else None,
    )
    query = f"shop={demo.DEMO_DOMAIN}&host=YWRtaW4&embedded=1"
    page.goto(f"{admin.url}/admin/customers/{demo.DEMO_CUSTOMER_ID}?{query}&id_token={token}")
    assert page.get_attribute("body", "data-auth") == "shopify"
    before = balance(page)
    page.fill("#f-points", "7")
    page.fill("#f-reason", "Embedded")
    page.click("#adjust-form button[type=submit]")
    page.wait_for_selector(".notice")
    assert balance(page) == before + 7
    [posted] = seen
    assert posted["authorization"] == f"Bearer {token}"
    assert "cookie" not in posted
    # Errors come back into the page without leaving it.
    page.fill("#f-points", "x")
    page.click("#adjust-form button[type=submit]")
    page.wait_for_selector("#error-summary")
    assert re.search(r"points must be", page.locator("#error-summary").inner_text())
