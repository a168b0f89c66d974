"""The admin app's analytics page: the same figures, definitions, range errors and CSV as
GET /api/v1/analytics/*, scoped to the signed-in shop; charts that escape merchant text
and keep to the CSP; and the overview page, now on the aggregates, equal to the old scan
of the whole ledger (kept here as the reference), today's activity included."""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import case, func, select

from plugin_server.bootstrap import Container
from plugin_server.db.models import Customer, LedgerEntry, Tier
from plugin_server.db.unit_of_work import UnitOfWork
from plugin_server.domain.ledger import EntryKind
from plugin_server.services import analytics, overview
from tests.conftest import ShopHandle, make_shop
from tests.integration.test_admin_app import EVIL, add_customer, csrf_of
from tests.integration.test_analytics import T1, Seeder, at, seed

JAN = "from=2026-01-01&to=2026-01-31"
SVG_NS = "{http://www.w3.org/2000/svg}"


def figures(page: str) -> dict[str, str]:
    """data-figure="key" -> the text shown, tags dropped."""
    found = re.findall(r'data-figure="([^"]+)">(.*?)</(?:dd|td)>', page, re.S)
    return {k: html.unescape(re.sub(r"<[^>]+>", "", v)).strip() for k, v in found}


def percent(rate: str | None) -> str:
    return "n/a" if rate is None else f"{Decimal(rate) * 100:.2f} %"


def money(value: dict[str, str] | None) -> str:
    return "n/a" if value is None else f"{value['amount']} {value['currency']}"


@pytest.fixture
def seeded_demo(container: Container, demo_shop: ShopHandle) -> dict[str, Any]:
    out = seed(container, demo_shop.id)
    analytics.build_shop(container.uow(), demo_shop.id, now=T1)
    return out


def test_the_page_shows_the_apis_figures_and_definitions(
    signed_in: FlaskClient,
    client: FlaskClient,
    demo_shop: ShopHandle,
    seeded_demo: dict[str, Any],
) -> None:
    r = signed_in.get(f"/admin/analytics?{JAN}")
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    api = client.get(f"/api/v1/analytics/overview?{JAN}", headers=demo_shop.auth).get_json()
    got = figures(page)
    for key in (
        "members",
        "new_members",
        "active_members",
        "redeemers",
        "points_issued",
        "points_reversed",
        "points_redeemed",
        "points_expired",
        "points_removed",
        "points_outstanding",
        "points_spendable",
        "points_pending",
    ):
        assert got[key] == str(api[key]), key
    assert got["liability"] == money(api["liability"]) == "3.45 USD"
    assert got["redemption_rate"] == percent(api["redemption_rate"]) == "51.28 %"
    assert got["redeemer_share"] == percent(api["redeemer_share"])
    orders = api["orders"]
    assert got["shop_currency"] == api["shop_currency"] == "USD"
    for who in ("members", "guests"):
        for key in ("buyers", "orders", "repeat_buyers", "shop_currency_orders"):
            assert got[f"{who}.{key}"] == str(orders[who][key])
        for key in ("revenue", "average_order_value", "gross", "refunded"):
            assert got[f"{who}.{key}"] == f"{orders[who][key]} USD"
        assert got[f"{who}.repeat_purchase_rate"] == percent(orders[who]["repeat_purchase_rate"])
        assert got[f"{who}.purchase_frequency"] == orders[who]["purchase_frequency"]
    assert got["reward_revenue"] == f"{orders['reward_revenue']} USD" == "30.00 USD"
    assert got["referred_revenue"] == f"{orders['referred_revenue']} USD"
    assert "25.00 EUR" in page  # another currency, never converted
    funnel = api["referral_funnel"]
    for step in ("claims", "signed_up", "first_orders", "rewarded", "flagged", "approved"):
        assert got[f"funnel.{step}"] == str(funnel[step]), step
    assert (got["tier_moves.up"], got["tier_moves.down"]) == ("3", "1")
    for tier in api["tiers_now"]:
        assert f'data-tier="{tier["tier_id"] or "none"}">{tier["members"]}<' in page
    # Every definition the API serves for these figures, word for word.
    shown = dict(re.findall(r'data-definition="([^"]+)">(.*?)</dd>', page, re.S))
    for key, text in api["definitions"].items():
        if key != "range":
            assert html.unescape(shown[key]) == text, key
    assert html.escape(api["definitions"]["range"], quote=False) in page
    # Cohorts: the API's cells, as a heat map styled by class.
    cohorts = client.get(
        "/api/v1/analytics/cohorts?from=2026-01-01&to=2026-02-28", headers=demo_shop.auth
    ).get_json()["cohorts"]
    page2 = signed_in.get("/admin/analytics?from=2026-01-01&to=2026-02-28").get_data(as_text=True)
    for cohort in cohorts:
        for cell in cohort["retained"]:
            match = re.search(
                rf'<td class="num (heat-\d)" data-cohort="{cohort["month"]}" '
                rf'data-offset="{cell["offset"]}">([^<]+)<span class="count">\((\d+)\)',
                page2,
            )
            assert match is not None
            assert match.group(2).strip() == percent(cell["rate"])
            assert match.group(3) == str(cell["members"])
    assert 'class="num heat-5" data-cohort="2026-01" data-offset="0"' in page2  # 2 of 2
    assert 'class="num heat-0" data-cohort="2026-01" data-offset="1"' in page2  # 0 of 2


