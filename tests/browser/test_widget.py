"""The widget in real headless Chromium (the system's, driven by Playwright) on the demo
storefront: the sandbox serves the shop's pages and app proxy, the app serves the API."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from flask import Flask
from playwright.sync_api import Browser, Page, Route, sync_playwright
from werkzeug.serving import make_server

from plugin_server import create_app, demo, jobs
from plugin_server.bootstrap import Container
from plugin_server.domain.expiry import months_after
from plugin_server.sandbox.server import RunningSandbox, Sandbox
from plugin_server.sandbox.storefront import StorefrontDemo
from tests.conftest import SHOPIFY_SECRET, FakeClock

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
AXE = Path(__file__).parents[2] / "storefront_widget" / "node_modules" / "axe-core" / "axe.min.js"

if CHROMIUM is None or not AXE.exists():
    pytest.fail(
        "browser tests need the system Chromium and axe-core: run ./scripts/test, which "
        "installs both",
        pytrace=False,
    )


@dataclass
class Store:
    url: str  # the storefront (sandbox)
    app_url: str
    api_key: str
    sandbox: RunningSandbox
    console_errors: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield instance
        instance.close()


@pytest.fixture
def store(container: Container) -> Iterator[Store]:
    server = make_server("127.0.0.1", 0, Flask("placeholder"), threaded=True)
    app_url = f"http://127.0.0.1:{server.server_port}"
    server.app = create_app(container=container)  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state = Sandbox(
        storefront=StorefrontDemo(
            shop=demo.DEMO_DOMAIN,
            app_url=app_url,
            client_secret=SHOPIFY_SECRET,
            demo_customer_id=demo.DEMO_CUSTOMER_ID,
        )
    )
    with RunningSandbox(state) as sandbox:
        shop = demo.set_up(container, sandbox_url=sandbox.url, showcase=False)
        state.shopify_shop(demo.DEMO_DOMAIN, access_token=shop.access_token)
        try:
            yield Store(sandbox.url, app_url, shop.api_key, sandbox)
        finally:
            server.shutdown()
            thread.join(timeout=5)


@pytest.fixture
def page(browser: Browser, store: Store) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=store.url)
    tab = context.new_page()
    tab.on("console", lambda m: store.console_errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: store.console_errors.append(str(e)))
    yield tab
    context.close()
    assert store.console_errors == []


def open_panel(page: Page, store: Store, query: str = "") -> None:
    page.goto(f"{store.url}/{query}")
    page.click("#loyalty-launcher")
    page.wait_for_selector(".loyalty-reward")


def test_member_sees_balance_redeems_copies_and_applies(page: Page, store: Store) -> None:
    open_panel(page, store)
    panel = page.locator("#loyalty-panel")
    assert panel.get_attribute("role") == "dialog"
    assert page.locator(".loyalty-balance").inner_text() == "179 points"
    assert page.locator("#loyalty-launcher").get_attribute("aria-expanded") == "true"
    progress = page.locator(".loyalty-progress").nth(3)  # 400-point reward: 179/400
    assert progress.get_attribute("aria-valuenow") == "45"

    page.click("button[data-reward='1']")  # $5 off, 50 points
    code = page.locator(".loyalty-code").first
    code.wait_for()
    text = code.inner_text()
    assert text.startswith("LOYAL-")
    assert page.locator(".loyalty-balance").inner_text() == "129 points"
    at_store = requests.get(
        f"{store.url}/_sandbox/shopify/{demo.DEMO_DOMAIN}/discounts", timeout=5
    ).json()["discounts"]
    assert [d["code"] for d in at_store] == [text]

    page.click(f"button[aria-label='Copy {text}']")
    page.wait_for_function(
        "document.querySelector('.loyalty-status').textContent.includes('Copied')"
    )
    assert page.evaluate("navigator.clipboard.readText()") == text

    page.click("text=Apply at checkout")
    page.wait_for_url(f"**/discount/{text}")
    assert text in page.locator("h1").inner_text()


@pytest.mark.parametrize(
    ("locale", "launcher", "title", "balance"),
    [("vi", "Ưu đãi", "Ưu đãi", "179 điểm"), ("th", "รางวัล", "รางวัล", "179 คะแนน")],
)
def test_locale_from_the_storefront_and_switchable(
    page: Page, store: Store, locale: str, launcher: str, title: str, balance: str
) -> None:
    open_panel(page, store, f"?locale={locale}")
    assert page.locator("#loyalty-launcher").inner_text() == launcher
    assert page.locator("#loyalty-title").inner_text() == title
    assert page.locator(".loyalty-balance").inner_text() == balance
    page.select_option(".loyalty-locale", "en")
    assert page.locator("#loyalty-title").inner_text() == "Rewards"
    assert page.locator(".loyalty-balance").inner_text() == "179 points"


def test_merchant_texts_and_theme_apply(page: Page, store: Store) -> None:
    r = requests.patch(
        f"{store.app_url}/api/v1/widget",
        headers={"Authorization": f"Bearer {store.api_key}"},
        json={
            "theme": {"accent": "#aa3300"},
            "texts": {"en": {"title": "Club Points", "earn_rule": "{n} stars per 1.00"}},
        },
        timeout=5,
    )
    assert r.status_code == 200
    open_panel(page, store)
    assert page.locator("#loyalty-title").inner_text() == "Club Points"
    page.context.add_cookies([{"name": "sandbox_customer", "value": "guest", "url": store.url}])
    open_panel(page, store)
    # The merchant's text wins even where ours would pick a singular form (1 point per 1.00).
    assert "1 stars per 1.00" in page.locator(".loyalty-body").inner_text()
    accent = page.evaluate(
        "getComputedStyle(document.querySelector('#loyalty-panel')).getPropertyValue('--loyalty-accent')"
    )
    assert accent.strip() == "#aa3300"


def test_guest_sees_the_program_and_sign_in(page: Page, store: Store) -> None:
    page.context.add_cookies([{"name": "sandbox_customer", "value": "guest", "url": store.url}])
    open_panel(page, store)
    body = page.locator(".loyalty-body").inner_text()
    assert "Join our rewards program" in body
    assert "1 point for every 1.00 you spend" in body  # English plural rules: 1 point
    assert page.locator("button[data-reward]").count() == 0
    assert page.locator("a", has_text="Sign in").last.get_attribute("href") == "/account/login"


def test_keyboard_only(page: Page, store: Store) -> None:
    page.goto(store.url)
    page.wait_for_selector("#loyalty-launcher")
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "loyalty-launcher":
            break
    assert page.evaluate("document.activeElement.id") == "loyalty-launcher"
    page.keyboard.press("Enter")
    page.wait_for_selector(".loyalty-reward")
    inside = "document.getElementById('loyalty-panel').contains(document.activeElement)"
    assert page.evaluate(inside)
    for _ in range(25):  # focus stays trapped in the open panel
        page.keyboard.press("Tab")
        assert page.evaluate(inside)
    for _ in range(5):
        page.keyboard.press("Shift+Tab")
        assert page.evaluate(inside)
    # Redeem with the keyboard.
    page.focus("button[data-reward='1']")
    page.keyboard.press("Enter")
    page.locator(".loyalty-code").first.wait_for()
    page.keyboard.press("Escape")
    assert page.locator("#loyalty-panel").is_hidden()
    assert page.evaluate("document.activeElement.id") == "loyalty-launcher"
    assert page.locator("#loyalty-launcher").get_attribute("aria-expanded") == "false"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # visible focus


def axe_violations(page: Page) -> list[dict[str, Any]]:
    # Colours are only what they are once the panel's fade-in has finished.
    page.wait_for_function("document.getAnimations().every(a => a.playState !== 'running')")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [v for v in result["violations"] if v["impact"] in ("serious", "critical")]


def test_no_serious_accessibility_violations(page: Page, store: Store) -> None:
    open_panel(page, store)
    page.click("button[data-reward='1']")
    page.locator(".loyalty-code").first.wait_for()
    assert axe_violations(page) == []
    page.context.add_cookies([{"name": "sandbox_customer", "value": "guest", "url": store.url}])
    open_panel(page, store)
    assert axe_violations(page) == []


def test_reduced_motion_turns_the_animation_off(browser: Browser, store: Store) -> None:
    context = browser.new_context(reduced_motion="reduce")
    tab = context.new_page()
    tab.goto(store.url)
    tab.click("#loyalty-launcher")
    tab.wait_for_selector(".loyalty-reward")
    assert (
        tab.evaluate("getComputedStyle(document.getElementById('loyalty-panel')).animationName")
        == "none"
    )
    context.close()


def test_merchant_strings_render_as_text_never_html(page: Page, store: Store) -> None:
    evil = "<img src=x onerror=alert(1)>"
    r = requests.post(
        f"{store.app_url}/api/v1/rewards",
        headers={"Authorization": f"Bearer {store.api_key}"},
        json={"name": evil, "kind": "free_shipping", "points_cost": 10},
        timeout=5,
    )
    assert r.status_code == 201
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    open_panel(page, store)
    names = page.locator(".loyalty-reward-name").all_inner_texts()
    assert evil in names
    assert page.locator("#loyalty-panel img").count() == 0
    assert dialogs == []


def test_pages_load_only_the_loader_until_the_shopper_reaches_for_it(
    page: Page, store: Store
) -> None:
    fetched: list[str] = []
    page.on("request", lambda r: fetched.append(r.url.split("?")[0].rsplit("/", 1)[-1]))
    page.goto(store.url)
    page.wait_for_load_state("networkidle")
    assert "loader.js" in fetched
    assert not {"panel.js", "panel.css", "summary"} & set(fetched)
    box = page.locator("#loyalty-launcher").bounding_box()
    assert box is not None
    assert box["height"] == 48  # reserved size, fixed position: nothing shifts
    page.hover("#loyalty-launcher")  # intent: the panel starts loading
    page.wait_for_function("window.LoyaltyPanel !== undefined")
    assert {"panel.js", "panel.css"} <= set(fetched)
    assert "summary" not in fetched  # data only when opened


@pytest.mark.parametrize(
    ("status", "code", "shown"),
    [
        (401, "token_expired", "Your session has ended. Reload the page to see your rewards."),
        (401, "stale_request", "Your session has ended. Reload the page to see your rewards."),
        (429, "rate_limited", "Too many tries. Wait a moment and try again."),
        (500, "internal_error", "Something went wrong. Try again."),
    ],
)
def test_failures_are_told_in_words_the_shopper_can_act_on(
    page: Page, store: Store, status: int, code: str, shown: str
) -> None:
    page.route(
        "**/apps/loyalty/summary",
        lambda route: route.fulfill(
            status=status, json={"error": {"code": code, "message": "from the test"}}
        ),
    )
    page.goto(store.url)
    page.click("#loyalty-launcher")
    status_line = page.locator(".loyalty-status")
    status_line.wait_for(state="attached")
    page.wait_for_function("document.querySelector('.loyalty-status').textContent.length > 0")
    assert status_line.inner_text() == shown
    # The browser reports the failed answer itself on the console; nothing else may appear.
    assert all("status of" in e for e in store.console_errors)
    store.console_errors.clear()


def set_expiry(store: Store, policy: str, months: int) -> None:
    r = requests.patch(
        f"{store.app_url}/api/v1/program",
        headers={"Authorization": f"Bearer {store.api_key}"},
        json={"expiry_policy": policy, "expiry_months": months},
        timeout=5,
    )
    assert r.status_code == 200, r.text


def open_panel_reading_summary(page: Page, store: Store, query: str = "") -> dict[str, Any]:
    """Open the panel and return the summary the widget rendered."""
    page.goto(f"{store.url}/{query}")
    with page.expect_response("**/apps/loyalty/summary*") as answer:
        page.click("#loyalty-launcher")
    page.wait_for_selector(".loyalty-reward")
    summary: dict[str, Any] = answer.value.json()
    return summary


MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def browser_date(page: Page, iso: str) -> date:
    """The calendar day of `iso` where the shopper is (the browser's time zone)."""
    zone = page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone")
    return datetime.fromisoformat(iso).astimezone(ZoneInfo(zone)).date()


def test_expiring_points_and_the_rule_in_english_and_vietnamese(
    page: Page, store: Store, clock: FakeClock
) -> None:
    earned = clock()  # the demo's orders were paid just now: one batch each
    set_expiry(store, "batch", 12)
    summary = open_panel_reading_summary(page, store)
    assert summary["program"]["expiry"] == {"policy": "batch", "months": 12}
    expiring = summary["member"]["expiring"]
    assert expiring is not None
    at = datetime.fromisoformat(expiring["at"])
    assert abs(at - months_after(earned, 12)) < timedelta(minutes=5)
    # The next to expire: the first order's batch (59.90 earns 59); the second's comes later.
    points, day = expiring["points"], browser_date(page, expiring["at"])
    assert points == 59

    line = page.locator(".loyalty-summary .loyalty-expiring")
    rule = page.locator(".loyalty-summary .loyalty-expiry-rule")
    month = MONTHS[day.month - 1]
    assert line.inner_text() == f"59 points expire on {month} {day.day}, {day.year}"
    assert rule.inner_text() == "Points expire 12 months after you earn them."
    assert line.evaluate("n => n.previousElementSibling.className") == "loyalty-balance"
    assert axe_violations(page) == []

    page.select_option(".loyalty-locale", "vi")
    assert line.inner_text() == (
        f"59 điểm sẽ hết hạn vào ngày {day.day} thg {day.month}, {day.year}"
    )
    assert rule.inner_text() == "Điểm sẽ hết hạn sau 12 tháng kể từ khi bạn tích được."

    open_panel(page, store, "?locale=vi")  # and straight from the storefront's locale
    assert page.locator(".loyalty-expiring").inner_text().startswith("59 điểm sẽ hết hạn")
    assert axe_violations(page) == []

    # Guests see the rule where the program says how to earn, and nothing expiring.
    page.context.add_cookies([{"name": "sandbox_customer", "value": "guest", "url": store.url}])
    open_panel(page, store)
    earn = page.locator("[data-slot='ways_to_earn'] .loyalty-expiry-rule")
    assert earn.inner_text() == "Points expire 12 months after you earn them."
    assert page.locator(".loyalty-expiring").count() == 0
    assert axe_violations(page) == []
    page.select_option(".loyalty-locale", "vi")
    assert earn.inner_text() == "Điểm sẽ hết hạn sau 12 tháng kể từ khi bạn tích được."


def test_no_expiry_lines_when_points_never_expire(page: Page, store: Store) -> None:
    set_expiry(store, "never", 12)
    summary = open_panel_reading_summary(page, store)
    assert summary["program"]["expiry"]["policy"] == "never"
    assert summary["member"]["expiring"] is None
    assert page.locator(".loyalty-expiring, .loyalty-expiry-rule").count() == 0


@pytest.mark.parametrize(
    ("locale", "expiring", "rule"),
    [
        (
            "en",
            "1 point expires on ",
            "Points expire after 1 month without earning or redeeming.",
        ),
        (
            "vi",
            "1 điểm sẽ hết hạn vào ngày ",
            "Điểm sẽ hết hạn nếu bạn không tích hoặc đổi điểm trong 1 tháng.",
        ),
        (
            "th",
            "1 คะแนนจะหมดอายุในวันที่ ",
            "คะแนนจะหมดอายุหากไม่มีการสะสมหรือแลกคะแนนเป็นเวลา 1 เดือน",
        ),
    ],
)
def test_inactivity_rule_and_a_single_expiring_point(
    page: Page, store: Store, locale: str, expiring: str, rule: str
) -> None:
    set_expiry(store, "inactivity", 1)

    def one_point(route: Route) -> None:
        summary = route.fetch().json()
        summary["member"]["expiring"] = {"points": 1, "at": "2027-01-05T10:00:00+00:00"}
        route.fulfill(json=summary)

    page.route("**/apps/loyalty/summary*", one_point)
    open_panel(page, store, f"?locale={locale}")
    when = page.evaluate(
        "new Intl.DateTimeFormat(document.getElementById('loyalty-panel').lang, "
        "{dateStyle: 'medium'}).format(new Date('2027-01-05T10:00:00+00:00'))"
    )
    assert page.locator(".loyalty-expiring").inner_text() == expiring + when
    assert page.locator(".loyalty-expiry-rule").inner_text() == rule


# --- earning rules ----------------------------------------------------------------------

RULES: list[dict[str, Any]] = [
    {"kind": "signup", "key": "welcome", "name": "Welcome bonus", "points": 50},
    {
        "kind": "activity",
        "key": "product_review",
        "name": "Product review",
        "points": 20,
        "limit_count": 2,
        "limit_period": "day",
    },
    {
        "kind": "activity",
        "key": "follow",
        "name": "Follow us",
        "points": 1,
        "limit_count": 1,
        "limit_period": "week",
    },
    {
        "kind": "activity",
        "key": "photo",
        "name": "Photo review",
        "points": 30,
        "limit_count": 3,
        "limit_period": "month",
    },
    {
        "kind": "activity",
        "key": "birthday",
        "name": "Birthday",
        "points": 100,
        "limit_count": 1,
        "limit_period": "lifetime",
    },
    {
        "kind": "activity",
        "key": "quiz",
        "name": "Style quiz",
        "points": 5,
        "limit_count": 5,
        "limit_period": "lifetime",
    },
    # No limit; and a merchant's name is text, whatever it looks like.
    {"kind": "activity", "key": "share", "name": "Share <b>us</b>", "points": 10},
]


def admin_api(store: Store, path: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(
        f"{store.app_url}/api/v1{path}",
        headers={"Authorization": f"Bearer {store.api_key}"},
        json=body,
        timeout=5,
    )


def create_rules(store: Store) -> None:
    for rule in RULES:
        r = admin_api(store, "/earning-rules", rule)
        assert r.status_code == 201, r.text


def record_activity(store: Store, rule: str, reference: str) -> requests.Response:
    return admin_api(
        store,
        f"/customers/{demo.DEMO_CUSTOMER_ID}/activities",
        {"rule": rule, "reference": reference},
    )


def clear_of_midnight(clock: FakeClock, margin_s: float = 30) -> None:
    """Day, week and month limits restart at UTC midnight: a test that records activities
    and then reads what is left starts just after one rather than just before."""
    now = clock()
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    wait = (midnight - now).total_seconds()
    if wait < margin_s:
        time.sleep(wait + 1)


def ways_to_earn(page: Page) -> list[str]:
    return page.locator("[data-slot='ways_to_earn'] li").all_inner_texts()


@pytest.mark.parametrize(
    ("locale", "lines"),
    [
        (
            "en",
            [
                "Welcome bonus: 50 points when you create an account",
                "1 point for every 1.00 you spend",
                "Product review: 20 points, up to 2 times a day",
                "Follow us: 1 point, once a week",
                "Photo review: 30 points, up to 3 times a month",
                "Birthday: 100 points, once",
                "Style quiz: 5 points, up to 5 times",
                "Share <b>us</b>: 10 points",
            ],
        ),
        (
            "vi",
            [
                "Welcome bonus: 50 điểm khi bạn tạo tài khoản",
                "1 điểm cho mỗi 1.00 bạn chi tiêu",
                "Product review: 20 điểm, tối đa 2 lần mỗi ngày",
                "Follow us: 1 điểm, tối đa 1 lần mỗi tuần",
                "Photo review: 30 điểm, tối đa 3 lần mỗi tháng",
                "Birthday: 100 điểm, tối đa 1 lần",
                "Style quiz: 5 điểm, tối đa 5 lần",
                "Share <b>us</b>: 10 điểm",
            ],
        ),
        (
            "th",
            [
                "Welcome bonus: 50 คะแนนเมื่อคุณสร้างบัญชี",
                "1 คะแนนทุกการใช้จ่าย 1.00",
                "Product review: 20 คะแนน สูงสุด 2 ครั้งต่อวัน",
                "Follow us: 1 คะแนน สูงสุด 1 ครั้งต่อสัปดาห์",
                "Photo review: 30 คะแนน สูงสุด 3 ครั้งต่อเดือน",
                "Birthday: 100 คะแนน สูงสุด 1 ครั้ง",
                "Style quiz: 5 คะแนน สูงสุด 5 ครั้ง",
                "Share <b>us</b>: 10 คะแนน",
            ],
        ),
    ],
)
def test_guest_sees_the_ways_to_earn_with_their_limits(
    page: Page, store: Store, locale: str, lines: list[str]
) -> None:
    create_rules(store)
    set_expiry(store, "batch", 12)
    page.context.add_cookies([{"name": "sandbox_customer", "value": "guest", "url": store.url}])
    summary = open_panel_reading_summary(page, store, f"?locale={locale}")
    assert [r["key"] for r in summary["program"]["ways_to_earn"]] == [r["key"] for r in RULES]
    assert ways_to_earn(page) == lines
    # The rules sit with the order rule and the expiry rule, where a guest reads how to earn.
    assert page.locator("[data-slot='ways_to_earn'] .loyalty-expiry-rule").count() == 1
    assert page.locator("#loyalty-panel b").count() == 0
    assert axe_violations(page) == []


def test_guest_without_rules_sees_only_the_order_rule(page: Page, store: Store) -> None:
    page.context.add_cookies([{"name": "sandbox_customer", "value": "guest", "url": store.url}])
    open_panel(page, store)
    assert ways_to_earn(page) == ["1 point for every 1.00 you spend"]


def test_member_sees_what_each_activity_still_pays(
    page: Page, store: Store, clock: FakeClock
) -> None:
    create_rules(store)
    clear_of_midnight(clock)
    for rule, reference in (("product_review", "r1"), ("follow", "f1"), ("birthday", "b1")):
        r = record_activity(store, rule, reference)
        assert r.status_code == 201, r.text

    summary = open_panel_reading_summary(page, store)
    remaining = {a["key"]: a["remaining"] for a in summary["member"]["activities"]}
    assert remaining == {
        "product_review": 1,
        "follow": 0,
        "photo": 3,
        "birthday": 0,
        "quiz": 5,
        "share": None,
    }
    assert page.locator(".loyalty-balance").inner_text() == "300 points"  # 179 + 20 + 1 + 100
    # Activities only: a member has signed up already, and orders are told elsewhere.
    assert ways_to_earn(page) == [
        "Product review · 20 points · 1 left today",
        "Follow us · 1 point · none left this week",
        "Photo review · 30 points · 3 left this month",
        "Birthday · 100 points · none left",
        "Style quiz · 5 points · 5 left",
        "Share <b>us</b> · 10 points",
    ]
    assert page.locator("#loyalty-panel b").count() == 0
    assert axe_violations(page) == []
    # The section adds nothing to tab through: focus stays trapped in the panel.
    inside = "document.getElementById('loyalty-panel').contains(document.activeElement)"
    for _ in range(15):
        page.keyboard.press("Tab")
        assert page.evaluate(inside)

    # The second review of the day uses the limit up; a third is refused.
    assert record_activity(store, "product_review", "r2").status_code == 201
    assert record_activity(store, "product_review", "r3").status_code == 409
    open_panel(page, store)
    review = page.locator("[data-slot='ways_to_earn'] li[data-rule='product_review']")
    assert review.inner_text() == "Product review · 20 points · none left today"
    assert page.locator(".loyalty-balance").inner_text() == "320 points"
    assert axe_violations(page) == []

    page.select_option(".loyalty-locale", "vi")
    assert ways_to_earn(page) == [
        "Product review · 20 điểm · hôm nay đã hết lượt",
        "Follow us · 1 điểm · tuần này đã hết lượt",
        "Photo review · 30 điểm · tháng này còn 3 lượt",
        "Birthday · 100 điểm · đã hết lượt",
        "Style quiz · 5 điểm · còn 5 lượt",
        "Share <b>us</b> · 10 điểm",
    ]
    assert page.locator("#loyalty-panel").get_attribute("lang") == "vi"
    page.select_option(".loyalty-locale", "th")
    assert ways_to_earn(page) == [
        "Product review · 20 คะแนน · วันนี้ใช้สิทธิ์ครบแล้ว",
        "Follow us · 1 คะแนน · สัปดาห์นี้ใช้สิทธิ์ครบแล้ว",
        "Photo review · 30 คะแนน · เดือนนี้เหลืออีก 3 ครั้ง",
        "Birthday · 100 คะแนน · ใช้สิทธิ์ครบแล้ว",
        "Style quiz · 5 คะแนน · เหลืออีก 5 ครั้ง",
        "Share <b>us</b> · 10 คะแนน",
    ]
    assert axe_violations(page) == []


def test_member_without_activity_rules_sees_no_ways_to_earn(page: Page, store: Store) -> None:
    r = admin_api(store, "/earning-rules", RULES[0])  # a sign-up bonus only
    assert r.status_code == 201, r.text
    open_panel(page, store)
    assert page.locator("[data-slot='ways_to_earn']").count() == 0


# --- VIP tiers ----------------------------------------------------------------------------

TIMES = "\N{MULTIPLICATION SIGN}"  # "1.5 times points": not the letter x
SILVER = {"name": "Silver", "threshold": 100, "multiplier": "1.25", "entry_points": 10}
GOLD = {"name": "Gold", "threshold": 300, "multiplier": "1.5", "entry_points": 100}


def set_up_tiers(
    store: Store, container: Container, *tiers: dict[str, Any], **qualifying: str
) -> None:
    """The shop's tiers and how members qualify; then the scheduler's pass places Ann (the
    demo's orders: 59.90 and 120.00, so 179 points earned, 179.90 spent, 2 orders)."""
    if qualifying:
        r = requests.patch(
            f"{store.app_url}/api/v1/program",
            headers={"Authorization": f"Bearer {store.api_key}"},
            json=qualifying,
            timeout=5,
        )
        assert r.status_code == 200, r.text
    for tier in tiers:
        r = admin_api(store, "/tiers", tier)
        assert r.status_code == 201, r.text
    jobs.tick(container)


def tier_slot(page: Page) -> dict[str, Any]:
    slot = page.locator("[data-slot='tier']")
    progress = slot.locator("[role='progressbar']")
    return {
        "heading": slot.locator("h3").inner_text(),
        "lines": slot.locator("p").all_inner_texts(),
        "progress": (
            {
                "now": progress.get_attribute("aria-valuenow"),
                "min": progress.get_attribute("aria-valuemin"),
                "max": progress.get_attribute("aria-valuemax"),
                "label": progress.get_attribute("aria-label"),
            }
            if progress.count()
            else None
        ),
    }


def test_member_sees_their_tier_and_the_way_to_the_next(
    page: Page, store: Store, container: Container
) -> None:
    set_up_tiers(store, container, SILVER, GOLD)
    summary = open_panel_reading_summary(page, store)
    tier = summary["member"]["tier"]
    assert tier["current"]["name"] == "Silver"
    assert (tier["value"], tier["next"]["name"], tier["next"]["remaining"]) == (
        "179",
        "Gold",
        "121",
    )
    # Reaching Silver paid its 10 entry points.
    assert page.locator(".loyalty-balance").inner_text() == "189 points"
    slot = page.locator("[data-slot='tier']")
    assert slot.evaluate("n => n.previousElementSibling.className") == "loyalty-summary"
    assert slot.locator(".loyalty-badge").inner_text() == "Silver"
    assert tier_slot(page) == {
        "heading": "YOUR VIP TIER",  # headings are set in capitals
        "lines": [
            "Silver",
            f"You earn 1.25{TIMES} points on orders",
            "121 more points to Gold",
            f"Gold: 1.5{TIMES} points and 100 bonus points when you get there",
        ],
        "progress": {"now": "60", "min": "0", "max": "100", "label": "Progress to Gold"},
    }
    assert axe_violations(page) == []

    page.select_option(".loyalty-locale", "vi")
    assert tier_slot(page) == {
        "heading": "HẠNG THÀNH VIÊN CỦA BẠN",
        "lines": [
            "Silver",
            "Bạn được nhận điểm gấp 1,25 lần cho mỗi đơn hàng",
            "Cần thêm 121 điểm để lên hạng Gold",
            "Gold: điểm gấp 1,5 lần và thưởng 100 điểm khi lên hạng",
        ],
        "progress": {"now": "60", "min": "0", "max": "100", "label": "Tiến độ lên hạng Gold"},
    }
    page.select_option(".loyalty-locale", "th")
    assert tier_slot(page)["lines"] == [
        "Silver",
        "คุณได้รับคะแนน 1.25 เท่าจากทุกคำสั่งซื้อ",
        "สะสมอีก 121 คะแนนเพื่อเลื่อนเป็นระดับ Gold",
        "Gold: คะแนน 1.5 เท่าและโบนัส 100 คะแนนเมื่อเลื่อนถึงระดับนี้",
    ]
    assert axe_violations(page) == []


def test_member_without_a_tier_yet(page: Page, store: Store, container: Container) -> None:
    plain = {"name": "Silver <i>club</i>", "threshold": 1000, "entry_points": 1}
    set_up_tiers(store, container, plain)
    open_panel(page, store)
    assert tier_slot(page) == {
        "heading": "YOUR VIP TIER",
        "lines": [
            "No tier yet",
            "821 more points to Silver <i>club</i>",
            "Silver <i>club</i>: 1 bonus point when you get there",  # no multiplier to tell
        ],
        "progress": {
            "now": "18",
            "min": "0",
            "max": "100",
            "label": "Progress to Silver <i>club</i>",
        },
    }
    assert page.locator(".loyalty-badge, #loyalty-panel i").count() == 0
    assert axe_violations(page) == []
    page.select_option(".loyalty-locale", "vi")
    assert tier_slot(page)["lines"] == [
        "Bạn chưa có hạng",
        "Cần thêm 821 điểm để lên hạng Silver <i>club</i>",
        "Silver <i>club</i>: thưởng 1 điểm khi lên hạng",
    ]


@pytest.mark.parametrize(
    ("locale", "lines"),
    [
        ("en", ["Gold", f"You earn 1.5{TIMES} points on orders", "You're at our top tier"]),
        (
            "vi",
            ["Gold", "Bạn được nhận điểm gấp 1,5 lần cho mỗi đơn hàng", "Bạn đang ở hạng cao nhất"],
        ),
        ("th", ["Gold", "คุณได้รับคะแนน 1.5 เท่าจากทุกคำสั่งซื้อ", "คุณอยู่ในระดับสูงสุดแล้ว"]),
    ],
)
def test_member_at_the_top_tier(
    page: Page, store: Store, container: Container, locale: str, lines: list[str]
) -> None:
    set_up_tiers(store, container, SILVER, {**GOLD, "threshold": 150})
    open_panel(page, store, f"?locale={locale}")
    slot = tier_slot(page)
    assert slot["lines"] == lines
    assert slot["progress"] is None
    assert axe_violations(page) == []


def test_member_counted_by_orders_this_rolling_year(
    page: Page, store: Store, container: Container
) -> None:
    set_up_tiers(
        store,
        container,
        {**SILVER, "threshold": 1},
        {**GOLD, "threshold": 3},
        tier_measure="orders",
        tier_period="rolling_12_months",
    )
    open_panel(page, store)
    assert tier_slot(page)["lines"][2:] == [
        "1 more order to Gold",  # 2 orders of 3: English says it in the singular
        f"Gold: 1.5{TIMES} points and 100 bonus points when you get there",
        "Tiers count your orders in the last 12 months.",
    ]
    assert tier_slot(page)["progress"]["now"] == "67"  # type: ignore[index]
    page.select_option(".loyalty-locale", "vi")
    assert tier_slot(page)["lines"][2:] == [
        "Cần thêm 1 đơn hàng để lên hạng Gold",
        "Gold: điểm gấp 1,5 lần và thưởng 100 điểm khi lên hạng",
        "Hạng được xét theo số đơn hàng của bạn trong 12 tháng gần nhất.",
    ]
    page.select_option(".loyalty-locale", "th")
    assert tier_slot(page)["lines"][2:] == [
        "สั่งซื้ออีก 1 ครั้งเพื่อเลื่อนเป็นระดับ Gold",
        "Gold: คะแนน 1.5 เท่าและโบนัส 100 คะแนนเมื่อเลื่อนถึงระดับนี้",
        "ระดับสมาชิกคำนวณจากจำนวนคำสั่งซื้อของคุณในช่วง 12 เดือนที่ผ่านมา",
    ]


def test_member_counted_by_amount_spent_this_year(
    page: Page, store: Store, container: Container
) -> None:
    set_up_tiers(
        store,
        container,
        SILVER,
        {**GOLD, "threshold": "500.50"},
        tier_measure="amount_spent",
        tier_period="calendar_year",
    )
    summary = open_panel_reading_summary(page, store)
    assert summary["member"]["tier"]["next"]["remaining"] == "320.6"  # 500.50 - 179.90
    # Money in the currency of the shop's rewards (USD in the demo).
    assert tier_slot(page)["lines"][2:] == [
        "$320.60 more to spend for Gold",
        f"Gold: 1.5{TIMES} points and 100 bonus points when you get there",
        "Tiers count what you spend this year.",
    ]
    assert tier_slot(page)["progress"]["now"] == "36"  # type: ignore[index]
    assert axe_violations(page) == []
    page.select_option(".loyalty-locale", "vi")
    # Intl keeps the amount and its currency together with a no-break space.
    assert (
        tier_slot(page)["lines"][2] == "Chi tiêu thêm 320,60\N{NO-BREAK SPACE}US$ để lên hạng Gold"
    )
    assert tier_slot(page)["lines"][4] == "Hạng được xét theo số tiền bạn chi tiêu trong năm nay."

    # Without a reward in money, the widget knows no currency: a plain number.
    def no_currency(route: Route) -> None:
        summary = route.fetch().json()
        for reward in summary["program"]["rewards"]:
            reward["currency"] = None
        route.fulfill(json=summary)

    page.route("**/apps/loyalty/summary*", no_currency)
    open_panel(page, store)
    assert tier_slot(page)["lines"][2] == "320.6 more to spend for Gold"


@pytest.mark.parametrize(
    ("locale", "heading", "lines", "counts"),
    [
        (
            "en",
            "VIP TIERS",
            [f"Silver: from 100 points earned · 1.25{TIMES} points", "Gold: from 1 point earned"],
            "Tiers count the points you earn this year.",
        ),
        (
            "vi",
            "HẠNG THÀNH VIÊN VIP",
            ["Silver: từ 100 điểm tích lũy · điểm gấp 1,25 lần", "Gold: từ 1 điểm tích lũy"],
            "Hạng được xét theo số điểm bạn tích lũy trong năm nay.",
        ),
        (
            "th",
            "ระดับสมาชิก VIP",
            ["Silver: เมื่อสะสมครบ 100 คะแนน · คะแนน 1.25 เท่า", "Gold: เมื่อสะสมครบ 1 คะแนน"],
            "ระดับสมาชิกคำนวณจากคะแนนที่คุณสะสมในปีนี้",
        ),
    ],
)
def test_guest_sees_the_tiers(
    page: Page,
    store: Store,
    container: Container,
    locale: str,
    heading: str,
    lines: list[str],
    counts: str,
) -> None:
    # Listed lowest first, whatever order the merchant created them in.
    set_up_tiers(
        store,
        container,
        SILVER,
        {"name": "Gold", "threshold": 1, "multiplier": "1"},
        tier_period="calendar_year",
    )
    page.context.add_cookies([{"name": "sandbox_customer", "value": "guest", "url": store.url}])
    open_panel(page, store, f"?locale={locale}")
    tiers = page.locator("[data-slot='tiers']")
    assert tiers.locator("h3").inner_text() == heading
    assert tiers.locator("li").all_inner_texts() == lines[::-1]
    assert tiers.locator(".loyalty-muted").inner_text() == counts
    # With the ways to earn, where a guest reads about the program; nothing of a member's.
    assert tiers.evaluate("n => n.previousElementSibling.dataset.slot") == "ways_to_earn"
    assert page.locator("[data-slot='tier'], [role='progressbar']").count() == 0
    assert axe_violations(page) == []


def test_no_tiers_no_tier_lines(page: Page, store: Store) -> None:
    summary = open_panel_reading_summary(page, store)
    assert summary["program"]["tiers"] is None
    assert summary["member"]["tier"] is None
    assert page.locator("[data-slot='tier']").is_hidden()
    assert page.locator("[data-slot='tier']").inner_text() == ""
    page.context.add_cookies([{"name": "sandbox_customer", "value": "guest", "url": store.url}])
    open_panel(page, store)
    assert page.locator("[data-slot='tiers'], [data-slot='tier']").count() == 0


# --- rewards only a tier may redeem --------------------------------------------------------


def tier_ids(store: Store) -> dict[str, int]:
    r = requests.get(
        f"{store.app_url}/api/v1/tiers",
        headers={"Authorization": f"Bearer {store.api_key}"},
        timeout=5,
    )
    assert r.status_code == 200, r.text
    return {t["name"]: t["id"] for t in r.json()["tiers"]}


def tier_rewards(store: Store, container: Container) -> dict[str, int]:
    """Silver and Gold (Ann is Silver, 189 points with its entry bonus) and three rewards
    for a tier only; returns their ids by name."""
    set_up_tiers(store, container, SILVER, GOLD)
    ids = tier_ids(store)
    made = {}
    for name, cost, tier in (
        ("Gold gift", 20, "Gold"),  # points enough, tier too low
        ("Gold trip", 1000, "Gold"),  # neither
        ("Silver treat", 30, "Silver"),  # Ann's own tier
    ):
        r = admin_api(
            store,
            "/rewards",
            {"name": name, "kind": "free_shipping", "points_cost": cost, "min_tier_id": ids[tier]},
        )
        assert r.status_code == 201, r.text
        made[name] = r.json()["id"]
    return made


def reward_row(page: Page, name: str) -> Any:
    return page.locator(".loyalty-reward", has=page.locator(".loyalty-reward-name", has_text=name))


def test_member_below_a_rewards_tier_sees_the_label_and_no_redeem(
    page: Page, store: Store, container: Container
) -> None:
    made = tier_rewards(store, container)
    summary = open_panel_reading_summary(page, store)
    assert summary["member"]["tier"]["current"]["name"] == "Silver"
    can = {r["name"]: r["can_redeem"] for r in summary["program"]["rewards"]}
    assert (can["Gold gift"], can["Gold trip"], can["Silver treat"]) == (False, False, True)
    assert page.locator(".loyalty-balance").inner_text() == "189 points"

    gift, trip, treat = (reward_row(page, n) for n in ("Gold gift", "Gold trip", "Silver treat"))
    assert gift.locator(".loyalty-badge").inner_text() == "Gold only"
    assert gift.locator("button").count() == 0
    assert gift.locator(".loyalty-muted").count() == 0  # the points are there: no "more to go"
    assert trip.locator(".loyalty-badge").inner_text() == "Gold only"
    assert trip.locator("button").count() == 0
    assert trip.locator(".loyalty-muted").inner_text() == "811 more points to go"
    assert treat.locator(".loyalty-badge").inner_text() == "Silver only"
    # Rewards for everyone carry no label.
    assert reward_row(page, "$5 off").locator(".loyalty-badge").count() == 0
    assert axe_violations(page) == []

    # The tier-only rewards Ann may not redeem have nothing to tab to; her own tier's has.
    inside = "document.getElementById('loyalty-panel').contains(document.activeElement)"
    reached = set()
    page.focus(".loyalty-close")
    for _ in range(40):
        page.keyboard.press("Tab")
        assert page.evaluate(inside)
        reached.add(page.evaluate("document.activeElement.dataset.reward || ''"))
    assert str(made["Silver treat"]) in reached
    assert not {str(made["Gold gift"]), str(made["Gold trip"])} & reached

    # Redeeming at her tier works, from the keyboard.
    page.focus(f"button[data-reward='{made['Silver treat']}']")
    page.keyboard.press("Enter")
    code = page.locator("[data-slot='your_codes'] .loyalty-code").first
    code.wait_for()
    assert status_text(page) == f"Your code {code.inner_text()} is ready."
    assert page.locator(".loyalty-balance").inner_text() == "159 points"
    assert axe_violations(page) == []

    page.select_option(".loyalty-locale", "vi")
    assert gift.locator(".loyalty-badge").inner_text() == "Chỉ dành cho hạng Gold"
    page.select_option(".loyalty-locale", "th")
    assert gift.locator(".loyalty-badge").inner_text() == "เฉพาะระดับ Gold"
    assert axe_violations(page) == []


def test_member_at_a_rewards_tier_redeems_it(
    page: Page, store: Store, container: Container
) -> None:
    tier_rewards(store, container)
    # Gold from 150: Ann (179 earned) gets there, with its 100 entry points.
    r = requests.patch(
        f"{store.app_url}/api/v1/tiers/{tier_ids(store)['Gold']}",
        headers={"Authorization": f"Bearer {store.api_key}"},
        json={"threshold": 150},
        timeout=5,
    )
    assert r.status_code == 200, r.text
    jobs.tick(container)
    summary = open_panel_reading_summary(page, store)
    assert summary["member"]["tier"]["current"]["name"] == "Gold"
    gift = reward_row(page, "Gold gift")
    assert gift.locator(".loyalty-badge").inner_text() == "Gold only"
    # Gold is above Silver: the Silver reward is Ann's too.
    assert reward_row(page, "Silver treat").locator("button").count() == 1
    balance = page.locator(".loyalty-balance").inner_text()
    gift.locator("button").click()
    code = page.locator("[data-slot='your_codes'] .loyalty-code").first
    code.wait_for()
    assert code.inner_text().startswith("LOYAL-")
    assert balance != page.locator(".loyalty-balance").inner_text()
    assert axe_violations(page) == []


@pytest.mark.parametrize(("locale", "label"), [("en", "Gold only"), ("th", "เฉพาะระดับ Gold")])
def test_guest_sees_which_rewards_need_a_tier(
    page: Page, store: Store, container: Container, locale: str, label: str
) -> None:
    tier_rewards(store, container)
    as_guest(page, store)
    open_panel(page, store, f"?locale={locale}")
    assert reward_row(page, "Gold gift").locator(".loyalty-badge").inner_text() == label
    assert page.locator("button[data-reward]").count() == 0
    assert axe_violations(page) == []


# --- bonus campaigns and products that never earn -------------------------------------------


def bonus_rules(store: Store, clock: FakeClock, *extra: dict[str, Any]) -> str:
    """Two running campaigns (a multiplier, a fixed bonus) and an exclusion; returns the
    campaigns' end."""
    ends = (clock() + timedelta(days=10)).replace(microsecond=0)
    ends_at = ends.astimezone(ZoneInfo("UTC")).isoformat().replace("+00:00", "Z")
    for rule in (
        {
            "kind": "bonus",
            "key": "sunglasses",
            "name": "Double points on sunglasses",
            "multiplier": "2",
            "ends_at": ends_at,
            "product_ids": ["2"],
        },
        {
            "kind": "bonus",
            "key": "weekend",
            "name": "Weekend <b>bonus</b>",
            "points": 25,
            "ends_at": ends_at,
            "product_ids": [],
            "min_subtotal": "50",
        },
        {"kind": "exclusion", "key": "gift-cards", "name": "Gift cards", "product_ids": ["3"]},
        *extra,
    ):
        r = admin_api(store, "/earning-rules", rule)
        assert r.status_code == 201, r.text
    return ends_at


@pytest.mark.parametrize(
    ("locale", "lines", "never"),
    [
        (
            "en",
            [
                "1 point for every 1.00 you spend",
                f"Double points on sunglasses: 2{TIMES} points until {{d}}",
                "Weekend <b>bonus</b>: +25 points per order until {d}",
            ],
            "Gift cards: no points earned",
        ),
        (
            "vi",
            [
                "1 điểm cho mỗi 1.00 bạn chi tiêu",
                "Double points on sunglasses: điểm gấp 2 lần đến {d}",
                "Weekend <b>bonus</b>: +25 điểm cho mỗi đơn hàng đến {d}",
            ],
            "Gift cards: không được tích điểm",
        ),
        (
            "th",
            [
                "1 คะแนนทุกการใช้จ่าย 1.00",
                "Double points on sunglasses: คะแนน 2 เท่า ถึง {d}",
                "Weekend <b>bonus</b>: +25 คะแนนต่อคำสั่งซื้อ ถึง {d}",
            ],
            "Gift cards: ไม่ได้รับคะแนน",
        ),
    ],
)
def test_guest_sees_bonus_campaigns_and_what_never_earns(
    page: Page, store: Store, clock: FakeClock, locale: str, lines: list[str], never: str
) -> None:
    ends_at = bonus_rules(store, clock)
    set_expiry(store, "batch", 12)
    as_guest(page, store)
    summary = open_panel_reading_summary(page, store, f"?locale={locale}")
    program = summary["program"]
    assert [w["kind"] for w in program["ways_to_earn"]] == ["bonus", "bonus"]
    assert [n["name"] for n in program["never_earn"]] == ["Gift cards"]
    until = medium_date(page, ends_at)
    assert ways_to_earn(page) == [line.replace("{d}", until) for line in lines]
    muted_lines = page.locator("[data-slot='ways_to_earn'] .loyalty-muted")
    # What never earns, then when points expire.
    assert muted_lines.nth(0).inner_text() == never
    assert muted_lines.nth(1).get_attribute("class") == "loyalty-muted loyalty-expiry-rule"
    assert page.locator("#loyalty-panel b").count() == 0
    assert axe_violations(page) == []


def test_member_sees_bonus_campaigns_and_what_never_earns(
    page: Page, store: Store, clock: FakeClock
) -> None:
    sale = {"kind": "exclusion", "key": "sale", "name": "Sale items", "product_ids": ["4"]}
    ends_at = bonus_rules(store, clock, sale, RULES[1])  # and one activity
    open_panel_reading_summary(page, store)
    until = medium_date(page, ends_at)
    # The campaigns (about orders) first, then the activities.
    assert ways_to_earn(page) == [
        f"Double points on sunglasses: 2{TIMES} points until {until}",
        f"Weekend <b>bonus</b>: +25 points per order until {until}",
        "Product review · 20 points · 2 left today",
    ]
    slot = page.locator("[data-slot='ways_to_earn']")
    assert slot.locator(".loyalty-muted").inner_text() == (
        "Gift cards and Sale items: no points earned"
    )
    assert axe_violations(page) == []
    page.select_option(".loyalty-locale", "vi")
    until = medium_date(page, ends_at)
    assert ways_to_earn(page)[0] == f"Double points on sunglasses: điểm gấp 2 lần đến {until}"
    assert slot.locator(".loyalty-muted").inner_text() == (
        "Gift cards và Sale items: không được tích điểm"
    )
    assert axe_violations(page) == []


def test_member_with_only_an_exclusion_sees_just_that_line(page: Page, store: Store) -> None:
    r = admin_api(
        store,
        "/earning-rules",
        {"kind": "exclusion", "key": "gift-cards", "name": "Gift cards", "product_ids": ["3"]},
    )
    assert r.status_code == 201, r.text
    open_panel(page, store)
    slot = page.locator("[data-slot='ways_to_earn']")
    assert slot.locator("ul").count() == 0
    assert slot.locator("p").all_inner_texts() == ["Gift cards: no points earned"]
    assert axe_violations(page) == []


# --- birthday ------------------------------------------------------------------------------

BIRTHDAY_RULE = {"kind": "birthday", "key": "birthday", "name": "Birthday treat", "points": 100}


def birthday_slot(page: Page) -> Any:
    return page.locator("[data-slot='birthday']")


def medium_date(page: Page, iso: str) -> str:
    return str(
        page.evaluate(
            "iso => new Intl.DateTimeFormat(document.getElementById('loyalty-panel').lang, "
            "{dateStyle: 'medium'}).format(new Date(iso))",
            iso,
        )
    )


def save_birthday(page: Page, month: str, day: str) -> dict[str, Any]:
    """Pick a date in the form, save it and return the summary the widget read next."""
    slot = birthday_slot(page)
    slot.locator("select").nth(0).select_option(month)
    slot.locator("select").nth(1).select_option(day)
    with page.expect_response("**/apps/loyalty/summary*") as answer:
        slot.locator("button[type='submit']").click()
    summary: dict[str, Any] = answer.value.json()
    page.wait_for_function("document.querySelector('.loyalty-status').textContent.length > 0")
    return summary


def test_member_sets_and_changes_their_birthday(page: Page, store: Store) -> None:
    assert admin_api(store, "/earning-rules", BIRTHDAY_RULE).status_code == 201
    summary = open_panel_reading_summary(page, store)
    assert summary["member"]["birthday"] is None
    assert [r["kind"] for r in summary["program"]["ways_to_earn"]] == ["birthday"]
    slot = birthday_slot(page)
    assert slot.locator("h3").inner_text().lower() == "your birthday"
    assert "Birthday treat: 100 points on your birthday" in slot.inner_text()
    month, day = slot.get_by_label("Month"), slot.get_by_label("Day")
    assert month.locator("option").all_inner_texts()[6] == "July"
    # Only days the month has: 29 February (a birthday), no 31 April.
    month.select_option("2")
    assert day.locator("option").count() == 29
    month.select_option("4")
    assert day.locator("option").count() == 30
    assert axe_violations(page) == []

    summary = save_birthday(page, "7", "14")
    birthday = summary["member"]["birthday"]
    assert (birthday["month"], birthday["day"]) == (7, 14)
    start = datetime.fromisoformat(birthday["bonus_from"])
    assert start - datetime.fromisoformat(birthday["set_at"]) == timedelta(days=30)
    from_on = (
        f"Your birthday treat arrives on the day (from {medium_date(page, start.isoformat())} on)."
    )
    assert page.locator(".loyalty-status").inner_text() == f"Birthday saved: July 14. {from_on}"
    slot = birthday_slot(page)
    assert slot.locator(".loyalty-birthday-date").inner_text().startswith("July 14")
    assert from_on in slot.inner_text()
    assert slot.locator("form").is_hidden()
    # Focus lands on Change, in the row that now shows the date.
    assert page.evaluate("document.activeElement.textContent") == "Change"
    assert axe_violations(page) == []

    page.keyboard.press("Enter")  # Change, from the keyboard
    assert slot.locator("form").is_visible()
    assert page.evaluate("document.activeElement.tagName") == "SELECT"
    assert slot.get_by_label("Month").input_value() == "7"
    assert slot.get_by_label("Day").input_value() == "14"
    assert "A new date restarts the 30-day wait for the treat." in slot.inner_text()
    summary = save_birthday(page, "12", "25")
    birthday = summary["member"]["birthday"]
    assert (birthday["month"], birthday["day"]) == (12, 25)
    assert page.locator(".loyalty-status").inner_text().startswith("Birthday saved: December 25.")
    assert (
        birthday_slot(page).locator(".loyalty-birthday-date").inner_text().startswith("December 25")
    )
    assert axe_violations(page) == []

    # Guests read the treat with the other ways to earn, and get no form.
    page.context.add_cookies([{"name": "sandbox_customer", "value": "guest", "url": store.url}])
    open_panel(page, store)
    assert ways_to_earn(page) == [
        "1 point for every 1.00 you spend",
        "Birthday treat: 100 points on your birthday",
    ]
    assert birthday_slot(page).count() == 0


def test_an_impossible_date_is_told_in_words(page: Page, store: Store) -> None:
    assert admin_api(store, "/earning-rules", BIRTHDAY_RULE).status_code == 201
    # The app's answer to 30 February, had the form offered it.
    page.route(
        "**/apps/loyalty/birthday*",
        lambda route: route.fulfill(
            status=400,
            json={
                "error": {
                    "code": "validation_failed",
                    "message": "day does not exist in that month",
                    "fields": {"day": "day does not exist in that month"},
                }
            },
        ),
    )
    open_panel(page, store)
    slot = birthday_slot(page)
    slot.locator("button[type='submit']").click()
    page.wait_for_function("document.querySelector('.loyalty-status').textContent.length > 0")
    assert page.locator(".loyalty-status").inner_text() == (
        "That date doesn't exist. Pick another day."
    )
    assert slot.locator("button[type='submit']").is_enabled()  # free to try again
    assert slot.locator("form").is_visible()
    # The browser reports the failed answer itself on the console; nothing else may appear.
    assert all("status of" in e for e in store.console_errors)
    store.console_errors.clear()


def test_member_sets_their_birthday_in_vietnamese(page: Page, store: Store) -> None:
    assert admin_api(store, "/earning-rules", BIRTHDAY_RULE).status_code == 201
    open_panel_reading_summary(page, store, "?locale=vi")
    slot = birthday_slot(page)
    assert slot.locator("h3").inner_text().lower() == "sinh nhật của bạn"
    assert "Birthday treat: 100 điểm vào ngày sinh nhật của bạn" in slot.inner_text()
    assert slot.get_by_label("Tháng").locator("option").nth(6).inner_text() == "Tháng 7"
    summary = save_birthday(page, "7", "14")
    start = medium_date(page, summary["member"]["birthday"]["bonus_from"])
    assert page.locator(".loyalty-status").inner_text() == (
        "Đã lưu ngày sinh nhật: 14 tháng 7. "
        f"Quà sinh nhật sẽ đến đúng ngày sinh nhật của bạn (từ {start} trở đi)."
    )
    assert page.evaluate("document.activeElement.textContent") == "Thay đổi"
    assert axe_violations(page) == []


def test_no_birthday_row_without_a_birthday_rule(page: Page, store: Store) -> None:
    summary = open_panel_reading_summary(page, store)
    assert summary["program"]["ways_to_earn"] == []
    assert birthday_slot(page).count() == 0
    assert page.locator("#loyalty-panel form, #loyalty-panel .loyalty-birthday").count() == 0


# --- referrals -----------------------------------------------------------------------------

REFERRAL_CAMPAIGN = {
    "name": "Give 10%, get 200",
    "starts_at": "2020-01-01T00:00:00Z",
    "friend_discount_kind": "percentage",
    "friend_discount_value": "10",
    "advocate_reward_kind": "points",
    "advocate_points": 200,
    "min_order_subtotal": "30",
}


def start_referrals(store: Store) -> str:
    """A live referral campaign; returns Ann's code (the demo shopper is the advocate)."""
    r = admin_api(store, "/referral-campaigns", REFERRAL_CAMPAIGN)
    assert r.status_code == 201, r.text
    r = requests.get(
        f"{store.app_url}/api/v1/customers/{demo.DEMO_CUSTOMER_ID}",
        headers={"Authorization": f"Bearer {store.api_key}"},
        timeout=5,
    )
    code: str = r.json()["referral"]["code"]
    return code


def referral_slot(page: Page) -> Any:
    return page.locator("[data-slot='referral']")


def gift_slot(page: Page) -> Any:
    return page.locator("[data-slot='gift']")


def status_text(page: Page) -> str:
    page.wait_for_function("document.querySelector('.loyalty-status').textContent.length > 0")
    return str(page.locator(".loyalty-status").inner_text())


def as_guest(page: Page, store: Store) -> None:
    page.context.add_cookies([{"name": "sandbox_customer", "value": "guest", "url": store.url}])


@pytest.mark.parametrize(
    ("locale", "heading", "lines", "label", "copy"),
    [
        (
            "en",
            "REFER A FRIEND",
            [
                "Friends get 10% off their first order.",
                "You get 200 points for each friend who orders.",
                "Their first order must reach $30.00.",
                "Friends: 0 joined, 0 pending, 0 rewarded",
            ],
            "Your link",
            "Copy",
        ),
        (
            "vi",
            "GIỚI THIỆU BẠN BÈ",
            [
                "Bạn bè được giảm 10% cho đơn hàng đầu tiên.",
                "Bạn được 200 điểm cho mỗi người bạn đặt hàng.",
                "Đơn hàng đầu tiên của bạn bè cần đạt từ 30,00\N{NO-BREAK SPACE}US$.",
                "Bạn bè: 0 đã tham gia, 0 đang chờ, 0 đã được thưởng",
            ],
            "Liên kết của bạn",
            "Sao chép",
        ),
        (
            "th",
            "แนะนำเพื่อน",
            [
                "เพื่อนจะได้รับส่วนลด 10% สำหรับคำสั่งซื้อแรก",
                "คุณจะได้รับ 200 คะแนน ต่อเพื่อนแต่ละคนที่สั่งซื้อ",
                "คำสั่งซื้อแรกของเพื่อนต้องมียอดตั้งแต่ US$30.00",
                "เพื่อน: เข้าร่วม 0 คน รอดำเนินการ 0 คน ได้รับรางวัลแล้ว 0 คน",
            ],
            "ลิงก์ของคุณ",
            "คัดลอก",
        ),
    ],
)
def test_member_copies_their_referral_link(
    page: Page,
    store: Store,
    locale: str,
    heading: str,
    lines: list[str],
    label: str,
    copy: str,
) -> None:
    code = start_referrals(store)
    summary = open_panel_reading_summary(page, store, f"?locale={locale}")
    assert summary["member"]["referral"]["code"] == code
    slot = referral_slot(page)
    assert slot.locator("h3").inner_text() == heading
    texts = slot.locator("p").all_inner_texts()
    assert [*texts[:3], texts[-1]] == lines
    # The app links to the shop's domain, which in the demo is this sandbox storefront.
    link = slot.get_by_label(label)
    assert link.input_value() == f"{store.url}/?ref={code}"
    assert link.get_attribute("readonly") is not None
    # Headless Chromium on Linux has no share sheet: no Share button then.
    assert page.evaluate("'share' in navigator") is False
    assert slot.locator("button").all_inner_texts() == [copy]
    assert axe_violations(page) == []

    # Keyboard: Tab from the top of the panel reaches the link, then Copy.
    page.focus(".loyalty-close")
    reached = []
    for _ in range(40):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("document.activeElement.closest('[data-slot]')?.dataset.slot"))
        if page.evaluate("document.activeElement.tagName") == "INPUT":
            break
    assert reached[-1] == "referral"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == copy
    page.keyboard.press("Enter")
    assert f"{store.url}/?ref={code}" in status_text(page)  # "Copied <link>"
    assert page.evaluate("navigator.clipboard.readText()") == f"{store.url}/?ref={code}"
    # The link is selected too, for Ctrl+C where the clipboard is shut.
    selected = link.evaluate("n => n.value.slice(n.selectionStart, n.selectionEnd)")
    assert selected == link.input_value()


def test_member_shares_their_link_where_there_is_a_share_sheet(page: Page, store: Store) -> None:
    code = start_referrals(store)
    page.add_init_script(
        "navigator.share = data => { window.shared = data; return Promise.resolve(); };"
    )
    open_panel(page, store)
    slot = referral_slot(page)
    assert slot.locator("button").all_inner_texts() == ["Copy", "Share"]
    slot.get_by_role("button", name="Share").click()
    assert page.evaluate("window.shared") == {
        "text": "Ann gave you 10% off your first order.",
        "url": f"{store.url}/?ref={code}",
    }
    assert axe_violations(page) == []


def test_no_referral_block_without_a_live_campaign(page: Page, store: Store) -> None:
    summary = open_panel_reading_summary(page, store)
    assert summary["member"]["referral"] is None
    assert summary["program"]["referral"] is None
    assert referral_slot(page).count() == 0


def cart_attributes(page: Page) -> dict[str, str]:
    for _ in range(50):  # the loader tells the cart without waiting for it
        found: dict[str, str] = page.evaluate(
            "fetch('/cart.js').then(r => r.json()).then(c => c.attributes)"
        )
        if found:
            return found
        time.sleep(0.1)
    return {}


def test_a_friend_arrives_through_the_link_and_gets_their_code(page: Page, store: Store) -> None:
    code = start_referrals(store)
    as_guest(page, store)
    page.goto(f"{store.url}/?ref={code.lower()}")  # as typed, in any case
    launcher = page.locator("#loyalty-launcher")
    assert launcher.inner_text() == "A gift for you"
    # The cart carries the code to the order (the fallback when the discount is not used).
    assert cart_attributes(page) == {"loyalty_referral": code}

    launcher.click()
    gift = gift_slot(page)
    gift.wait_for()
    assert gift.locator("h3").inner_text() == "A GIFT FOR YOU"
    assert gift.locator("p").first.inner_text() == "Ann gave you 10% off your first order."
    # The offer comes first; the program follows for a guest.
    assert gift.evaluate("n => n.nextElementSibling.className") == "loyalty-summary"
    assert axe_violations(page) == []

    email = gift.get_by_label("Email")
    assert email.get_attribute("type") == "email"
    email.fill("bao@example.com")
    email.press("Enter")  # submit from the keyboard
    shown = status_text(page)
    friend_code = gift.locator(".loyalty-code").inner_text()
    assert shown == f"Your code {friend_code} is ready."
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == (
        f"Copy {friend_code}"
    )
    assert gift.locator("form").count() == 0
    at_store = requests.get(
        f"{store.url}/_sandbox/shopify/{demo.DEMO_DOMAIN}/discounts", timeout=5
    ).json()["discounts"]
    assert friend_code in [d["code"] for d in at_store]
    assert axe_violations(page) == []

    # Back another day on this device: the gift is there, the launcher is plain again.
    page.goto(store.url)
    assert launcher.inner_text() == "Rewards"
    launcher.click()
    gift.wait_for()
    assert gift.locator(".loyalty-code").inner_text() == friend_code
    gift.get_by_role("link", name="Apply at checkout").click()
    page.wait_for_url(f"**/discount/{friend_code}")
    assert f"loyalty_referral: {code}" in page.locator("main").inner_text()


@pytest.mark.parametrize(
    ("locale", "launcher", "gift_line", "email_label", "button", "own_link"),
    [
        (
            "vi",
            "Quà tặng cho bạn",
            "Ann tặng bạn ưu đãi giảm 10% cho đơn hàng đầu tiên.",
            "Email",
            "Nhận mã của tôi",
            "Đây là liên kết của bạn: hãy chia sẻ với bạn bè.",
        ),
        (
            "th",
            "ของขวัญสำหรับคุณ",
            "Ann มอบส่วนลด 10% สำหรับคำสั่งซื้อแรกของคุณ",
            "อีเมล",
            "รับโค้ดของฉัน",
            "นี่คือลิงก์ของคุณเอง แชร์ให้เพื่อนได้เลย",
        ),
    ],
)
def test_the_friends_offer_in_vietnamese_and_thai(
    page: Page,
    store: Store,
    locale: str,
    launcher: str,
    gift_line: str,
    email_label: str,
    button: str,
    own_link: str,
) -> None:
    code = start_referrals(store)
    as_guest(page, store)
    page.goto(f"{store.url}/?ref={code}&locale={locale}")
    assert page.locator("#loyalty-launcher").inner_text() == launcher
    page.click("#loyalty-launcher")
    gift = gift_slot(page)
    gift.wait_for()
    assert gift.locator("p").first.inner_text() == gift_line
    assert gift.get_by_label(email_label).count() == 1
    assert gift.locator("button").inner_text() == button
    assert axe_violations(page) == []
    gift.get_by_label(email_label).fill("ann@example.com")  # the advocate's own email
    gift.locator("button").click()
    assert status_text(page) == own_link
    assert gift.locator("button").is_enabled()
    assert all("status of" in e for e in store.console_errors)
    store.console_errors.clear()


@pytest.mark.parametrize(
    ("status", "code", "shown"),
    [
        (400, "validation_failed", "Enter a valid email."),
        (409, "own_referral_code", "That's your own link: share it with friends."),
        (409, "already_referred", "Another friend has already referred this email."),
        (409, "not_new_customer", "This offer is for new customers only."),
        (404, "no_referral_campaign", "This referral link no longer works."),
        (404, "referral_code_not_found", "This referral link no longer works."),
        (429, "rate_limited", "Too many tries. Wait a moment and try again."),
    ],
)
def test_a_refused_claim_is_told_in_words(
    page: Page, store: Store, status: int, code: str, shown: str
) -> None:
    ref = start_referrals(store)
    as_guest(page, store)
    page.route(
        "**/apps/loyalty/referrals/claim*",
        lambda route: route.fulfill(
            status=status, json={"error": {"code": code, "message": "from the test"}}
        ),
    )
    page.goto(f"{store.url}/?ref={ref}")
    page.click("#loyalty-launcher")
    gift = gift_slot(page)
    gift.get_by_label("Email").fill("bao@example.com")
    gift.locator("button").click()
    assert status_text(page) == shown
    assert gift.locator("button").is_enabled()  # free to correct and try again
    assert all("status of" in e for e in store.console_errors)
    store.console_errors.clear()


def test_a_signed_in_friend_gets_their_code_with_one_button(page: Page, store: Store) -> None:
    code = start_referrals(store)
    page.context.add_cookies([{"name": "sandbox_customer", "value": "2002", "url": store.url}])
    page.goto(f"{store.url}/?ref={code}")
    page.click("#loyalty-launcher")
    gift = gift_slot(page)
    gift.wait_for()
    assert gift.locator("input").count() == 0  # the store knows who they are
    assert axe_violations(page) == []
    gift.get_by_role("button", name="Get my code").click()
    friend_code = gift.locator(".loyalty-code").inner_text()
    assert status_text(page) == f"Your code {friend_code} is ready."
    assert axe_violations(page) == []


def test_the_advocate_following_their_own_link_sees_no_gift(page: Page, store: Store) -> None:
    code = start_referrals(store)
    open_panel(page, store, f"?ref={code}")
    assert referral_slot(page).count() == 1
    assert gift_slot(page).count() == 0


def test_a_link_that_no_longer_works_is_told_once(page: Page, store: Store) -> None:
    start_referrals(store)
    as_guest(page, store)
    page.goto(f"{store.url}/?ref=NOSUCH99")
    page.click("#loyalty-launcher")
    page.wait_for_selector(".loyalty-reward")
    assert status_text(page) == "This referral link no longer works."
    assert gift_slot(page).count() == 0
    assert all("status of" in e for e in store.console_errors)
    store.console_errors.clear()


def test_the_loader_keeps_a_link_for_30_days(page: Page, store: Store) -> None:
    as_guest(page, store)
    page.goto(f"{store.url}/?ref=ann-7xk2")
    kept = page.evaluate("JSON.parse(localStorage.loyalty_ref)")
    assert kept["code"] == "ANN-7XK2"
    days = (kept["until"] - page.evaluate("Date.now()")) / 86_400_000
    assert 29.9 < days <= 30
    # Once it has run out, it is forgotten.
    page.evaluate("localStorage.loyalty_ref = JSON.stringify({code: 'ANN-7XK2', until: 1})")
    page.goto(store.url)
    assert page.locator("#loyalty-launcher").inner_text() == "Rewards"
    assert page.evaluate("JSON.parse(localStorage.loyalty_ref)") == 0
