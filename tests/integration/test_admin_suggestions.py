"""The admin app's suggestions page: the API's suggestions with their evidence, merchant
text shown as text, in every language; one CSRF-checked button per action that changes
what the JSON API shows, once; another shop's suggestion is not found."""

from __future__ import annotations

from flask.testing import FlaskClient

from plugin_server.bootstrap import Container
from plugin_server.services import adjustments, rewards
from tests.conftest import FakeClock, ShopHandle, make_shop
from tests.integration.test_admin_app import EVIL, add_customer, csrf_of


def seed_idle_reward(container: Container, clock: FakeClock, shop_id: int, name: str) -> int:
    add_customer(container, shop_id, "7", email="m@example.com")
    adjustments.adjust_points(
        container.uow(), shop_id, "7", points=800, reason="seed", idempotency_key=None, now=clock()
    )
    reward = rewards.create_reward(
        container.uow(),
        shop_id,
        {
            "name": name,
            "kind": "fixed_amount",
            "points_cost": 600,
            "amount": "6.00",
            "currency": "usd",
            "code_valid_days": 30,
        },
        now=clock(),
    )
    clock.advance(days=91)
    return int(reward["id"])


def test_the_page_lists_a_suggestion_and_its_button_acts_once(
    signed_in: FlaskClient,
    container: Container,
    clock: FakeClock,
    demo_shop: ShopHandle,
) -> None:
    reward_id = seed_idle_reward(container, clock, demo_shop.id, EVIL)
    page = signed_in.get("/admin/suggestions").get_data(as_text=True)
    assert EVIL not in page
    assert "&lt;script&gt;" in page
    assert "Lower the cost to 450 points" in page  # 600 x 3/4
    action = f"/admin/suggestions/unredeemed_reward/{reward_id}/lower_cost"
    assert f'action="{action}"' in page
    assert signed_in.post(action, data={}).status_code == 400  # no CSRF token
    r = signed_in.post(action, data={"csrf_token": csrf_of(page)})
    assert r.status_code == 303
    assert "notice=suggestion_applied" in r.headers["Location"]
    assert rewards.get_reward(container.uow(), demo_shop.id, reward_id)["points_cost"] == 450
    after = signed_in.get(r.headers["Location"]).get_data(as_text=True)
    assert "Done." in after
    assert "lower_cost" not in after
    again = signed_in.post(action, data={"csrf_token": csrf_of(after)})
    assert "notice=suggestion_gone" in again.headers["Location"]
    assert rewards.get_reward(container.uow(), demo_shop.id, reward_id)["points_cost"] == 450


def test_another_shops_suggestion_is_not_found(
    signed_in: FlaskClient,
    container: Container,
    clock: FakeClock,
    demo_shop: ShopHandle,
) -> None:
    other = make_shop(container, "shopify", "other.myshopify.com", access_token="shpat_o")
    reward_id = seed_idle_reward(container, clock, other.id, "Elsewhere")
    page = signed_in.get("/admin/suggestions").get_data(as_text=True)
    assert "Elsewhere" not in page
    r = signed_in.post(
        f"/admin/suggestions/unredeemed_reward/{reward_id}/archive",
        data={"csrf_token": csrf_of(page)},
    )
    assert r.status_code == 404
    assert rewards.get_reward(container.uow(), other.id, reward_id)["status"] == "active"


def test_the_page_speaks_every_language(
    signed_in: FlaskClient,
    container: Container,
    clock: FakeClock,
    demo_shop: ShopHandle,
) -> None:
    seed_idle_reward(container, clock, demo_shop.id, "Tea")
    for locale, title, button in (
        ("en", "A reward nobody redeems", "Archive the reward"),
        ("vi", "Phần thưởng không ai đổi", "Lưu trữ phần thưởng"),
        ("th", "รางวัลที่ไม่มีใครแลก", "เก็บรางวัลเข้าคลัง"),
    ):
        page = signed_in.get(f"/admin/suggestions?locale={locale}").get_data(as_text=True)
        assert title in page
        assert button in page