def test_the_points_chart_follows_the_daily_aggregates(
    signed_in: FlaskClient,
    demo_shop: ShopHandle,
    seeded_demo: dict[str, Any],
) -> None:
    page = signed_in.get(f"/admin/analytics?{JAN}").get_data(as_text=True)
    rows = dict(
        (day, (int(a), int(b), int(c)))
        for day, a, b, c in re.findall(
            r'<tr><th scope="row">(2026-01-\d\d)</th><td class="num">(-?\d+)</td>'
            r'<td class="num">(-?\d+)</td><td class="num">(-?\d+)</td></tr>',
            page,
        )
    )
    assert len(rows) == 31
    assert rows["2026-01-05"] == (600, 0, 0)  # the adjustment
    assert rows["2026-01-06"] == (30, 500, 0)
    assert rows["2026-01-08"] == (0, -100, 0)  # points returned
    assert rows["2026-01-25"] == (0, 0, 10)
    assert sum(v[0] for v in rows.values()) == 780
    assert sum(v[1] for v in rows.values()) == 400


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2026-02-01&to=2026-01-01", "from"),
        ("from=yesterday", "from"),
        ("to=2099-01-01", "to"),
        ("from=2020-01-01&to=2026-01-01", "from"),
        ("to=01/02/2026", "to"),
    ],
)
def test_a_bad_range_shows_the_apis_message_with_400(
    signed_in: FlaskClient,
    client: FlaskClient,
    demo_shop: ShopHandle,
    query: str,
    field: str,
) -> None:
    api = client.get(f"/api/v1/analytics/overview?{query}", headers=demo_shop.auth)
    assert api.status_code == 400
    message = api.get_json()["error"]["message"]
    r = signed_in.get(f"/admin/analytics?{query}")
    assert r.status_code == 400
    page = r.get_data(as_text=True)
    assert 'id="error-summary"' in page
    assert f'<a href="#f-{field}">{html.escape(message)}</a>' in page
    assert f'id="f-{field}-error">{html.escape(message)}</p>' in page
    assert 'aria-invalid="true"' in page
    typed = dict(p.split("=") for p in query.split("&"))
    for name, value in typed.items():
        assert f'name="{name}" type="date" value="{html.escape(value)}"' in page
    assert 'data-figure="members"' not in page  # no figures for a range refused
    # The CSV link of a refused range is refused the same way.
    assert signed_in.get(f"/admin/analytics/points.csv?{query}").status_code == 400


