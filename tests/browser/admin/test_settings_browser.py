"""The settings pages in real headless Chromium: the widget's preview (the real widget in a
frame) follows what the merchant types before anything is saved, and once saved the
storefront API serves it; a program setting changes; an import is checked (its problem
rows listed by line) and then run; axe-core finds no violations in en, vi and th."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from flask.testing import FlaskClient
from playwright.sync_api import Dialog, FrameLocator, Page, expect

from plugin_server import create_app, demo
from plugin_server.sandbox.server import RunningSandbox, Sandbox
from plugin_server.sandbox.storefront import StorefrontDemo, proxy_signature
from plugin_server.services import program
from tests.browser.admin.conftest import Admin, axe_violations, sign_in
from tests.conftest import SHOPIFY_SECRET
from tests.integration.test_admin_app import EVIL, session_token

SAMPLES = Path(__file__).parents[3] / "docs" / "samples"


@pytest.fixture
def store_url(admin: Admin) -> Iterator[str]:
    """The demo storefront (the sandbox's), loading the real widget from the app."""
    state = Sandbox(
        storefront=StorefrontDemo(
            shop=demo.DEMO_DOMAIN,
            app_url=admin.url,
            client_secret=SHOPIFY_SECRET,
            demo_customer_id=demo.DEMO_CUSTOMER_ID,
        )
    )
    with RunningSandbox(state) as sandbox:
        yield sandbox.url


def storefront_settings(admin: Admin) -> dict[str, object]:
    """The settings the storefront API gives the widget (signed as Shopify's app proxy)."""
    params = [
        ("shop", demo.DEMO_DOMAIN),
        ("logged_in_customer_id", ""),
        ("path_prefix", "/apps/loyalty"),
        ("timestamp", str(int(time.time()))),
    ]
    params.append(("signature", proxy_signature(params, SHOPIFY_SECRET)))
    client = FlaskClient(create_app(container=admin.container))
    r = client.get(f"/storefront/v1/program?{urlencode(params)}")
    assert r.status_code == 200, r.get_data(as_text=True)
    settings: dict[str, object] = r.json["settings"]  # type: ignore[index]
    return settings


def preview(page: Page) -> FrameLocator:
    frame = page.frame_locator("#widget-preview")
    expect(frame.locator("#loyalty-panel .loyalty-title")).to_be_visible()
    return frame


def test_the_preview_follows_typing_and_saving_reaches_the_storefront(
    page: Page, admin: Admin, store_url: str
) -> None:
    sign_in(page, admin)
    page.click("nav.sections >> text=Widget")
    frame = preview(page)
    launcher = frame.locator("#loyalty-launcher")
    expect(launcher).to_have_text("Rewards")
    expect(frame.locator(".loyalty-balance")).to_contain_text("1,250")  # the sample member
    page.fill("#f-texts\\.en\\.launcher", "Earn & win")
    page.fill("#f-theme\\.accent", "#aa0000")
    page.fill("#f-texts\\.en\\.title", "Club points")
    expect(launcher).to_have_text("Earn & win")
    expect(launcher).to_have_css("background-color", "rgb(170, 0, 0)")
    expect(frame.locator(".loyalty-title")).to_have_text("Club points")
    button = frame.locator(".loyalty-panel .loyalty-button").first
    expect(button).to_have_css("background-color", "rgb(170, 0, 0)")
    # Typing moved nothing: the cursor is still in the field, and nothing is saved yet.
    assert page.evaluate("document.activeElement.id") == "f-texts.en.title"
    before = storefront_settings(admin)
    assert before["theme"]["accent"] != "#aa0000"  # type: ignore[index]
    assert "en" not in before["texts"]  # type: ignore[operator]
    # A colour the server would refuse is previewed as saved, and refused with its message.
    page.fill("#f-theme\\.accent", "red")
    expect(launcher).to_have_css("background-color", "rgb(31, 95, 139)")
    page.click("#widget-form button[type=submit]")
    expect(page.locator("#error-summary")).to_contain_text("theme.accent must be a #rrggbb")
    assert page.input_value("#f-texts\\.en\\.launcher") == "Earn & win"  # kept
    page.fill("#f-theme\\.accent", "#aa0000")
    page.click("#widget-form button[type=submit]")
    expect(page.locator(".notice")).to_be_visible()
    after = storefront_settings(admin)
    assert after["theme"]["accent"] == "#aa0000"  # type: ignore[index]
    assert after["texts"]["en"] == {"launcher": "Earn & win", "title": "Club points"}  # type: ignore[index]
    # The saved page's preview starts from the saved settings.
    expect(preview(page).locator("#loyalty-launcher")).to_have_text("Earn & win")
    # On the storefront, the widget takes them on as its panel opens.
    page.goto(store_url)
    page.click("#loyalty-launcher")
    expect(page.locator("#loyalty-title")).to_have_text("Club points")
    expect(page.locator("#loyalty-launcher")).to_have_text("Earn & win")
    expect(page.locator("#loyalty-launcher")).to_have_css("background-color", "rgb(170, 0, 0)")


def test_the_preview_switches_language_side_and_guest_view(page: Page, admin: Admin) -> None:
    sign_in(page, admin)
    page.goto(f"{admin.url}/admin/widget")
    preview(page)
    page.fill("#f-texts\\.vi\\.launcher", "Tích điểm")
    page.select_option("#preview-locale", "vi")
    frame = preview(page)
    expect(frame.locator("#loyalty-launcher")).to_have_text("Tích điểm")
    expect(frame.locator(".loyalty-title")).to_have_text("Ưu đãi")
    page.check("input[name=position][value=left]")
    expect(preview(page).locator("#loyalty-panel")).to_have_class("loyalty-panel loyalty-left")
    page.check("input[name=preview_as][value=guest]")
    expect(preview(page).locator(".loyalty-balance")).to_have_text("Tham gia chương trình ưu đãi")


def test_typed_markup_stays_text_in_the_preview(page: Page, admin: Admin) -> None:
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    sign_in(page, admin)
    page.goto(f"{admin.url}/admin/widget")
    frame = preview(page)
    evil = '<img src=x onerror="alert(2)">'
    page.fill("#f-texts\\.en\\.title", EVIL)
    page.fill("#f-texts\\.en\\.launcher", evil)
    expect(frame.locator(".loyalty-title")).to_have_text(EVIL)
    expect(frame.locator("#loyalty-launcher")).to_have_text(evil)
    assert frame.locator("img").count() == 0
    page.click("#widget-form button[type=submit]")
    expect(page.locator(".notice")).to_be_visible()
    expect(preview(page).locator(".loyalty-title")).to_have_text(EVIL)
    assert page.input_value("#f-texts\\.en\\.title") == EVIL
    assert dialogs == []


def test_change_a_program_setting(page: Page, admin: Admin) -> None:
    sign_in(page, admin)
    page.click("nav.sections >> text=Settings")
    page.fill("#f-points_per_unit", "0")
    page.click("#program-form button[type=submit]")
    summary = page.locator("#error-summary")
    expect(summary).to_contain_text("points_per_unit must be above 0")
    expect(page.locator("#error-summary")).to_be_focused()  # admin.js moves focus on load
    page.fill("#f-points_per_unit", "2.5")
    page.fill("#f-pending_days", "14")
    page.select_option("#f-expiry_policy", "batch")
    page.check("#f-include_shipping")
    page.click("#program-form button[type=submit]")
    expect(page.locator(".notice")).to_have_text("Program settings saved.")
    saved = program.get_program(admin.container.uow(), admin.shop_id)
    assert saved["points_per_unit"] == "2.5"
    assert saved["pending_days"] == 14
    assert saved["expiry"]["policy"] == "batch"
    assert saved["include_shipping"] is True
    assert page.input_value("#f-points_per_unit") == "2.5"


def balance(page: Page, admin: Admin) -> int:
    page.goto(f"{admin.url}/admin/customers/{demo.DEMO_CUSTOMER_ID}")
    return int(page.locator("#balance").inner_text())


def test_check_an_import_then_run_it(page: Page, admin: Admin) -> None:
    sign_in(page, admin)
    before = balance(page, admin)
    page.click("nav.sections >> text=Import & export")
    for layout in ("Smile.io", "LoyaltyLion", "customer_id"):
        expect(page.locator("#import-title + h3 + ul")).to_contain_text(layout)
    page.set_input_files("#f-file", str(SAMPLES / "bad-rows.csv"))
    page.click("#import-form button[value=dry_run]")
    report = page.locator("#import-report")
    expect(report).to_contain_text("4 of 5 rows cannot be imported")
    rows = report.locator("tbody tr")
    assert rows.nth(0).locator("td").nth(0).inner_text() == "3"
    assert "email" in rows.nth(0).locator("td").nth(1).inner_text()
    assert [rows.nth(i).locator("td").first.inner_text() for i in range(4)] == [
        "3",
        "4",
        "5",
        "6",
    ]
    assert balance(page, admin) == before  # a dry run writes nothing
    page.goto(f"{admin.url}/admin/exports")
    page.set_input_files("#f-file", str(SAMPLES / "members-import.csv"))
    page.click("#import-form button[value=dry_run]")
    expect(page.locator("#import-report")).to_contain_text("All 3 rows can be imported")
    # The file stays chosen after the check: import it as it is.
    page.fill("#f-name", "Old program")
    page.click("#import-form button[value=import]")
    expect(page.locator(".notice")).to_contain_text("recorded")
    row = page.locator("#imports tbody tr").first
    expect(row).to_contain_text("Old program")
    expect(row).to_contain_text("Completed")
    assert balance(page, admin) == before + 250


@pytest.mark.parametrize("locale", ["en", "vi", "th"])
def test_no_accessibility_violations_on_the_settings_pages(
    page: Page, admin: Admin, locale: str
) -> None:
    sign_in(page, admin, locale)
    for path in ("/admin/widget", "/admin/settings", "/admin/exports"):
        page.goto(f"{admin.url}{path}")
        page.wait_for_selector("h1")
        assert page.get_attribute("html", "lang") == locale
        assert axe_violations(page) == [], path
    # And with errors showing.
    page.goto(f"{admin.url}/admin/widget")
    page.fill("#f-theme\\.radius", "big")
    page.click("#widget-form button[type=submit]")
    page.wait_for_selector("#error-summary")
    assert axe_violations(page) == [], "widget with errors"
    page.goto(f"{admin.url}/admin/settings")
    page.fill("#f-pending_days", "many")
    page.click("#program-form button[type=submit]")
    page.wait_for_selector("#error-summary")
    assert axe_violations(page) == [], "settings with errors"
    page.goto(f"{admin.url}/admin/exports")
    page.set_input_files("#f-file", str(SAMPLES / "bad-rows.csv"))
    page.click("#import-form button[value=dry_run]")
    page.wait_for_selector("#import-report")
    page.fill("#f-since", "2026-02-01")
    page.fill("#f-until", "2026-01-01")
    page.click("#ledger-form button[type=submit]")
    page.wait_for_selector("#error-summary")
    assert axe_violations(page) == [], "exports with errors"


def test_embedded_in_shopify_downloads_and_imports_use_the_session_token(
    page: Page, admin: Admin
) -> None:
    """No cookies in Shopify's frame: App Bridge's stand-in gives the session token."""
    token = session_token(demo.DEMO_DOMAIN)
    given = json.dumps(token)
    stand_in = f"window.shopify = {{idToken: function () {{ return Promise.resolve({given}); }}}};"
    page.route(
        "https://cdn.shopify.com/**",
        lambda route: route.fulfill(status=200, content_type="text/javascript", body=stand_in),
    )
    sent: list[dict[str, str]] = []
    page.on("request", lambda r: sent.append(r.headers) if "/admin/" in r.url else None)
    query = f"shop={demo.DEMO_DOMAIN}&host=YWRtaW4&embedded=1"
    page.goto(f"{admin.url}/admin/exports?{query}&id_token={token}")
    assert page.get_attribute("body", "data-auth") == "shopify"
    with page.expect_download() as got:
        page.click("a[href*='members.csv']")
    assert got.value.suggested_filename == "members.csv"
    assert Path(got.value.path()).read_bytes().startswith(b"customer_id,email,first_name")
    with page.expect_download() as got:
        page.click("#ledger-form button[type=submit]")
    assert got.value.suggested_filename == "ledger.csv"
    page.set_input_files("#f-file", str(SAMPLES / "bad-rows.csv"))
    page.click("#import-form button[value=dry_run]")
    expect(page.locator("#import-report")).to_contain_text("4 of 5 rows cannot be imported")
    fetched = [h for h in sent if h.get("authorization")]
    assert len(fetched) == 3
    assert all(h["authorization"] == f"Bearer {token}" and "cookie" not in h for h in fetched)
