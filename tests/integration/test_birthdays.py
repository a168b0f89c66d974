"""The birthday bonus: the shopper sets a date in the widget, the scheduler pays it once a
year on that day, and not within 30 days of setting or changing it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from plugin_server.bootstrap import Container
from plugin_server.db.models import LedgerEntry
from plugin_server.domain.earning_rules import birthdays_on
from plugin_server.services import earning_rules
from tests.conftest import FakeClock, ShopHandle
from tests.integration.test_storefront_api import proxied


def birthday_rule(client: FlaskClient, shop: ShopHandle, points: int = 100) -> None:
    r = client.post(
        "/api/v1/earning-rules",
        json={"kind": "birthday", "key": "birthday", "name": "Birthday treat", "points": points},
        headers=shop.auth,
    )
    assert r.status_code == 201, r.json


def set_birthday(client: FlaskClient, shop: ShopHandle, month: int, day: int) -> Any:
    return client.post(proxied("birthday", shop=shop.domain), json={"month": month, "day": day})


def bonuses(container: Container) -> list[str]:
    with container.session_factory() as s:
        return list(
            s.scalars(
                select(LedgerEntry.idempotency_key)
                .where(LedgerEntry.source_ref == "birthday")
                .order_by(LedgerEntry.id)
            )
        )


def pay(container: Container) -> int:
    return earning_rules.award_birthdays(container.uow, now=container.clock())


def test_a_shopper_sets_their_birthday_and_sees_it(
    client: FlaskClient, clock: FakeClock, shopify_shop: ShopHandle
) -> None:
    r = set_birthday(client, shopify_shop, 7, 14)
    assert r.status_code == 200, r.json
    assert (r.json["month"], r.json["day"]) == (7, 14)
    bonus_from = datetime.fromisoformat(r.json["bonus_from"])
    assert bonus_from - datetime.fromisoformat(r.json["set_at"]) == timedelta(days=30)
    member = client.get(proxied("summary", shop=shopify_shop.domain)).json["member"]
    assert member["birthday"]["month"] == 7
    admin = client.get("/api/v1/customers/42", headers=shopify_shop.auth).json
    assert admin["birthday"]["day"] == 14
    # The same date again changes nothing; a new date starts the 30 days again.
    clock.advance(days=3)
    assert set_birthday(client, shopify_shop, 7, 14).json["set_at"] == r.json["set_at"]
    assert set_birthday(client, shopify_shop, 8, 1).json["set_at"] != r.json["set_at"]


def test_impossible_dates_and_guests_are_refused(
    client: FlaskClient, shopify_shop: ShopHandle
) -> None:
    r = set_birthday(client, shopify_shop, 2, 30)
    assert (r.status_code, list(r.json["error"]["fields"])) == (400, ["day"])
    r = set_birthday(client, shopify_shop, 13, 1)
    assert r.status_code == 400
    assert set_birthday(client, shopify_shop, 2, 29).status_code == 200
    guest = client.post(
        proxied("birthday", customer="", shop=shopify_shop.domain), json={"month": 1, "day": 1}
    )
    assert (guest.status_code, guest.json["error"]["code"]) == (401, "sign_in_required")


def test_paid_once_a_year_and_never_within_30_days_of_setting_it(
    client: FlaskClient, container: Container, clock: FakeClock, shopify_shop: ShopHandle
) -> None:
    birthday_rule(client, shopify_shop)
    today = clock()
    set_birthday(client, shopify_shop, today.month, today.day)  # today, but just set
    assert pay(container) == 0
    in_40_days = today + timedelta(days=40)
    set_birthday(client, shopify_shop, in_40_days.month, in_40_days.day)
    clock.advance(days=40)
    assert (pay(container), pay(container)) == (1, 0)
    year = clock().year
    assert bonuses(container) == [f"rule:birthday:1:{year}"]
    balance = client.get("/api/v1/customers/42", headers=shopify_shop.auth).json["balance"]
    assert balance == 100
    clock.advance(days=1)
    assert pay(container) == 0  # not their birthday any more
    clock.advance(days=364)  # a year later, the same day
    assert pay(container) == 1
    assert len(bonuses(container)) == 2


def test_a_leap_day_birthday_is_paid_on_28_february_in_other_years() -> None:
    assert birthdays_on(datetime(2027, 2, 28, tzinfo=UTC)) == [(2, 28), (2, 29)]
    assert birthdays_on(datetime(2028, 2, 28, tzinfo=UTC)) == [(2, 28)]
    assert birthdays_on(datetime(2028, 2, 29, tzinfo=UTC)) == [(2, 29)]


def test_one_birthday_rule_per_shop(client: FlaskClient, shopify_shop: ShopHandle) -> None:
    birthday_rule(client, shopify_shop)
    r = client.post(
        "/api/v1/earning-rules",
        json={"kind": "birthday", "key": "bday2", "name": "Again", "points": 5},
        headers=shopify_shop.auth,
    )
    assert list(r.json["error"]["fields"]) == ["kind"]
