"""The admin app shows scores and predictions: each search result's segment; on the profile
R/F/M, segment, tenure, engagement, advocacy, P(alive) as a percentage, expected purchases
and the predicted 12-month value with its currency, or "not enough data yet" with the
reason; in every language."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

from flask.testing import FlaskClient

from plugin_server.api.admin_app import scores_texts
from plugin_server.api.admin_app.i18n import LOCALES, TEXTS
from plugin_server.bootstrap import Container
from plugin_server.domain import segments as rules
from tests.conftest import ShopHandle
from tests.integration.test_predictions import synthetic_shop
from tests.integration.test_scores import NOW, add_order, member, recompute, rows


def text(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_search_results_show_each_members_segment(
    signed_in: FlaskClient, container: Container, demo_shop: ShopHandle
) -> None:
    shop = demo_shop.id
    for k in range(10):
        cid = member(container, shop, f"c{k}", joined=NOW - timedelta(days=300))
        for j in range(k + 1):
            add_order(container, shop, cid, NOW - timedelta(days=5 + 20 * j), "10.00")
    member(container, shop, "idle")
    before = text(signed_in, "/admin/customers?q=example.com")
    assert before.count("No segment yet") == 11
    recompute(container, shop)
    found = rows(container, shop)
    after = text(signed_in, "/admin/customers?q=example.com")
    segments = [r.segment for r in found.values()]
    for seg in rules.Segment:
        label = TEXTS["en"][f"seg_{seg.value}"]
        assert after.count(f'<td class="segment">{label}</td>') == segments.count(seg.value)
    assert after.count('<td class="segment">No segment yet</td>') == 1  # idle


def test_the_profile_shows_scores_and_predictions(
    signed_in: FlaskClient, container: Container, demo_shop: ShopHandle
) -> None:
    synthetic_shop(container, demo_shop.id)
    recompute(container, demo_shop.id)
    found = rows(container, demo_shop.id)
    heavy = max(found.values(), key=lambda r: (r.frequency, r.customer_id))
    ref = f"s{sorted(found).index(heavy.customer_id)}"
    page = text(signed_in, f"/admin/customers/{ref}")
    assert heavy.p_alive is not None
    assert heavy.expected_purchases_30 is not None
    assert heavy.expected_purchases_90 is not None
    assert heavy.predicted_clv_minor is not None
    assert heavy.segment is not None
    percent = (heavy.p_alive * 100).quantize(D("0.1"))
    assert f'<dd id="p-alive">{percent} %</dd>' in page
    assert f'<dd id="expected-30">{heavy.expected_purchases_30.quantize(D("0.01"))}</dd>' in page
    assert f'<dd id="expected-90">{heavy.expected_purchases_90.quantize(D("0.01"))}</dd>' in page
    value = D(heavy.predicted_clv_minor) / 100
    assert f'<dd id="value-12">{value:.2f} USD</dd>' in page
    rfm = f"R {heavy.r_score} · F {heavy.f_score} · M {heavy.m_score} (of 5)"
    assert f'<dd id="score-rfm">{rfm}</dd>' in page
    label = TEXTS["en"][f"seg_{heavy.segment}"]
    assert f'<dd id="score-segment">{label}</dd>' in page
    assert f'<dd id="score-tenure">{heavy.tenure_days} days</dd>' in page
    assert (
        '<dd id="score-engagement">0 (0 activities, 0 redemptions, 0 days using the widget)</dd>'
        in page
    )
    assert '<dd id="score-advocacy">0 rewarded referrals</dd>' in page
    vi = text(signed_in, f"/admin/customers/{ref}?locale=vi")
    assert f'{TEXTS["vi"]["score_p_alive"]}</dt><dd id="p-alive">{percent} %' in vi
    th = text(signed_in, f"/admin/customers/{ref}?locale=th")
    assert TEXTS["th"]["score_value_12"] in th


def test_not_enough_data_says_so_with_the_reason(
    signed_in: FlaskClient, container: Container, demo_shop: ShopHandle
) -> None:
    cid = member(container, demo_shop.id, "solo")
    page = text(signed_in, "/admin/customers/solo")
    assert "Scores have not been computed yet." in page
    add_order(container, demo_shop.id, cid, NOW - timedelta(days=3), "12.00")
    recompute(container, demo_shop.id)
    page = text(signed_in, "/admin/customers/solo")
    assert (
        '<p id="predictions" role="status">Not enough data yet. '
        "Reason: 1 customers; a fit needs at least 200</p>"
    ) in page
    assert 'id="p-alive"' not in page
    assert "Chưa đủ dữ liệu." in text(signed_in, "/admin/customers/solo?locale=vi")


def test_the_score_texts_exist_in_every_language() -> None:
    for locale in LOCALES:
        assert set(scores_texts.TEXTS[locale]) == set(scores_texts.EN), locale
        for seg in rules.Segment:
            assert TEXTS[locale][f"seg_{seg.value}"]
    assert len({scores_texts.VI["seg_lost"], scores_texts.TH["seg_lost"], "Lost"}) == 3
