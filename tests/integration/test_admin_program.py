"""The admin app's program pages: earning rules and bonus campaigns, VIP tiers, referral
campaigns. Each change made through a form is what the JSON API then answers; a form's
messages are the API's own; another shop's ids are 404s; names are text; posts need CSRF."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape

from plugin_server import demo
from plugin_server.bootstrap import Container
from plugin_server.db.models import Customer, MemberTier
from plugin_server.sandbox.server import RunningSandbox, Sandbox
from plugin_server.services import earning_rules, program, referrals, tiers
from tests.conftest import ShopHandle, make_shop
from tests.integration.test_admin_app import EVIL, csrf_of, flagged_referral

EVIL_IMG = '<img src=x onerror="alert(2)">'
HATS = "411"


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    state = Sandbox()
    state.shopify_shop(demo.DEMO_DOMAIN, access_token="shpat_demo").set_collection(
        HATS, "Hats", [501, 502]
    )
    with RunningSandbox(state) as running:
        yield running


@pytest.fixture
def demo_shop(container: Container, sandbox: RunningSandbox) -> ShopHandle:
    # Collections sync from the sandbox within the request, never from a real store.
    return make_shop(
        container,
        "shopify",
        demo.DEMO_DOMAIN,
        access_token="shpat_demo",
        api_base_url=sandbox.url,
    )


@pytest.fixture
def api(html_app: Flask) -> FlaskClient:
    return html_app.test_client()


def token_of(client: FlaskClient, path: str) -> str:
    return csrf_of(client.get(path).get_data(as_text=True))


def form_time(container: Container, **delta: float) -> str:
    return (container.clock() + timedelta(**delta)).strftime("%Y-%m-%dT%H:%M")


def text_of(response: Any) -> str:
    """The page's markup unescaped, its whitespace collapsed."""
    return " ".join(html.unescape(response.get_data(as_text=True)).split())


def summary(response: Any) -> str:
    match = re.search(r'<div class="error-summary".*?</div>', response.get_data(as_text=True), re.S)
    assert match is not None, "no error summary"
    return " ".join(html.unescape(match.group(0)).split())


def input_value(page: str, name: str) -> str:
    match = re.search(rf'id="f-{name}" name="{name}" type="[a-z-]+" value="([^"]*)"', page)
    assert match is not None
    return match.group(1)


def api_error(api: FlaskClient, shop: ShopHandle, method: str, path: str, body: Any) -> str:
    r = api.open(f"/api/v1{path}", method=method, json=body, headers=shop.auth)
    assert r.status_code == 400, r.get_json()
    return str(r.get_json()["error"]["message"])


def api_get(api: FlaskClient, shop: ShopHandle, path: str) -> Any:
    r = api.get(f"/api/v1{path}", headers=shop.auth)
    assert r.status_code == 200
    return r.get_json()


def created_id(response: Any) -> int:
    assert response.status_code == 303
    match = re.search(r"[?&]id=(\d+)", response.headers["Location"])
    assert match is not None
    return int(match.group(1))


# --- earning rules and bonus campaigns --------------------------------------------------------