def test_presets_pick_the_last_n_days_up_to_today_utc(
    signed_in: FlaskClient,
    container: Container,
) -> None:
    today = container.clock().astimezone(UTC).date()
    page = signed_in.get("/admin/analytics?days=90").get_data(as_text=True)
    first = (today - timedelta(days=89)).isoformat()
    assert f'data-from="{first}" data-to="{today.isoformat()}"' in page
    assert re.search(r'days=90[^"]*" aria-current="true"', page)
    default = signed_in.get("/admin/analytics").get_data(as_text=True)
    assert f'data-from="{(today - timedelta(days=29)).isoformat()}"' in default


@pytest.mark.parametrize("name", ["points", "members-vs-guests", "referrals", "cohorts", "tiers"])
def test_each_csv_link_gives_the_apis_csv(
    signed_in: FlaskClient,
    client: FlaskClient,
    demo_shop: ShopHandle,
    seeded_demo: dict[str, Any],
    name: str,
) -> None:
    page = signed_in.get(f"/admin/analytics?{JAN}").get_data(as_text=True)
    match = re.search(rf'<a href="([^"]+)" download data-csv="{name}">', page)
    assert match is not None
    r = signed_in.get(html.unescape(match.group(1)))
    assert r.status_code == 200
    assert r.mimetype == "text/csv"
    assert r.headers["Content-Disposition"] == (
        f'attachment; filename="analytics-{name}-2026-01-01-2026-01-31.csv"'
    )
    assert r.headers["Cache-Control"] == "no-store"
    api = client.get(f"/api/v1/analytics/{name}.csv?{JAN}", headers=demo_shop.auth)
    # The API's CSV carries built_at too; both read the same build.
    assert r.get_data(as_text=True) == api.get_data(as_text=True)
    assert len(r.get_data(as_text=True).splitlines()) > 1


def test_another_shops_data_never_appears(
    signed_in: FlaskClient,
    container: Container,
    demo_shop: ShopHandle,
) -> None:
    other = make_shop(container, "shopify", "other-shop.myshopify.com", access_token="shpat_y")
    s = Seeder(container, other.id)
    m = s.customer(at(1, 2))
    s.order(at(1, 3), "4242.42", customer_id=m)
    s.entry(m, "earn_order", 777777, at(1, 3))
    s.add(
        Tier(
            shop_id=other.id,
            name="Theirs-Platinum",
            threshold=Decimal(5),
            multiplier=Decimal(1),
            entry_points=0,
            created_at=at(1, 1),
            updated_at=at(1, 1),
        )
    )
    mine = Seeder(container, demo_shop.id)
    mine.entry(mine.customer(at(1, 4)), "earn_order", 12, at(1, 4))
    analytics.build_all(container.uow, now=T1)
    page = signed_in.get(f"/admin/analytics?{JAN}").get_data(as_text=True)
    got = figures(page)
    assert (got["members"], got["points_issued"]) == ("1", "12")
    for theirs in ("777777", "4242.42", "Theirs-Platinum"):
        assert theirs not in page
    for name in ("points", "members-vs-guests", "tiers"):
        csv_text = signed_in.get(f"/admin/analytics/{name}.csv?{JAN}").get_data(as_text=True)
        assert "777777" not in csv_text
        assert "4242.42" not in csv_text
        assert "Theirs-Platinum" not in csv_text
    overview_page = signed_in.get("/admin/").get_data(as_text=True)
    assert "777777" not in overview_page


