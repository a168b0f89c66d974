"""The widget's "Picked for you" section in real headless Chromium, on the demo storefront
(fixtures of test_widget.py): offers with their reasons, merchant names as text only, in
every language, accessible."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import requests
from playwright.sync_api import Page

import tests.browser.test_widget as widget
from plugin_server import demo
from plugin_server.simulate import shopify_order, sign_shopify
from tests.conftest import SHOPIFY_SECRET

browser = widget.browser
store = widget.store
page = widget.page
Store = widget.Store

EVIL_PRODUCT = '<img src=x onerror="window.__pwned=1">'
EVIL_REWARD = "<script>window.__pwned=2</script>Deluxe"


def order(order_id: int, customer_id: int, lines: list[tuple[int, str, str]]) -> dict[str, Any]:
    """A paid order of (product id, title, price) lines."""
    payload = shopify_order(
        order_id=order_id,
        email=f"c{customer_id}@example.com",
        subtotal=sum((Decimal(price) for _, _, price in lines), Decimal(0)),
        customer_id=customer_id,
    )
    template = payload["line_items"][0]
    payload["line_items"] = [
        {
            **template,
            "id": order_id * 10 + n,
            "product_id": product,
            "title": title,
            "name": title,
            "price": price,
            "price_set": {
                "shop_money": {"amount": price, "currency_code": "USD"},
                "presentment_money": {"amount": price, "currency_code": "USD"},
            },
        }
        for n, (product, title, price) in enumerate(lines, start=1)
    ]
    return payload


def seed_offers(store: Store) -> None:
    """Two other shoppers bought the demo product with a hostile-named one (and a mug);
    a reward with a hostile name costs exactly Ann's 179 points."""
    for payload in (
        order(7001, 2001, [(1, "Demo product", "60.00"), (77, EVIL_PRODUCT, "80.00")]),
        order(
            7002,
            2002,
            [(1, "Demo product", "60.00"), (77, EVIL_PRODUCT, "80.00"), (78, "Mug", "90.00")],
        ),
    ):
        delivery = sign_shopify(
            payload, topic="orders/paid", shop_domain=demo.DEMO_DOMAIN, secret=SHOPIFY_SECRET
        )
        r = requests.post(
            store.app_url + delivery.path, data=delivery.body, headers=delivery.headers, timeout=5
        )
        assert r.status_code == 200, r.text
    r = requests.post(
        f"{store.app_url}/api/v1/rewards",
        headers={"Authorization": f"Bearer {store.api_key}"},
        json={"name": EVIL_REWARD, "kind": "free_shipping", "points_cost": 179},
        timeout=5,
    )
    assert r.status_code == 201, r.text


def picked(page: Page) -> list[list[str]]:
    slot = page.locator("[data-slot='picked']")
    slot.wait_for()
    return [item.locator("span").all_inner_texts() for item in slot.locator("li").all()]


def test_picked_for_you_shows_names_and_reasons_as_text(page: Page, store: Store) -> None:
    seed_offers(store)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    widget.open_panel(page, store)
    slot = page.locator("[data-slot='picked']")
    assert slot.locator("h3").inner_text().lower() == "picked for you"
    assert picked(page) == [
        [EVIL_REWARD, "You can afford this now"],
        ["10% off your order", "You can afford this now"],
        ["Free shipping", "You can afford this now"],
        [EVIL_PRODUCT, "Customers who bought Demo product also bought this"],
        ["Mug", "Customers who bought Demo product also bought this"],
    ]
    assert page.locator("#loyalty-panel img, #loyalty-panel script").count() == 0
    assert page.evaluate("window.__pwned") is None
    assert dialogs == []
    assert widget.axe_violations(page) == []

    # Another language: the heading and the reasons change, the merchant's names do not.
    page.select_option(".loyalty-locale", "vi")
    assert slot.locator("h3").inner_text().lower() == "dành riêng cho bạn"
    rows = picked(page)
    assert rows[0] == [EVIL_REWARD, "Bạn đã đủ điểm để đổi ngay"]
    assert rows[3] == [EVIL_PRODUCT, "Khách hàng đã mua Demo product cũng mua sản phẩm này"]
    page.select_option(".loyalty-locale", "th")
    assert picked(page)[4] == ["Mug", "ลูกค้าที่ซื้อ Demo product ก็ซื้อสินค้านี้ด้วย"]
    assert widget.axe_violations(page) == []


def test_the_section_is_not_in_the_tab_order_and_guests_do_not_ask(
    page: Page, store: Store
) -> None:
    seed_offers(store)
    widget.open_panel(page, store)
    page.locator("[data-slot='picked']").wait_for()
    page.focus(".loyalty-close")
    for _ in range(60):
        page.keyboard.press("Tab")
        slot = page.evaluate("document.activeElement.closest('[data-slot]')?.dataset.slot")
        assert slot != "picked"  # text only: nothing to stop on
        if slot == "history":
            break
    fetched: list[str] = []
    page.on("request", lambda r: fetched.append(r.url.split("?")[0].rsplit("/", 1)[-1]))
    page.keyboard.press("Escape")
    page.context.add_cookies([{"name": "sandbox_customer", "value": "guest", "url": store.url}])
    widget.open_panel(page, store)
    assert page.locator("[data-slot='picked']").count() == 0
    assert "summary" in fetched
    assert "offers" not in fetched