def test_a_double_points_campaign_on_a_collection_is_created_edited_and_archived(
    signed_in: FlaskClient, api: FlaskClient, container: Container, demo_shop: ShopHandle
) -> None:
    token = token_of(signed_in, "/admin/earning")
    created = signed_in.post(
        "/admin/earning",
        data={
            "kind": "bonus",
            "name": "Double points on hats",
            "key": "",
            "multiplier": "2",
            "starts_at": form_time(container, minutes=-5),
            "ends_at": form_time(container, days=7),
            "collection_ids": HATS,
            "csrf_token": token,
        },
    )
    rule_id = created_id(created)
    page = text_of(signed_in.get(created.headers["Location"]))
    assert "Rule created: Double points on hats." in page
    row = page[page.index(f'id="rule-{rule_id}"') :]
    assert "2 times the points" in row
    assert "Collection 411 “Hats”: synced, 2 products" in row
    assert "Active" in row
    # Through the JSON API: the same rule, synced the same way.
    rule = api_get(api, demo_shop, f"/earning-rules/{rule_id}")
    assert (rule["kind"], rule["multiplier"], rule["collection_ids"]) == ("bonus", "2", [HATS])
    assert rule["key"].startswith("double-points-on-hats-")
    assert rule["collections"][0]["status"] == "synced"

    edit = signed_in.get(f"/admin/earning/{rule_id}").get_data(as_text=True)
    assert 'value="2"' in edit
    assert 'name="kind"' not in edit  # a rule's kind never changes
    saved = signed_in.post(
        f"/admin/earning/{rule_id}",
        data={
            "name": "Triple points on hats",
            "multiplier": "3",
            "points": "",
            "starts_at": input_value(edit, "starts_at"),
            "ends_at": form_time(container, days=3),
            "product_ids": "",
            "collection_ids": HATS,
            "min_subtotal": "20",
            "csrf_token": token,
        },
    )
    assert saved.status_code == 303
    assert "Rule saved: Triple points on hats." in text_of(signed_in.get(saved.headers["Location"]))
    rule = api_get(api, demo_shop, f"/earning-rules/{rule_id}")
    assert (rule["name"], rule["multiplier"], rule["min_subtotal"]) == (
        "Triple points on hats",
        "3",
        "20",
    )

    archived = signed_in.post(f"/admin/earning/{rule_id}/archive", data={"csrf_token": token})
    assert archived.status_code == 303
    page = text_of(signed_in.get(archived.headers["Location"]))
    assert "Rule archived: Triple points on hats." in page
    assert api_get(api, demo_shop, f"/earning-rules/{rule_id}")["status"] == "archived"
    assert f'action="/admin/earning/{rule_id}/archive"' not in page


def test_a_fixed_bonus_an_exclusion_and_an_activity_rule(
    signed_in: FlaskClient, api: FlaskClient, container: Container, demo_shop: ShopHandle
) -> None:
    token = token_of(signed_in, "/admin/earning")
    bonus = {"kind": "bonus", "name": "Weekend bonus", "key": "weekend", "points": "50"}
    bonus |= {"ends_at": form_time(container, days=2), "csrf_token": token}
    exclusion = {"kind": "exclusion", "name": "Gift cards", "key": "gift-cards"}
    exclusion |= {"product_ids": "901, 902 903", "csrf_token": token}
    activity = {"kind": "activity", "name": "Review", "key": "review", "points": "20"}
    activity |= {"limit_count": "2", "limit_period": "week", "csrf_token": token}
    ids = [
        created_id(signed_in.post("/admin/earning", data=d)) for d in (bonus, exclusion, activity)
    ]
    rules = {r["id"]: r for r in api_get(api, demo_shop, "/earning-rules")["earning_rules"]}
    assert (rules[ids[0]]["points"], rules[ids[0]]["multiplier"]) == (50, None)
    assert rules[ids[1]]["product_ids"] == ["901", "902", "903"]
    assert (rules[ids[2]]["limit_count"], rules[ids[2]]["limit_period"]) == (2, "week")
    page = text_of(signed_in.get("/admin/earning"))
    assert "+50 points per order" in page
    assert "Products: 901, 902, 903" in page
    assert "at most 2 times (per week)" in page
    # An activity's limit is removed by emptying it.
    signed_in.post(
        f"/admin/earning/{ids[2]}",
        data={
            "name": "Review",
            "points": "25",
            "limit_count": "",
            "limit_period": "",
            "csrf_token": token,
        },
    )
    rule = api_get(api, demo_shop, f"/earning-rules/{ids[2]}")
    assert (rule["points"], rule["limit_count"], rule["limit_period"]) == (25, None, None)


