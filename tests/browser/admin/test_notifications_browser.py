"""The notification pages in real headless Chromium: a merchant registers a webhook
endpoint against a real local receiver, sees its secret once, pings it, reads the
delivery in the log and replays it; edits a Vietnamese email template, previews it in
the sandboxed frame, saves it; turns an email type off. axe-core finds no violations on
these pages in English, Vietnamese and Thai, nor on forms showing errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from plugin_server import jobs
from tests.browser.admin.conftest import Admin, axe_violations, sign_in
from tests.webhook_receiver import Receiver


@pytest.fixture
def receiver(admin: Admin) -> Iterator[Receiver]:
    r = Receiver(admin.container.clock).start()
    yield r
    r.stop()


def delivered(admin: Admin) -> None:
    """Wait for the in-process worker the ping (or replay) woke."""
    dispatcher = admin.container.dispatcher
    assert isinstance(dispatcher, jobs.InlineDispatcher)
    dispatcher.join_webhooks(10)


def register(page: Page, admin: Admin, url: str) -> None:
    page.goto(f"{admin.url}/admin/webhooks")
    page.fill("#f-url", url)
    page.check("input[name=topics][value='points.earned']")
    page.click("#webhook-form button[type=submit]")


def test_register_ping_and_replay_a_webhook(page: Page, admin: Admin, receiver: Receiver) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    sign_in(page, admin)
    page.click("nav.sections >> text=Webhooks")
    page.fill("#f-url", receiver.url)
    page.check("input[name=topics][value='points.earned']")
    page.check("input[name=topics][value='tier.changed']")
    page.click("#webhook-form button[type=submit]")
    page.wait_for_selector("#webhook-secret")
    secret = page.input_value("#webhook-secret")
    assert secret.startswith("whsec_")
    assert "shown only this once" in page.inner_text("main")
    assert "HMAC-SHA256" in page.inner_text("main")
    page.click("text=Copy the secret")
    page.wait_for_selector("text=Copied.")
    assert page.evaluate("navigator.clipboard.readText()") == secret
    assert axe_violations(page) == []
    receiver.secrets.append(secret)

    page.click("text=Back to webhooks")
    row = page.locator("table.webhooks tbody tr").first
    assert receiver.url in row.inner_text()
    assert "Points earned, Tier changed" in row.inner_text()
    assert secret not in page.content()  # never again

    row.locator("button", has_text="Send a test").click()
    page.wait_for_selector(".notice")
    assert "test delivery" in page.inner_text(".notice")
    delivered(admin)
    page.reload()
    first = page.locator("table.deliveries tbody tr").first
    assert "Delivered" in first.locator(".status").inner_text()
    assert first.locator(".code").inner_text() == "204"
    assert receiver.received[-1].verified == {secret: True}

    first.locator("button", has_text="Send again").click()
    page.wait_for_selector(".notice")
    assert "queued to be sent again" in page.inner_text(".notice")
    delivered(admin)
    page.reload()
    assert "sent again" in page.locator("table.deliveries tbody tr").first.inner_text()
    assert len(receiver.received) == 2
    assert receiver.received[-1].headers.get("X-Loyalty-Redelivery") == "true"
    assert receiver.received[-1].verified == {secret: True}

    # The endpoint's list shows the last outcome; deleting asks first.
    page.goto(f"{admin.url}/admin/webhooks")
    assert "Delivered" in page.locator("table.webhooks tbody tr").first.inner_text()
    page.click("table.webhooks >> text=Delete")
    page.wait_for_selector("text=Delete this endpoint?")
    page.click("button:has-text('Delete the endpoint')")
    page.wait_for_selector(".notice")
    assert "No endpoints yet." in page.inner_text("main")


def test_a_refused_url_keeps_what_was_typed(page: Page, admin: Admin) -> None:
    sign_in(page, admin)
    register(page, admin, "ftp://files.example.com/in")
    page.wait_for_selector("#error-summary")
    assert "only http and https URLs are accepted" in page.inner_text("#error-summary")
    expect(page.locator("#error-summary")).to_be_focused()  # admin.js moves focus on load
    assert page.input_value("#f-url") == "ftp://files.example.com/in"
    assert page.is_checked("input[name=topics][value='points.earned']")


def is_blocked_frame_script(message: str) -> bool:
    return message.startswith("Blocked script execution in") and "/frame'" in message


def preview_text(page: Page) -> str:
    frame = page.frame_locator("#preview-frame")
    return frame.locator("body").inner_text(timeout=5000)


def test_edit_preview_and_save_a_vietnamese_template(page: Page, admin: Admin) -> None:
    sign_in(page, admin, "vi")
    page.click("nav.sections >> text=Email")
    page.click("#tl-points_expiring-vi")
    page.wait_for_selector("#f-subject")
    page.wait_for_function(
        "document.querySelector('#preview-frame').contentDocument === null"
    )  # sandboxed: the admin page cannot reach into it
    assert "Linh" in preview_text(page)  # the default, with sample data
    page.fill("#f-subject", "{{ customer_name }} ơi, điểm sắp hết hạn")
    page.fill(
        "#f-body_html",
        "<h1 style='color:#0a5'>Chào {{ customer_name }}</h1>"
        "<p>Còn {{ points }} điểm đến {{ expires_on }}.</p><script>parent.x=1</script>",
    )
    page.click("#preview-button")
    page.wait_for_selector("#preview-draft")
    assert page.inner_text("#preview-subject") == "Linh ơi, điểm sắp hết hạn"
    frame = page.frame_locator("#preview-frame")
    frame.locator("h1").wait_for(timeout=5000)
    assert frame.locator("h1").inner_text() == "Chào Linh"
    assert "Còn 120 điểm đến 2027-01-31." in preview_text(page)
    assert page.evaluate("window.x === undefined")  # the template's script never ran
    blocked = [e for e in admin.console_errors if is_blocked_frame_script(e)]
    assert blocked  # Chromium refused it: the frame is sandboxed without allow-scripts
    assert page.input_value("#f-subject") == "{{ customer_name }} ơi, điểm sắp hết hạn"

    page.click("#save-button")
    page.wait_for_selector(".notice")
    assert "Đã lưu mẫu." in page.inner_text(".notice")
    frame = page.frame_locator("#preview-frame")
    frame.locator("h1").wait_for(timeout=5000)
    assert frame.locator("h1").inner_text() == "Chào Linh"
    assert page.inner_text("#preview-subject") == "Linh ơi, điểm sắp hết hạn"
    assert "Bạn đã sửa mẫu này." in page.inner_text("main")

    page.click("text=Khôi phục nội dung mặc định")
    page.wait_for_selector(".notice")
    assert "Đây là nội dung mặc định." in page.inner_text("main")
    assert page.input_value("#f-body_html") == ""
    # Expected and checked above; anything else still fails the test at teardown.
    admin.console_errors[:] = [e for e in admin.console_errors if not is_blocked_frame_script(e)]


def test_a_template_syntax_error_names_its_line(page: Page, admin: Admin) -> None:
    sign_in(page, admin)
    page.goto(f"{admin.url}/admin/emails/templates/tier_changed/en")
    page.fill("#f-body_text", "Hello\n{{ customer_name }\n")
    page.click("#preview-button")
    page.wait_for_selector("#error-summary")
    assert "line 2:" in page.inner_text("#f-body_text-error")
    assert page.get_attribute("#f-body_text", "aria-invalid") == "true"
    assert page.input_value("#f-body_text") == "Hello\n{{ customer_name }\n"
    assert axe_violations(page) == []


def test_turn_an_email_type_off(page: Page, admin: Admin) -> None:
    sign_in(page, admin)
    page.goto(f"{admin.url}/admin/emails")
    assert page.inner_text("#template-tier_changed .state") == "On"
    page.uncheck("#f-type-tier_changed")
    page.click("#email-settings-form button[type=submit]")
    page.wait_for_selector(".notice")
    assert "Email settings saved." in page.inner_text(".notice")
    assert not page.is_checked("#f-type-tier_changed")
    assert page.inner_text("#template-tier_changed .state") == "Off"
    assert "no SMTP_URL" in page.inner_text("#smtp-state")


@pytest.mark.parametrize("locale", ["en", "vi", "th"])
def test_the_notification_pages_have_no_axe_violations(
    page: Page, admin: Admin, receiver: Receiver, locale: str
) -> None:
    sign_in(page, admin, locale)
    register(page, admin, receiver.url)
    page.wait_for_selector("#webhook-secret")
    assert axe_violations(page) == []
    page.goto(f"{admin.url}/admin/webhooks")
    page.locator("table.webhooks tbody tr").first.locator("form").nth(1).locator(
        "button"
    ).click()  # ping
    page.wait_for_selector(".notice")
    delivered(admin)
    pages = [
        "/admin/webhooks",
        "/admin/webhooks/deliveries",
        "/admin/webhooks/1/delete",
        "/admin/emails",
        "/admin/emails/templates/points_earned/th",
    ]
    for path in pages:
        page.goto(f"{admin.url}{path}")
        page.wait_for_selector("h1")
        assert page.get_attribute("html", "lang") == locale
        assert axe_violations(page) == [], path
    # Forms showing errors.
    register(page, admin, "not a url")
    page.wait_for_selector("#error-summary")
    assert axe_violations(page) == []
    page.goto(f"{admin.url}/admin/emails")
    page.fill("#f-sender_address", "nobody")
    page.click("#email-settings-form button[type=submit]")
    page.wait_for_selector("#error-summary")
    assert axe_violations(page) == []
    page.goto(f"{admin.url}/admin/emails/templates/points_earned/vi")
    page.fill("#f-subject", "{% if %}")
    page.click("#save-button")
    page.wait_for_selector("#error-summary")
    assert axe_violations(page) == []
    page.goto(f"{admin.url}/admin/webhooks/deliveries?status=lost")
    page.wait_for_selector("#error-summary")
    assert axe_violations(page) == []
