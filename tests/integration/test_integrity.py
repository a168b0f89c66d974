"""`loyalty check`: the invariants hold over a real history (orders, refunds, a campaign
bonus, redemptions issued, failed and cancelled, tiers), and each one catches the damage it
is there for."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import insert, select, update

from plugin_server import cli, jobs
from plugin_server.bootstrap import Container
from plugin_server.db.models import (
    LedgerEntry,
    MemberTier,
    Order,
    Redemption,
    Tier,
    WebhookReceipt,
)
from plugin_server.sandbox.server import RunningSandbox
from plugin_server.services import integrity, redemptions
from tests.conftest import FakeClock, ShopHandle
from tests.integration.test_bonus_campaigns import SUNGLASSES, campaign, deliver, order, refund
from tests.integration.test_cli import runner  # noqa: F401  (a fixture)
from tests.integration.test_redemptions import (  # noqa: F401  (fixtures)
    member,
    redeem,
    reward,
    sandbox,
    shop,
)


def report(container: Container, shop_id: int | None = None) -> dict[str, dict[str, Any]]:
    found = integrity.check(container.uow(), now=container.clock(), shop_id=shop_id)
    return {f.name: f.as_dict() for f in found.findings}


def broken(container: Container) -> dict[str, list[Any]]:
    return {name: f["examples"] for name, f in report(container).items() if not f["ok"]}


@pytest.fixture
def history(
    client: FlaskClient,
    container: Container,
    clock: FakeClock,
    shop: ShopHandle,  # noqa: F811
    member: str,  # noqa: F811
    sandbox: RunningSandbox,  # noqa: F811
) -> ShopHandle:
    """Orders with and without refunds, a campaign bonus partly taken back, a tier reached,
    and four redemptions: issued, expired, failed and cancelled (the last three with their
    points back)."""
    r = client.post("/api/v1/tiers", json={"name": "Gold", "threshold": 50}, headers=shop.auth)
    assert r.status_code == 201, r.json
    campaign(client, shop, clock, multiplier="2", product_ids=[SUNGLASSES])
    deliver(client, shop, "orders/paid", order(2, [(SUNGLASSES, "30"), (1, "20")], customer_id=9))
    deliver(client, shop, "orders/paid", order(3, [(1, "40")], customer_id=9))
    deliver(client, shop, "refunds/create", refund(2, 21, [(1, "30")]))
    five_off = reward(client, shop)
    expires = redeem(client, shop, {"reward_id": five_off})
    assert expires.json["status"] == "issued", expires.json
    cancelled = redeem(client, shop, {"reward_id": five_off}).json
    r = client.post(f"/api/v1/redemptions/{cancelled['id']}/cancel", headers=shop.auth)
    assert r.status_code == 200, r.json
    # Never sent to the store: its end date passes unconfirmed, so it fails, points back.
    redemptions.redeem(
        container.uow(),
        shop.id,
        member,
        reward_id=five_off,
        points=None,
        idempotency_key=None,
        now=container.clock(),
    )
    clock.advance(days=31)
    assert redemptions.expire_due(container.uow, now=clock(), grace=jobs.EXPIRY_GRACE) == 2
    assert redeem(client, shop, {"reward_id": five_off}).json["status"] == "issued"
    return shop


def test_a_real_history_keeps_every_invariant(container: Container, history: ShopHandle) -> None:
    found = report(container)
    assert broken(container) == {}
    assert found["orders_credited_once"]["checked"] == 3
    assert found["campaign_bonuses_credited_once"]["checked"] == 1
    assert found["redemptions_balanced"]["checked"] == 4
    with container.session_factory() as s:
        statuses = sorted(s.scalars(select(Redemption.status)))
    assert statuses == ["cancelled", "expired", "failed", "issued"]
    assert found["tiers_match_history"]["checked"] == 1
    assert found["webhooks_applied"]["checked"] >= 4


def test_a_second_credit_for_an_order_is_caught(container: Container, history: ShopHandle) -> None:
    with container.session_factory() as s:
        entry = s.scalars(
            select(LedgerEntry).where(LedgerEntry.kind == "earn_order").limit(1)
        ).one()
        columns = [c.name for c in LedgerEntry.__table__.c if c.name != "id"]
        values = {c: getattr(entry, c) for c in columns}
        s.execute(insert(LedgerEntry).values({**values, "idempotency_key": "a second credit"}))
        s.commit()
    assert broken(container) == {"orders_credited_once": [entry.order_id]}


def test_a_refund_beyond_what_an_order_earned_is_caught(
    container: Container, history: ShopHandle
) -> None:
    with container.session_factory() as s:
        order_id, customer_id, earned = s.execute(
            select(Order.id, Order.customer_id, Order.earned_points).where(Order.order_ref == "3")
        ).one()
        s.execute(
            insert(LedgerEntry).values(
                shop_id=history.id,
                customer_id=customer_id,
                points=-(earned + 1),
                kind="reverse_order",
                reason="too much",
                source_type="order",
                source_ref="3",
                order_id=order_id,
                idempotency_key="order:3:reversal:99",
                created_at=container.clock(),
                available_at=container.clock(),
            )
        )
        s.commit()
    assert broken(container) == {"orders_credited_once": [order_id]}


def test_a_code_failed_without_its_points_back_is_caught(
    container: Container, history: ShopHandle
) -> None:
    # (The ledger refuses deletes, so the damage is a status changed without its entry.)
    with container.session_factory() as s:
        issued = s.scalars(select(Redemption.id).where(Redemption.status == "issued")).one()
        s.execute(update(Redemption).where(Redemption.id == issued).values(status="failed"))
        s.commit()
    assert broken(container) == {"redemptions_balanced": [issued]}


def test_a_tier_that_disagrees_with_its_history_is_caught(
    container: Container, history: ShopHandle
) -> None:
    with container.session_factory() as s:
        s.execute(update(MemberTier).values(tier_id=None))
        s.commit()
        (member_id,) = s.scalars(select(MemberTier.customer_id)).all()
        assert s.scalar(select(Tier.id)) is not None
    assert broken(container) == {"tiers_match_history": [member_id]}


def test_stuck_webhooks_and_codes_count_only_after_the_settle_time(
    container: Container, clock: FakeClock, history: ShopHandle
) -> None:
    with container.session_factory() as s:
        receipt = s.scalars(select(WebhookReceipt.id).limit(1)).one()
        s.execute(
            update(WebhookReceipt)
            .where(WebhookReceipt.id == receipt)
            .values(status="pending", received_at=clock())
        )
        issued = s.scalars(select(Redemption.id).where(Redemption.status == "issued")).one()
        s.execute(
            update(Redemption)
            .where(Redemption.id == issued)
            .values(status="pending", created_at=clock())
        )
        s.commit()
    assert broken(container) == {}  # in flight: normal for a moment
    clock.advance(minutes=16)
    assert broken(container) == {"webhooks_applied": [receipt], "redemptions_settled": [issued]}


def test_the_check_is_scoped_to_one_shop(
    container: Container, history: ShopHandle, shopify_shop: ShopHandle
) -> None:
    with container.session_factory() as s:
        s.execute(update(MemberTier).values(tier_id=None))
        s.commit()
    assert not integrity.check(container.uow(), now=container.clock(), shop_id=history.id).ok
    other = report(container, shopify_shop.id)
    assert all(f["ok"] and f["checked"] == 0 for f in other.values())


def test_the_cli_prints_what_it_found_and_fails_on_a_broken_rule(
    runner: CliRunner,  # noqa: F811
    container: Container,
    history: ShopHandle,
) -> None:
    result = runner.invoke(cli.main, ["check"])
    assert result.exit_code == 0, result.output
    assert "all invariants hold" in result.output
    assert "redemptions_balanced" in result.output
    with container.session_factory() as s:
        s.execute(update(MemberTier).values(tier_id=None))
        s.commit()
    result = runner.invoke(cli.main, ["check", "--json", "--shop", str(history.id)])
    assert result.exit_code == 1
    assert '"ok": false' in result.output
    result = runner.invoke(cli.main, ["check", "--settle-minutes", "0"])
    assert result.exit_code == 1
    assert "FAIL  tiers_match_history" in result.output