def test_rules_are_filtered_by_state(
    signed_in: FlaskClient, container: Container, demo_shop: ShopHandle
) -> None:
    now = container.clock()
    make = earning_rules.create_rule
    make(
        container.uow(),
        demo_shop.id,
        {
            "kind": "bonus",
            "key": "soon",
            "name": "Next week",
            "multiplier": 2,
            "starts_at": now + timedelta(days=7),
            "ends_at": now + timedelta(days=9),
        },
        now=now,
    )
    make(
        container.uow(),
        demo_shop.id,
        {
            "kind": "bonus",
            "key": "past",
            "name": "Last week",
            "multiplier": 2,
            "starts_at": now - timedelta(days=9),
            "ends_at": now - timedelta(days=7),
        },
        now=now - timedelta(days=10),
    )
    make(
        container.uow(),
        demo_shop.id,
        {"kind": "signup", "key": "signup", "name": "Welcome", "points": 100},
        now=now,
    )
    scheduled = text_of(signed_in.get("/admin/earning?status=scheduled"))
    assert "Next week" in scheduled
    assert "Last week" not in scheduled
    assert "Welcome" not in scheduled
    ended = text_of(signed_in.get("/admin/earning?status=ended"))
    assert "Last week" in ended
    assert "Next week" not in ended
    active = text_of(signed_in.get("/admin/earning?status=active"))
    assert "Welcome" in active
    assert "Next week" not in active
    assert "No rules with this status." in text_of(signed_in.get("/admin/earning?status=archived"))


RULE_ERRORS = [
    pytest.param(
        {"kind": "bonus", "key": "big", "name": "Huge", "multiplier": "20", "ends_at": "+2"},
        "multiplier",
        id="multiplier-too-big",
    ),
    pytest.param(
        {
            "kind": "bonus",
            "key": "both",
            "name": "Both",
            "multiplier": "2",
            "points": "5",
            "ends_at": "+2",
        },
        "multiplier",
        id="multiplier-and-points",
    ),
    pytest.param(
        {"kind": "bonus", "key": "noend", "name": "No end", "multiplier": "2"},
        "ends_at",
        id="no-end",
    ),
    pytest.param(
        {"kind": "exclusion", "key": "nothing", "name": "Nothing"},
        "product_ids",
        id="exclusion-without-products",
    ),
    pytest.param(
        {
            "kind": "signup",
            "key": "signup",
            "name": "Welcome",
            "points": "10",
            "limit_count": "1",
            "limit_period": "day",
        },
        "limit_count",
        id="signup-with-limit",
    ),
]


def _rule_json(form: dict[str, str], container: Container) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for name, value in form.items():
        if name in ("points", "limit_count"):
            body[name] = int(value)
        elif name == "ends_at":
            body[name] = (
                (container.clock() + timedelta(days=2)).replace(second=0, microsecond=0).isoformat()
            )
        else:
            body[name] = value
    return body


@pytest.mark.parametrize(("form", "field"), RULE_ERRORS)
def test_rule_forms_show_the_apis_messages_and_keep_what_was_typed(
    signed_in: FlaskClient,
    api: FlaskClient,
    container: Container,
    demo_shop: ShopHandle,
    form: dict[str, str],
    field: str,
) -> None:
    expected = api_error(api, demo_shop, "POST", "/earning-rules", _rule_json(form, container))
    data = {**form, "csrf_token": token_of(signed_in, "/admin/earning")}
    if "ends_at" in data:
        data["ends_at"] = form_time(container, days=2)
    r = signed_in.post("/admin/earning", data=data)
    assert r.status_code == 400
    assert expected in summary(r)
    page = r.get_data(as_text=True)
    assert f'<p class="field-error" id="f-{field}-error">{escape(expected)}</p>' in page
    assert f'href="#f-{field}"' in page
    assert f'value="{form["name"]}"' in page
    assert api_get(api, demo_shop, "/earning-rules?status=all")["earning_rules"] == []


