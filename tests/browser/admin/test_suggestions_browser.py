"""The suggestions page in Chromium: acting on a suggestion with the keyboard shows the
notice and the suggestion is gone; axe-core finds no violations in en, vi and th."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from plugin_server.services import rewards
from tests.browser.admin.conftest import Admin, axe_violations, sign_in
from tests.conftest import FakeClock
from tests.integration.test_admin_suggestions import seed_idle_reward


def test_act_on_a_suggestion_with_the_keyboard(page: Page, admin: Admin, clock: FakeClock) -> None:
    reward_id = seed_idle_reward(admin.container, clock, admin.shop_id, "Tea <b>cup</b>")
    sign_in(page, admin)
    page.goto(f"{admin.url}/admin/suggestions")
    assert page.get_by_role("heading", name="A reward nobody redeems: Tea <b>cup</b>").count() == 1
    button = page.get_by_role("button", name="Lower the cost to 450 points")
    button.focus()
    page.keyboard.press("Enter")
    page.wait_for_selector(".notice")
    assert page.locator(".notice").inner_text().strip() == "Done."
    assert page.get_by_role("button", name="Lower the cost to 450 points").count() == 0
    cost = rewards.get_reward(admin.container.uow(), admin.shop_id, reward_id)["points_cost"]
    assert cost == 450


@pytest.mark.parametrize("locale", ["en", "vi", "th"])
def test_axe_finds_no_violations(page: Page, admin: Admin, clock: FakeClock, locale: str) -> None:
    seed_idle_reward(admin.container, clock, admin.shop_id, "Tea")
    sign_in(page, admin, locale)
    page.goto(f"{admin.url}/admin/suggestions")
    page.wait_for_selector("section.suggestion")
    assert axe_violations(page) == []
