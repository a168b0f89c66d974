"""A member's scores and predictions in real headless Chromium: the merchant finds a
member by search, sees their segment in the results, opens the profile and reads P(alive),
expected purchases and the predicted 12-month value; axe-core finds no violations on the
results and the profile in en, vi and th."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page
from sqlalchemy import select

from plugin_server.db.models import Customer
from plugin_server.services import scores
from tests.browser.admin.conftest import Admin, axe_violations, sign_in
from tests.integration.test_predictions import synthetic_shop
from tests.integration.test_scores import NOW, rows


def seed(admin: Admin) -> str:
    """A shop drawn from BG/NBD (so the model fits), scored; the heaviest buyer's ref."""
    synthetic_shop(admin.container, admin.shop_id, n=300, seed=3, prefix="scored-")
    scores.recompute_shop(admin.container.uow, admin.shop_id, now=max(NOW, admin.container.clock()))
    found = rows(admin.container, admin.shop_id)
    with admin.container.session_factory() as s:
        refs = dict(
            s.execute(
                select(Customer.id, Customer.customer_ref).where(Customer.shop_id == admin.shop_id)
            ).all()
        )
    scored = [r for r in found.values() if refs[r.customer_id].startswith("scored-")]
    heavy = max(scored, key=lambda r: (r.frequency, r.customer_id))
    return refs[heavy.customer_id]


@pytest.mark.parametrize("locale", ["en", "vi", "th"])
def test_the_profile_shows_predictions_and_is_accessible(
    page: Page, admin: Admin, locale: str
) -> None:
    ref = seed(admin)
    sign_in(page, admin, None if locale == "en" else locale)
    page.goto(f"{admin.url}/admin/customers?q={ref}")
    page.wait_for_selector("td.segment")
    assert axe_violations(page) == []
    page.click(f"a[href*='/admin/customers/{ref}']")
    page.wait_for_selector("#scores-title")
    assert page.locator("#p-alive").inner_text().endswith("%")
    assert page.locator("#value-12").inner_text().endswith("USD")
    assert page.locator("#expected-90").inner_text()
    assert axe_violations(page) == []
    assert admin.console_errors == []