def test_a_rule_edit_shows_the_apis_message(
    signed_in: FlaskClient, api: FlaskClient, container: Container, demo_shop: ShopHandle
) -> None:
    now = container.clock()
    rule, _ = earning_rules.create_rule(
        container.uow(),
        demo_shop.id,
        {
            "kind": "bonus",
            "key": "b",
            "name": "B",
            "multiplier": 2,
            "ends_at": now + timedelta(days=1),
        },
        now=now,
    )
    expected = api_error(
        api, demo_shop, "PATCH", f"/earning-rules/{rule['id']}", {"multiplier": "0.5"}
    )
    token = token_of(signed_in, f"/admin/earning/{rule['id']}")
    r = signed_in.post(
        f"/admin/earning/{rule['id']}",
        data={"name": "B renamed", "multiplier": "0.5", "csrf_token": token},
    )
    assert r.status_code == 400
    assert expected in summary(r)
    assert 'value="B renamed"' in r.get_data(as_text=True)
    assert api_get(api, demo_shop, f"/earning-rules/{rule['id']}")["name"] == "B"


def test_a_collection_is_synced_again_from_the_rules_page(
    signed_in: FlaskClient,
    container: Container,
    demo_shop: ShopHandle,
    sandbox: RunningSandbox,
) -> None:
    now = container.clock()
    body = {"kind": "exclusion", "key": "x", "name": "Hats never earn", "collection_ids": [HATS]}
    earning_rules.create_rule(container.uow(), demo_shop.id, body, now=now)
    page = text_of(signed_in.get("/admin/earning"))
    assert "Collection 411: not synced yet (matches no products)" in page
    sandbox.sandbox.shopify[demo.DEMO_DOMAIN].set_collection(HATS, "Hats", [501, 502, 503])
    token = token_of(signed_in, "/admin/earning")
    r = signed_in.post(f"/admin/earning/collections/{HATS}/sync", data={"csrf_token": token})
    assert r.status_code == 303
    page = text_of(signed_in.get(r.headers["Location"]))
    assert "Collection 411: sync requested." in page
    assert "Collection 411 “Hats”: synced, 3 products" in page
    bad = signed_in.post("/admin/earning/collections/hats/sync", data={"csrf_token": token})
    assert bad.status_code == 400


# --- VIP tiers --------------------------------------------------------------------------------


def test_tiers_are_created_raised_and_archived_with_their_members(
    signed_in: FlaskClient, api: FlaskClient, container: Container, demo_shop: ShopHandle
) -> None:
    token = token_of(signed_in, "/admin/tiers")
    created = signed_in.post(
        "/admin/tiers",
        data={
            "name": "Gold",
            "threshold": "1000",
            "multiplier": "1.5",
            "entry_points": "100",
            "csrf_token": token,
        },
    )
    tier_id = created_id(created)
    tier = api_get(api, demo_shop, f"/tiers/{tier_id}")
    assert (tier["threshold"], tier["multiplier"], tier["entry_points"]) == ("1000", "1.5", 100)
    # A member holding the tier is counted on the page.
    now = container.clock()
    with container.session_factory() as s:
        customer = Customer(
            shop_id=demo_shop.id,
            customer_ref="7",
            email="g@example.com",
            created_at=now,
            updated_at=now,
        )
        s.add(customer)
        s.flush()
        s.add(
            MemberTier(
                shop_id=demo_shop.id,
                customer_id=customer.id,
                tier_id=tier_id,
                reached_at=now,
                updated_at=now,
            )
        )
        s.commit()
    page = text_of(signed_in.get(created.headers["Location"]))
    assert "Tier created: Gold." in page
    row = page[page.index(f'id="tier-{tier_id}"') :]
    assert '<td class="num" data-col="members">1</td>' in row
    # The qualifying measure, read-only.
    assert "Points earned" in page
    assert "The whole membership" in page

    raised = signed_in.post(
        f"/admin/tiers/{tier_id}",
        data={
            "name": "Gold",
            "threshold": "2500",
            "multiplier": "2",
            "entry_points": "150",
            "csrf_token": token,
        },
    )
    assert raised.status_code == 303
    assert "Tier saved: Gold." in text_of(signed_in.get(raised.headers["Location"]))
    tier = api_get(api, demo_shop, f"/tiers/{tier_id}")
    assert (tier["threshold"], tier["multiplier"], tier["entry_points"]) == ("2500", "2", 150)

    archived = signed_in.post(f"/admin/tiers/{tier_id}/archive", data={"csrf_token": token})
    assert "Tier archived: Gold." in text_of(signed_in.get(archived.headers["Location"]))
    assert api_get(api, demo_shop, f"/tiers/{tier_id}")["status"] == "archived"