def test_charts_are_inline_svg_that_escape_tier_names_and_keep_the_csp(
    signed_in: FlaskClient,
    container: Container,
    demo_shop: ShopHandle,
) -> None:
    evil_img = '<img src=x onerror="alert(2)">'
    with container.uow() as uow:
        for i, name in enumerate((EVIL, evil_img)):
            uow.session.add(
                Tier(
                    shop_id=demo_shop.id,
                    name=name,
                    threshold=Decimal(100 * (i + 1)),
                    multiplier=Decimal(1),
                    entry_points=0,
                    created_at=at(1, 1),
                    updated_at=at(1, 1),
                )
            )
        uow.commit()
    analytics.build_shop(container.uow(), demo_shop.id, now=container.clock())
    r = signed_in.get("/admin/analytics")
    page = r.get_data(as_text=True)
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    assert "style-src 'self'" in r.headers["Content-Security-Policy"]
    assert EVIL not in page
    assert "<img src=x" not in page
    assert "style=" not in page  # nothing inline the CSP would drop
    assert "<script>" not in page.split("</head>", 1)[1]
    svgs = re.findall(r"<svg .*?</svg>", page, re.S)
    assert len(svgs) == 4
    for svg in svgs:
        root = ET.fromstring(svg)  # well-formed XML
        assert root.get("role") == "img"
        assert root.get("aria-label")
        title = root.find(f"{SVG_NS}title")
        assert title is not None
        assert title.text == root.get("aria-label")
        assert not [e for e in root.iter() if e.tag.endswith("script") or e.tag.endswith("img")]
    tiers_svg = next(s for s in svgs if "Members per tier now" in s)
    labels = [e.text for e in ET.fromstring(tiers_svg).iter(f"{SVG_NS}text")]
    assert EVIL in labels  # shown as the text it is
    assert evil_img in labels
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in tiers_svg
    # And in the chart's table alternative, as text.
    assert '<th scope="row">&lt;script&gt;alert(1)&lt;/script&gt;</th>' in page


@pytest.mark.parametrize(("locale", "expected"), [("vi", "Phân tích"), ("th", "การวิเคราะห์")])
def test_the_page_speaks_the_merchants_language(
    signed_in: FlaskClient,
    locale: str,
    expected: str,
) -> None:
    page = signed_in.get(f"/admin/analytics?locale={locale}").get_data(as_text=True)
    assert f"<h1>{expected}</h1>" in page
    assert f'<html lang="{locale}">' in page
    assert 'lang="en" data-definition="members"' in page  # the API's English, marked so


def test_the_nav_links_the_analytics_section(signed_in: FlaskClient) -> None:
    page = signed_in.get("/admin/analytics").get_data(as_text=True)
    assert '<a href="/admin/analytics" aria-current="page">Analytics</a>' in page
    assert '<a href="/admin/analytics">Analytics</a>' in signed_in.get("/admin/").get_data(
        as_text=True
    )


def test_the_analytics_page_needs_a_sign_in(html_app: Any) -> None:
    client = FlaskClient(html_app)
    assert client.get("/admin/analytics").status_code == 401
    assert client.get(f"/admin/analytics/points.csv?{JAN}").status_code == 401


# --- the overview page on the aggregates --------------------------------------------------


def full_scan(uow: UnitOfWork, shop_id: int) -> dict[str, int]:
    """The overview's totals as they were computed before the aggregates: the shop's
    whole ledger and customer table, read at once."""
    redeem_kinds = (EntryKind.REDEEM.value, EntryKind.REDEEM_REFUND.value)
    with uow:
        s = uow.session
        members = s.scalar(select(func.count()).where(Customer.shop_id == shop_id)) or 0
        issued, redeemed, outstanding = s.execute(
            select(
                func.coalesce(
                    func.sum(
                        case(
                            (
                                (LedgerEntry.points > 0) & LedgerEntry.kind.not_in(redeem_kinds),
                                LedgerEntry.points,
                            ),
                            else_=0,
                        )
                    ),
                    0,
                ),
                func.coalesce(
                    func.sum(
                        case((LedgerEntry.kind.in_(redeem_kinds), LedgerEntry.points), else_=0)
                    ),
                    0,
                ),
                func.coalesce(func.sum(LedgerEntry.points), 0),
            ).where(LedgerEntry.shop_id == shop_id)
        ).one()
        return {
            "members": int(members),
            "points_issued": int(issued),
            "points_redeemed": -int(redeemed),
            "points_outstanding": int(outstanding),
        }


def shown_totals(signed_in: FlaskClient) -> dict[str, int]:
    page = signed_in.get("/admin/").get_data(as_text=True)
    found = dict(re.findall(r'<dd data-stat="(\w+)">(-?\d+)</dd>', page))
    return {
        "members": int(found["members"]),
        "points_issued": int(found["issued"]),
        "points_redeemed": int(found["redeemed"]),
        "points_outstanding": int(found["outstanding"]),
    }