def test_tier_forms_show_the_apis_messages(
    signed_in: FlaskClient, api: FlaskClient, container: Container, demo_shop: ShopHandle
) -> None:
    existing = tiers.create_tier(
        container.uow(), demo_shop.id, {"name": "Silver", "threshold": "500"}, now=container.clock()
    )
    token = token_of(signed_in, "/admin/tiers")
    for form, body in (
        ({"name": "Odd", "threshold": "750.5"}, {"name": "Odd", "threshold": "750.5"}),
        ({"name": "Twin", "threshold": "500"}, {"name": "Twin", "threshold": "500"}),
        (
            {"name": "Wild", "threshold": "900", "multiplier": "11"},
            {"name": "Wild", "threshold": "900", "multiplier": "11"},
        ),
    ):
        expected = api_error(api, demo_shop, "POST", "/tiers", body)
        r = signed_in.post("/admin/tiers", data={**form, "csrf_token": token})
        assert r.status_code == 400
        assert expected in summary(r)
        assert f'value="{form["name"]}"' in r.get_data(as_text=True)
    assert [t["name"] for t in api_get(api, demo_shop, "/tiers?status=all")["tiers"]] == ["Silver"]
    # An edit too.
    expected = api_error(
        api, demo_shop, "PATCH", f"/tiers/{existing['id']}", {"multiplier": "1.555"}
    )
    r = signed_in.post(
        f"/admin/tiers/{existing['id']}",
        data={
            "name": "Silver",
            "threshold": "600",
            "multiplier": "1.555",
            "entry_points": "0",
            "csrf_token": token,
        },
    )
    assert r.status_code == 400
    assert expected in summary(r)
    assert 'value="600"' in r.get_data(as_text=True)
    assert api_get(api, demo_shop, f"/tiers/{existing['id']}")["threshold"] == "500"


def test_the_tiers_page_shows_the_shops_measure(
    signed_in: FlaskClient, container: Container, demo_shop: ShopHandle
) -> None:
    program.update_program(
        container.uow(),
        demo_shop.id,
        {"tier_measure": "amount_spent", "tier_period": "calendar_year"},
        now=container.clock(),
    )
    page = text_of(signed_in.get("/admin/tiers"))
    assert "Amount spent" in page
    assert "The calendar year" in page
    assert 'name="tier_measure"' not in page  # read-only here


# --- referral campaigns -----------------------------------------------------------------------


def campaign_form(container: Container, **changes: str) -> dict[str, str]:
    form = {
        "name": "Give 15%, get 300",
        "starts_at": form_time(container, minutes=-1),
        "ends_at": "",
        "friend_discount_kind": "percentage",
        "friend_discount_value": "15",
        "currency": "",
        "friend_code_valid_days": "30",
        "min_order_subtotal": "25",
        "advocate_reward_kind": "points",
        "advocate_points": "300",
        "advocate_discount_kind": "",
        "advocate_discount_value": "",
        "advocate_limit": "",
        "advocate_period_limit": "",
        "advocate_limit_period": "",
    }
    return {**form, **changes}


def test_referral_campaigns_are_created_edited_and_archived(
    signed_in: FlaskClient, api: FlaskClient, container: Container, demo_shop: ShopHandle
) -> None:
    token = token_of(signed_in, "/admin/referral-program")
    created = signed_in.post(
        "/admin/referral-program", data={**campaign_form(container), "csrf_token": token}
    )
    campaign_id = created_id(created)
    page = text_of(signed_in.get(created.headers["Location"]))
    assert "Referral campaign created: Give 15%, get 300." in page
    row = page[page.index(f'id="campaign-{campaign_id}"') :]
    assert "15% off" in row
    assert "300 points" in row
    assert "Live" in row
    campaign = api_get(api, demo_shop, f"/referral-campaigns/{campaign_id}")
    assert (campaign["friend_discount_value"], campaign["advocate_points"]) == ("15.00", 300)
    assert (campaign["min_order_subtotal"], campaign["live"]) == ("25.00", True)

    edit = signed_in.get(f"/admin/referral-program/{campaign_id}").get_data(as_text=True)
    assert 'value="300"' in edit
    saved = signed_in.post(
        f"/admin/referral-program/{campaign_id}",
        data={
            **campaign_form(container),
            "starts_at": input_value(edit, "starts_at"),
            "advocate_reward_kind": "discount",
            "advocate_points": "",
            "advocate_discount_kind": "fixed_amount",
            "advocate_discount_value": "10",
            "currency": "usd",
            "advocate_period_limit": "5",
            "advocate_limit_period": "month",
            "csrf_token": token,
        },
    )
    assert saved.status_code == 303
    page = text_of(signed_in.get(saved.headers["Location"]))
    assert "Referral campaign saved: Give 15%, get 300." in page
    assert "10.00 USD off" in page
    campaign = api_get(api, demo_shop, f"/referral-campaigns/{campaign_id}")
    assert (campaign["advocate_reward_kind"], campaign["advocate_discount_value"]) == (
        "discount",
        "10.00",
    )
    assert (campaign["currency"], campaign["advocate_limit_period"]) == ("USD", "month")
    assert (
        campaign["starts_at"]
        == api_get(api, demo_shop, "/referral-campaigns")["referral_campaigns"][0]["starts_at"]
    )

    archived = signed_in.post(
        f"/admin/referral-program/{campaign_id}/archive", data={"csrf_token": token}
    )
    assert "Referral campaign archived" in text_of(signed_in.get(archived.headers["Location"]))
    campaign = api_get(api, demo_shop, f"/referral-campaigns/{campaign_id}")
    assert (campaign["archived"], campaign["live"]) == (True, False)


@pytest.mark.parametrize(
    ("changes", "body", "field"),
    [
        pytest.param(
            {"friend_discount_kind": "fixed_amount", "friend_discount_value": "5"},
            {"friend_discount_kind": "fixed_amount", "friend_discount_value": "5"},
            "currency",
            id="fixed-amount-without-currency",
        ),
        pytest.param(
            {"advocate_period_limit": "3"},
            {"advocate_period_limit": 3},
            "advocate_limit_period",
            id="period-limit-without-period",
        ),
        pytest.param(
            {"friend_discount_value": "150"},
            {"friend_discount_value": "150"},
            "friend_discount_value",
            id="over-100-percent",
        ),
    ],
)
def test_referral_forms_show_the_apis_messages(
    signed_in: FlaskClient,
    api: FlaskClient,
    container: Container,
    demo_shop: ShopHandle,
    changes: dict[str, str],
    body: dict[str, Any],
    field: str,
) -> None:
    base = {
        "name": "Give 15%, get 300",
        "starts_at": container.clock().isoformat(),
        "friend_discount_kind": "percentage",
        "friend_discount_value": "15",
        "advocate_reward_kind": "points",
        "advocate_points": 300,
    }
    expected = api_error(api, demo_shop, "POST", "/referral-campaigns", {**base, **body})
    token = token_of(signed_in, "/admin/referral-program")
    r = signed_in.post(
        "/admin/referral-program",
        data={**campaign_form(container, **changes), "csrf_token": token},
    )
    assert r.status_code == 400
    assert expected in summary(r)
    assert f'href="#f-{field}"' in r.get_data(as_text=True)
    assert 'value="Give 15%, get 300"' in r.get_data(as_text=True)
    assert api_get(api, demo_shop, "/referral-campaigns?status=all")["referral_campaigns"] == []