def service_totals(container: Container, shop_id: int) -> dict[str, int]:
    out = overview.overview(container.uow(), shop_id)
    return {
        k: out[k] for k in ("members", "points_issued", "points_redeemed", "points_outstanding")
    }


def test_the_overview_equals_the_full_scan_with_todays_activity(
    signed_in: FlaskClient,
    container: Container,
    demo_shop: ShopHandle,
) -> None:
    seeded = seed(container, demo_shop.id)
    # Never built: the overview reads everything itself.
    expected = full_scan(container.uow(), demo_shop.id)
    assert expected["points_outstanding"] == 345 + 25
    assert service_totals(container, demo_shop.id) == expected
    assert shown_totals(signed_in) == expected

    # Built in February; what followed (all the way to today) is not aggregated yet.
    analytics.build_shop(container.uow(), demo_shop.id, now=T1)
    s: Seeder = seeded["s"]
    now = container.clock()
    today = s.customer(now)
    s.entry(today, "earn_order", 40, now)
    s.entry(seeded["m2"], "redeem", -100, now - timedelta(days=3))
    s.entry(seeded["m2"], "import", 7, now - timedelta(days=40))
    expected = full_scan(container.uow(), demo_shop.id)
    assert service_totals(container, demo_shop.id) == expected
    assert shown_totals(signed_in) == expected

    # Built a moment ago: the aggregates hold the earlier days, then today happens.
    analytics.build_shop(container.uow(), demo_shop.id, now=container.clock())
    with container.uow() as uow:
        assert analytics.complete_before(uow.session, demo_shop.id) is not None
    token = csrf_of(signed_in.get(f"/admin/customers/{demo_shop.id}-c3").get_data(as_text=True))
    signed_in.post(
        f"/admin/customers/{demo_shop.id}-c3/adjust",
        data={"points": "-5", "reason": "today", "csrf_token": token},
    )
    add_customer(container, demo_shop.id, "today-2", email="t2@example.com")
    later = container.clock() + timedelta(seconds=1)
    s.entry(today, "redeem", -15, later)
    s.entry(today, "redeem_refund", 15, later)
    expected = full_scan(container.uow(), demo_shop.id)
    assert service_totals(container, demo_shop.id) == expected
    assert shown_totals(signed_in) == expected
    assert expected["members"] == 5


def test_the_overview_reads_only_recent_ledger_rows_once_built(
    container: Container,
    demo_shop: ShopHandle,
) -> None:
    """With the aggregates built, rows older than the build's complete days are not read:
    an entry slipped in under an old day (which a real build would pick up) is not seen,
    while the aggregates' own sums are."""
    seed(container, demo_shop.id)
    analytics.build_shop(container.uow(), demo_shop.id, now=container.clock())
    before = service_totals(container, demo_shop.id)
    s = Seeder(container, demo_shop.id)
    with container.uow() as uow:
        m1 = uow.session.scalars(
            select(Customer.id).where(Customer.shop_id == demo_shop.id).order_by(Customer.id)
        ).first()
    assert m1 is not None
    s.entry(m1, "earn_order", 1000, at(1, 20))  # written "in January": not a real write
    assert service_totals(container, demo_shop.id) == before
    assert full_scan(container.uow(), demo_shop.id)["points_issued"] == (
        before["points_issued"] + 1000
    )


def test_complete_before_looks_back_from_the_last_build(
    container: Container,
    demo_shop: ShopHandle,
) -> None:
    with container.uow() as uow:
        assert analytics.complete_before(uow.session, demo_shop.id) is None
    built = datetime(2026, 3, 4, 0, 30, tzinfo=UTC)  # within LOOKBACK of midnight
    analytics.build_shop(container.uow(), demo_shop.id, now=built)
    with container.uow() as uow:
        assert analytics.complete_before(uow.session, demo_shop.id) == date(2026, 3, 3)
    analytics.build_shop(container.uow(), demo_shop.id, now=built + timedelta(hours=2))
    with container.uow() as uow:
        assert analytics.complete_before(uow.session, demo_shop.id) == date(2026, 3, 4)