def test_the_referral_page_counts_referrals_and_links_the_review_queue(
    signed_in: FlaskClient, container: Container, demo_shop: ShopHandle
) -> None:
    flagged_referral(container, demo_shop.id)
    page = text_of(signed_in.get("/admin/referral-program"))
    assert "1 in total, 0 rewarded, 1 held" in page
    assert '<a href="/admin/referrals">Referrals held for review: 1</a>' in page


# --- for every page ---------------------------------------------------------------------------


def _other_shops_objects(container: Container, other: ShopHandle) -> dict[str, int]:
    now = container.clock()
    rule, _ = earning_rules.create_rule(
        container.uow(),
        other.id,
        {"kind": "signup", "key": "signup", "name": "Theirs", "points": 5},
        now=now,
    )
    tier = tiers.create_tier(
        container.uow(), other.id, {"name": "Theirs", "threshold": "10"}, now=now
    )
    campaign = referrals.create_campaign(
        container.uow(), other.id, dict(demo.DEMO_REFERRALS), now=now
    )
    return {"earning": rule["id"], "tiers": tier["id"], "referral-program": campaign["id"]}


def test_another_shops_objects_are_not_found_and_stay_unchanged(
    signed_in: FlaskClient, api: FlaskClient, container: Container, shopify_shop: ShopHandle
) -> None:
    ids = _other_shops_objects(container, shopify_shop)
    token = token_of(signed_in, "/admin/earning")
    for section, object_id in ids.items():
        assert signed_in.get(f"/admin/{section}/{object_id}").status_code == 404
        update = signed_in.post(
            f"/admin/{section}/{object_id}",
            data={"name": "Mine now", "points": "1", "threshold": "1", "csrf_token": token},
        )
        assert update.status_code == 404
        archive = signed_in.post(
            f"/admin/{section}/{object_id}/archive", data={"csrf_token": token}
        )
        assert archive.status_code == 404
        assert "Theirs" not in text_of(signed_in.get(f"/admin/{section}"))
    rule = api_get(api, shopify_shop, f"/earning-rules/{ids['earning']}")
    tier = api_get(api, shopify_shop, f"/tiers/{ids['tiers']}")
    campaign = api_get(api, shopify_shop, f"/referral-campaigns/{ids['referral-program']}")
    assert (rule["name"], rule["status"]) == ("Theirs", "active")
    assert (tier["name"], tier["status"]) == ("Theirs", "active")
    assert (campaign["name"], campaign["archived"]) == (demo.DEMO_REFERRALS["name"], False)
    # A collection no rule of this shop names.
    sync = signed_in.post(f"/admin/earning/collections/{HATS}/sync", data={"csrf_token": token})
    assert sync.status_code == 404


@pytest.mark.parametrize("evil", [EVIL, EVIL_IMG])
def test_names_are_shown_as_text(
    signed_in: FlaskClient, container: Container, demo_shop: ShopHandle, evil: str
) -> None:
    token = token_of(signed_in, "/admin/earning")
    rule = signed_in.post(
        "/admin/earning",
        data={"kind": "signup", "name": evil, "points": "10", "csrf_token": token},
    )
    tier = signed_in.post(
        "/admin/tiers", data={"name": evil[:50], "threshold": "100", "csrf_token": token}
    )
    campaign = signed_in.post(
        "/admin/referral-program",
        data={**campaign_form(container, name=evil), "csrf_token": token},
    )
    pages = {
        "earning": signed_in.get(rule.headers["Location"]).get_data(as_text=True),
        "earning edit": signed_in.get(f"/admin/earning/{created_id(rule)}").get_data(as_text=True),
        "tiers": signed_in.get(tier.headers["Location"]).get_data(as_text=True),
        "tier edit": signed_in.get(f"/admin/tiers/{created_id(tier)}").get_data(as_text=True),
        "referral": signed_in.get(campaign.headers["Location"]).get_data(as_text=True),
        "referral edit": signed_in.get(f"/admin/referral-program/{created_id(campaign)}").get_data(
            as_text=True
        ),
    }
    for name, page in pages.items():
        assert "<script>alert" not in page, name
        assert "<img src=x" not in page, name
        assert str(escape(evil[:50])) in page, name
    # Typed back into a form that failed, still text.
    r = signed_in.post("/admin/earning", data={"kind": "bonus", "name": evil, "csrf_token": token})
    assert r.status_code == 400
    assert "<script>alert" not in r.get_data(as_text=True)
    assert "<img src=x" not in r.get_data(as_text=True)


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/admin/earning", {"kind": "signup", "key": "signup", "name": "Welcome", "points": "10"}),
        ("/admin/tiers", {"name": "Gold", "threshold": "1000"}),
        ("/admin/referral-program", {"name": "Refer", "friend_discount_kind": "percentage"}),
        ("/admin/earning/1/archive", {}),
        ("/admin/tiers/1/archive", {}),
        ("/admin/referral-program/1/archive", {}),
    ],
)
def test_posts_without_the_csrf_token_are_refused(
    signed_in: FlaskClient,
    api: FlaskClient,
    container: Container,
    demo_shop: ShopHandle,
    path: str,
    data: dict[str, str],
) -> None:
    now = container.clock()
    earning_rules.create_rule(
        container.uow(),
        demo_shop.id,
        {"kind": "birthday", "key": "bday", "name": "Birthday", "points": 5},
        now=now,
    )
    tiers.create_tier(container.uow(), demo_shop.id, {"name": "Silver", "threshold": "10"}, now=now)
    referrals.create_campaign(container.uow(), demo_shop.id, dict(demo.DEMO_REFERRALS), now=now)
    token = token_of(signed_in, "/admin/tiers")
    assert signed_in.post(path, data=data).status_code == 400
    assert signed_in.post(path, data={**data, "csrf_token": token[:-2] + "xx"}).status_code == 403
    rules = api_get(api, demo_shop, "/earning-rules?status=all")["earning_rules"]
    assert [(r["key"], r["status"]) for r in rules] == [("bday", "active")]
    assert [t["status"] for t in api_get(api, demo_shop, "/tiers?status=all")["tiers"]] == [
        "active"
    ]
    campaigns = api_get(api, demo_shop, "/referral-campaigns?status=all")["referral_campaigns"]
    assert [c["archived"] for c in campaigns] == [False]


@pytest.mark.parametrize(
    ("locale", "texts"),
    [
        ("vi", ("Quy tắc tích điểm và chiến dịch thưởng", "Hạng VIP", "Chương trình giới thiệu")),
        ("th", ("กฎการสะสมคะแนนและแคมเปญโบนัส", "ระดับ VIP", "โปรแกรมแนะนำเพื่อน")),
    ],
)
def test_the_pages_speak_the_merchants_language(
    signed_in: FlaskClient, locale: str, texts: tuple[str, str, str]
) -> None:
    for path, text in zip(
        ("/admin/earning", "/admin/tiers", "/admin/referral-program"), texts, strict=True
    ):
        page = signed_in.get(f"{path}?locale={locale}").get_data(as_text=True)
        assert f"<h1>{text}</h1>" in page, path


def test_the_sections_are_in_the_navigation(signed_in: FlaskClient) -> None:
    page = signed_in.get("/admin/").get_data(as_text=True)
    for href, label in (
        ("/admin/earning", "Earning rules"),
        ("/admin/tiers", "VIP tiers"),
        ("/admin/referral-program", "Referral program"),
    ):
        assert f'<a href="{href}">{label}</a>' in page
