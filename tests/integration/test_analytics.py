"""Analytics: hand-computed figures over a seeded history (refunds, guests, an order in
another currency, events that arrive late), incremental builds equal to a rebuild, shop
scoping, and date ranges refused with stable codes."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from plugin_server.bootstrap import Container
from plugin_server.db.models import (
    AnalyticsDay,
    AnalyticsMemberDay,
    AnalyticsOrderDay,
    AnalyticsReferralDay,
    Customer,
    LedgerEntry,
    MemberTier,
    Order,
    OrderRefund,
    Redemption,
    Referral,
    ReferralCampaign,
    Reward,
    Shop,
    Tier,
    TierChange,
)
from plugin_server.domain import errors
from plugin_server.services import analytics
from plugin_server.settings import Settings
from tests.conftest import ShopHandle, make_shop

T1 = datetime(2026, 2, 10, 12, 0, tzinfo=UTC)  # the first build
T2 = datetime(2026, 2, 20, 12, 0, tzinfo=UTC)  # late events, then the second build
JAN = analytics.DateRange(date(2026, 1, 1), date(2026, 1, 31))


def at(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=UTC)


class Seeder:
    def __init__(self, container: Container, shop_id: int) -> None:
        self.container = container
        self.shop_id = shop_id
        self.n = 0

    def add(self, *rows: Any) -> None:
        with self.container.uow() as uow:
            uow.session.add_all(rows)
            uow.session.flush()
            uow.commit()

    def customer(self, created: datetime) -> int:
        self.n += 1
        c = Customer(
            shop_id=self.shop_id,
            customer_ref=f"{self.shop_id}-c{self.n}",
            email=f"c{self.n}@example.com",
            created_at=created,
            updated_at=created,
        )
        self.add(c)
        return c.id

    def order(
        self,
        paid: datetime | None,
        total: str | None,
        *,
        customer_id: int | None = None,
        email_key: str | None = None,
        currency: str = "USD",
        cancelled: bool = False,
        stored: datetime | None = None,
    ) -> Order:
        self.n += 1
        o = Order(
            shop_id=self.shop_id,
            order_ref=f"o{self.n}",
            customer_id=customer_id,
            email_key=email_key,
            currency=currency if total is not None else None,
            order_total=D(total) if total is not None else None,
            paid_at=paid,
            cancelled=cancelled,
            created_at=stored or paid or T1,
            updated_at=stored or paid or T1,
        )
        self.add(o)
        return o

    def entry(
        self,
        customer_id: int,
        kind: str,
        points: int,
        created: datetime,
        available: datetime | None = None,
    ) -> None:
        self.n += 1
        self.add(
            LedgerEntry(
                shop_id=self.shop_id,
                customer_id=customer_id,
                points=points,
                kind=kind,
                reason=kind,
                source_type="test",
                source_ref=str(self.n),
                idempotency_key=f"k{self.n}",
                created_at=created,
                available_at=available or created,
            )
        )

    def refund(self, order: Order, amount: str, created: datetime, currency: str = "USD") -> None:
        self.n += 1
        self.add(
            OrderRefund(
                shop_id=self.shop_id,
                order_id=order.id,
                refund_ref=f"r{self.n}",
                lines_subtotal=D(amount),
                shipping=D(0),
                tax=D(0),
                amount=D(amount),
                amount_currency=currency,
                has_line_items=False,
                occurred_at=created,
                created_at=created,
            )
        )
        with self.container.uow() as uow:
            row = uow.session.get(Order, order.id)
            assert row is not None
            row.updated_at = created
            row.refund_count += 1
            uow.commit()


def reward(shop_id: int, cost: int, amount: str, archived: datetime | None = None) -> Reward:
    return Reward(
        shop_id=shop_id,
        name=f"{amount} off",
        kind="fixed_amount",
        points_cost=cost,
        amount=D(amount),
        currency="USD",
        product_ids="[]",
        collection_ids="[]",
        code_valid_days=30,
        created_at=at(1, 1),
        updated_at=at(1, 1),
        archived_at=archived,
    )


def seed(container: Container, shop_id: int) -> dict[str, Any]:
    """The history the expected figures below are computed from by hand."""
    s = Seeder(container, shop_id)
    s.add(
        reward(shop_id, 500, "5.00"),  # the cheapest: 0.01 per point
        reward(shop_id, 1000, "12.00"),
        reward(shop_id, 100, "10.00", archived=at(1, 2)),
    )
    m1 = s.customer(at(1, 2))
    m2 = s.customer(at(1, 5))
    m3 = s.customer(at(2, 1))
    o1 = s.order(at(1, 3), "100.00", customer_id=m1)
    o2 = s.order(at(1, 10), "50.50", customer_id=m1)
    s.refund(o2, "20.25", at(1, 12))
    o3 = s.order(at(1, 6), "30.00", customer_id=m2)
    s.order(at(1, 7), "40.00", email_key="g1")
    s.order(at(1, 20), "60.00", email_key="g1")
    s.order(at(1, 8), "10.00")  # a guest without an email
    s.order(at(1, 9), "25.00", customer_id=m2, currency="EUR")
    s.order(at(1, 11), "999.00", customer_id=m1, cancelled=True)
    s.order(None, None, customer_id=m1)  # never paid
    o10 = s.order(at(2, 2), "70.00", customer_id=m3)
    s.add(
        Redemption(
            shop_id=shop_id,
            customer_id=m2,
            reward_id=None,
            points=500,
            code="LOYAL-1",
            status="used",
            discount="{}",
            request_fingerprint="x",
            expires_at=at(3, 1),
            created_at=at(1, 6, 9),
            updated_at=at(1, 6),
            used_at=at(1, 6),
            used_order_ref=o3.order_ref,
        )
    )
    with container.uow() as uow:  # the code was a points reward
        r = uow.session.scalars(select(Reward).where(Reward.shop_id == shop_id)).first()
        red = uow.session.scalars(select(Redemption).where(Redemption.shop_id == shop_id)).one()
        assert r is not None
        red.reward_id = r.id
        uow.commit()

    s.entry(m1, "earn_order", 100, at(1, 3))
    s.entry(m1, "earn_order", 50, at(1, 10), available=at(2, 15))  # pending past January
    s.entry(m1, "reverse_order", -20, at(1, 12))
    s.entry(m2, "adjustment", 600, at(1, 5))
    s.entry(m2, "earn_order", 30, at(1, 6))
    s.entry(m2, "redeem", -500, at(1, 6))
    s.entry(m2, "redeem_refund", 100, at(1, 8))
    s.entry(m1, "expiry", -10, at(1, 25))
    s.entry(m2, "adjustment", -5, at(1, 26))
    s.entry(m3, "rule_bonus", 25, at(2, 1))

    campaign = ReferralCampaign(
        shop_id=shop_id,
        name="Friends",
        starts_at=at(1, 1),
        friend_discount_kind="percentage",
        friend_discount_value=D(10),
        friend_code_valid_days=30,
        advocate_reward_kind="points",
        advocate_points=100,
        min_order_subtotal=D(0),
        created_at=at(1, 1),
        updated_at=at(1, 1),
    )
    s.add(campaign)

    def referral(created: datetime, status: str, **kw: Any) -> Referral:
        s.n += 1
        return Referral(
            shop_id=shop_id,
            campaign_id=campaign.id,
            advocate_id=m1,
            status=status,
            flags=kw.pop("flags", ""),
            friend_email_key=f"f{s.n}",
            created_at=created,
            updated_at=created,
            **kw,
        )

    flagged = referral(at(1, 16), "flagged", flags="claim_velocity")
    s.add(
        referral(at(1, 15), "rewarded", friend_id=m3, order_id=o10.id, rewarded_at=at(2, 5)),
        flagged,
        referral(at(1, 17), "rejected", reviewed_at=at(1, 18)),
    )
    silver = Tier(
        shop_id=shop_id,
        name="Silver",
        threshold=D(100),
        multiplier=D(1),
        entry_points=0,
        created_at=at(1, 1),
        updated_at=at(1, 1),
    )
    gold = Tier(
        shop_id=shop_id,
        name="Gold",
        threshold=D(300),
        multiplier=D(1),
        entry_points=0,
        created_at=at(1, 1),
        updated_at=at(1, 1),
    )
    s.add(silver, gold)

    def move(customer_id: int, a: Tier | None, b: Tier | None, when: datetime) -> TierChange:
        return TierChange(
            shop_id=shop_id,
            customer_id=customer_id,
            from_tier_id=a.id if a else None,
            to_tier_id=b.id if b else None,
            reason="test",
            changed_at=when,
        )

    s.add(
        move(m1, None, silver, at(1, 3)),
        move(m2, None, silver, at(1, 5)),
        move(m2, silver, gold, at(1, 6)),
        move(m1, silver, None, at(1, 28)),
        MemberTier(
            shop_id=shop_id,
            customer_id=m2,
            tier_id=gold.id,
            reached_at=at(1, 6),
            updated_at=at(1, 6),
        ),
        MemberTier(
            shop_id=shop_id,
            customer_id=m1,
            tier_id=None,
            reached_at=at(1, 28),
            updated_at=at(1, 28),
        ),
    )
    return {
        "s": s,
        "m1": m1,
        "m2": m2,
        "m3": m3,
        "o1": o1,
        "flagged": flagged,
        "silver": silver,
        "gold": gold,
    }


def late_events(container: Container, seeded: dict[str, Any]) -> None:
    """Written at T2, about January: a refund of an old order, an order webhook delivered
    six weeks late, a points reversal, and a flagged referral let through."""
    s: Seeder = seeded["s"]
    s.refund(seeded["o1"], "10.00", T2)
    s.order(at(1, 4), "15.00", email_key="g2", stored=T2)
    s.entry(seeded["m1"], "reverse_order", -10, T2)
    with container.uow() as uow:
        ref = uow.session.get(Referral, seeded["flagged"].id)
        assert ref is not None
        ref.status = "pending"
        ref.reviewed_at = T2
        ref.updated_at = T2
        uow.commit()


def snapshot(container: Container, shop_id: int) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    with container.uow() as uow:
        for model in (AnalyticsDay, AnalyticsMemberDay, AnalyticsOrderDay, AnalyticsReferralDay):
            cols = [c for c in model.__table__.columns]
            rows = uow.session.execute(
                select(*cols).where(model.shop_id == shop_id).order_by(*model.__table__.primary_key)
            ).all()
            out[model.__tablename__] = [tuple(r) for r in rows]
    return out


@pytest.fixture
def seeded(container: Container, shopify_shop: ShopHandle) -> dict[str, Any]:
    return seed(container, shopify_shop.id)


def test_january_figures_by_hand(
    container: Container, shopify_shop: ShopHandle, seeded: dict[str, Any]
) -> None:
    analytics.build_shop(container.uow(), shopify_shop.id, now=T1)
    out = analytics.overview(container.uow(), shopify_shop.id, JAN)
    assert out["range"] == {"from": "2026-01-01", "to": "2026-01-31"}
    assert (out["members"], out["new_members"]) == (2, 2)
    assert (out["active_members"], out["redeemers"]) == (2, 1)
    assert out["redeemer_share"] == "0.5000"
    assert out["points_issued"] == 780  # 100 + 50 + 600 + 30
    assert out["points_reversed"] == 20
    assert out["points_redeemed"] == 400  # 500 spent, 100 returned
    assert (out["points_expired"], out["points_removed"]) == (10, 5)
    # 100 + 50 - 20 + 600 + 30 - 500 + 100 - 10 - 5
    assert out["points_outstanding"] == 345
    assert (out["points_pending"], out["points_spendable"]) == (50, 295)
    assert out["point_value"] == {
        "amount": "0.010000",
        "currency": "USD",
        "reward_id": out["point_value"]["reward_id"],
    }
    assert out["liability"] == {"amount": "3.45", "currency": "USD"}
    assert out["redemption_rate"] == "0.5128"  # 400 / 780
    assert out["shop_currency"] == "USD"
    orders = out["orders"]
    assert orders["members"] == {
        "buyers": 2,
        "orders": 4,  # m1: o1, o2; m2: o3, and o7 in EUR
        "repeat_buyers": 2,
        "repeat_purchase_rate": "1.0000",
        "purchase_frequency": "2.0000",
        "shop_currency_orders": 3,
        "gross": "180.50",
        "refunded": "20.25",
        "revenue": "160.25",
        "average_order_value": "53.42",
    }
    assert orders["guests"] == {
        "buyers": 2,  # g1 twice; one order without an email
        "orders": 3,
        "repeat_buyers": 1,
        "repeat_purchase_rate": "0.5000",
        "purchase_frequency": "1.5000",
        "shop_currency_orders": 3,
        "gross": "110.00",
        "refunded": "0.00",
        "revenue": "110.00",
        "average_order_value": "36.67",
    }
    assert orders["other_currencies"] == [{"currency": "EUR", "orders": 1, "revenue": "25.00"}]
    assert (orders["reward_orders"], orders["reward_revenue"]) == (1, "30.00")
    assert (orders["referred_orders"], orders["referred_revenue"]) == (0, "0.00")
    funnel = out["referral_funnel"]
    assert {k: funnel[k] for k in ("claims", "signed_up", "first_orders", "rewarded")} == {
        "claims": 3,
        "signed_up": 1,
        "first_orders": 1,
        "rewarded": 1,
    }
    assert (funnel["flagged"], funnel["approved"], funnel["rejected"]) == (1, 0, 1)
    assert out["tier_moves"] == {"up": 3, "down": 1}
    assert out["tiers_now"] == [
        {"tier_id": None, "name": None, "members": 2},
        {"tier_id": seeded["silver"].id, "name": "Silver", "members": 0},
        {"tier_id": seeded["gold"].id, "name": "Gold", "members": 1},
    ]
    assert "points_outstanding" in out["definitions"]

    feb = analytics.DateRange(date(2026, 2, 1), date(2026, 2, 28))
    referred = analytics.members_vs_guests(container.uow(), shopify_shop.id, feb)["orders"]
    assert (referred["referred_orders"], referred["referred_revenue"]) == (1, "70.00")

    both = analytics.DateRange(date(2026, 1, 1), date(2026, 2, 28))
    cohorts = analytics.cohorts(container.uow(), shopify_shop.id, both)["cohorts"]
    assert [(c["month"], c["members"], [m["members"] for m in c["retained"]]) for c in cohorts] == [
        ("2026-01", 2, [2, 0]),
        ("2026-02", 1, [1]),
    ]


def test_late_events_counted_on_their_days_and_incremental_equals_rebuild(
    container: Container, shopify_shop: ShopHandle, seeded: dict[str, Any]
) -> None:
    analytics.build_shop(container.uow(), shopify_shop.id, now=T1)
    late_events(container, seeded)
    out = analytics.build_shop(container.uow(), shopify_shop.id, now=T2)
    assert out["days"] != "all"  # only the days the late events touched
    incremental = snapshot(container, shopify_shop.id)

    jan = analytics.overview(container.uow(), shopify_shop.id, JAN)
    assert jan["orders"]["members"]["refunded"] == "30.25"  # the late refund, on o1's day
    assert jan["orders"]["guests"]["buyers"] == 3  # the late order, on its paid day
    assert jan["orders"]["guests"]["revenue"] == "125.00"
    assert jan["referral_funnel"]["approved"] == 1
    assert jan["points_reversed"] == 20  # written in February: not January's
    feb = analytics.points(
        container.uow(), shopify_shop.id, analytics.DateRange(date(2026, 2, 1), date(2026, 2, 28))
    )
    assert feb["points_reversed"] == 10

    analytics.build_shop(container.uow(), shopify_shop.id, now=T2, rebuild=True)
    assert snapshot(container, shopify_shop.id) == incremental


def test_every_build_equals_a_rebuild_as_events_arrive(
    container: Container, shopify_shop: ShopHandle, seeded: dict[str, Any]
) -> None:
    s: Seeder = seeded["s"]
    now = T1
    analytics.build_shop(container.uow(), shopify_shop.id, now=now)
    for step in range(6):
        now += timedelta(hours=5)
        # Each step: an order paid some days ago, a refund of it, entries written now.
        o = s.order(
            now - timedelta(days=3 + step), f"{10 + step}.10", email_key=f"x{step % 2}", stored=now
        )
        if step % 2:
            s.refund(o, "1.05", now)
        s.entry(seeded["m2"], "earn_order", 5 + step, now)
        analytics.build_shop(container.uow(), shopify_shop.id, now=now)
        incremental = snapshot(container, shopify_shop.id)
        analytics.build_shop(container.uow(), shopify_shop.id, now=now, rebuild=True)
        assert snapshot(container, shopify_shop.id) == incremental


def test_figures_are_per_shop(
    container: Container, shopify_shop: ShopHandle, seeded: dict[str, Any]
) -> None:
    other = make_shop(container, "shopify", "other-shop.myshopify.com", access_token="shpat_y")
    s = Seeder(container, other.id)
    m = s.customer(at(1, 2))
    s.order(at(1, 3), "7.00", customer_id=m)
    s.entry(m, "earn_order", 7, at(1, 3))
    analytics.build_all(container.uow, now=T1)
    mine = analytics.overview(container.uow(), shopify_shop.id, JAN)
    theirs = analytics.overview(container.uow(), other.id, JAN)
    assert (mine["members"], mine["points_issued"]) == (2, 780)
    assert (theirs["members"], theirs["points_issued"]) == (1, 7)
    assert theirs["orders"]["members"]["revenue"] == "7.00"
    assert theirs["liability"] is None  # no fixed-amount reward: no point value
    assert theirs["referral_funnel"]["claims"] == 0
    # Rebuilding one shop leaves the other's rows alone.
    before = snapshot(container, shopify_shop.id)
    analytics.build_all(container.uow, now=T1, rebuild=True, shop_id=other.id)
    assert snapshot(container, shopify_shop.id) == before


@pytest.mark.parametrize(
    ("raw_from", "raw_to", "code"),
    [
        ("2026-13-01", None, "invalid_date"),
        ("20260101", None, "invalid_date"),
        ("2026-02-01", "2026-01-01", "date_range_reversed"),
        ("2020-01-01", "2026-01-01", "date_range_too_long"),
        (None, "2099-01-01", "date_in_future"),
    ],
)
def test_bad_ranges_are_refused(raw_from: str | None, raw_to: str | None, code: str) -> None:
    with pytest.raises(errors.LoyaltyError) as caught:
        analytics.parse_range(raw_from, raw_to, today=date(2026, 12, 3))
    assert caught.value.code == code


def test_default_range_is_the_last_30_days() -> None:
    r = analytics.parse_range(None, None, today=date(2026, 12, 3))
    assert (r.first, r.last, r.days) == (date(2026, 11, 4), date(2026, 12, 3), 30)


def test_api_overview_csv_and_errors(
    container: Container, client: FlaskClient, shopify_shop: ShopHandle, seeded: dict[str, Any]
) -> None:
    analytics.build_shop(container.uow(), shopify_shop.id, now=T1)
    auth = shopify_shop.auth
    r = client.get("/api/v1/analytics/overview?from=2026-01-01&to=2026-01-31", headers=auth)
    assert r.status_code == 200
    body = r.get_json()
    assert (body["points_outstanding"], body["liability"]["amount"]) == (345, "3.45")
    for path in ("points", "members-vs-guests", "referrals", "cohorts", "tiers"):
        r = client.get(f"/api/v1/analytics/{path}?from=2026-01-01&to=2026-01-31", headers=auth)
        assert r.status_code == 200, path
        r = client.get(f"/api/v1/analytics/{path}.csv?from=2026-01-01&to=2026-01-31", headers=auth)
        assert r.status_code == 200, path
        assert r.mimetype == "text/csv"
    r = client.get(
        "/api/v1/analytics/overview?from=2026-01-01&to=2026-01-31&format=csv",
        headers=auth,
        follow_redirects=True,
    )
    assert r.mimetype == "text/csv"
    rows = {row["figure"]: row for row in csv.DictReader(io.StringIO(r.get_data(as_text=True)))}
    assert rows["points_outstanding"]["value"] == "345"
    assert rows["liability"]["value"] == "3.45"
    assert rows["liability"]["currency"] == "USD"
    assert rows["points_outstanding"]["definition"]

    r = client.get("/api/v1/analytics/overview?from=2026-02-01&to=2026-01-01", headers=auth)
    assert r.status_code == 400
    assert r.get_json()["error"]["code"] == "date_range_reversed"
    r = client.get("/api/v1/analytics/points?from=yesterday", headers=auth)
    assert (r.status_code, r.get_json()["error"]["code"]) == (400, "invalid_date")
    r = client.get("/api/v1/analytics/overview")
    assert r.status_code == 401


def test_cli_rebuild_and_show(
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    container: Container,
    shopify_shop: ShopHandle,
    seeded: dict[str, Any],
) -> None:
    from click.testing import CliRunner

    from plugin_server import cli
    from tests.conftest import SHOPIFY_SECRET

    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("LOYALTY_SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("SHOPIFY_API_SECRET", SHOPIFY_SECRET)
    monkeypatch.setenv("LOYALTY_INSTANCE_PATH", str(settings.instance_path))
    monkeypatch.delenv("REDIS_URL", raising=False)
    runner = CliRunner()
    result = runner.invoke(cli.main, ["analytics", "rebuild", "--shop", str(shopify_shop.id)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"shops": 1}
    args = ["analytics", "show", "--shop", str(shopify_shop.id), "--from", "2026-01-01"]
    result = runner.invoke(cli.main, [*args, "--to", "2026-01-31"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["liability"] == {"amount": "3.45", "currency": "USD"}
    result = runner.invoke(cli.main, [*args, "--to", "2026-01-31", "--csv"])
    assert "points_outstanding,345," in result.output
    result = runner.invoke(cli.main, [*args, "--to", "2025-01-31"])
    assert result.exit_code != 0
    assert "date_range_reversed" in result.output
    result = runner.invoke(cli.main, ["analytics", "rebuild", "--shop", "999999"])
    assert "shop_not_found" in result.output


def test_shop_redaction_erases_the_aggregates(
    container: Container, shopify_shop: ShopHandle, seeded: dict[str, Any]
) -> None:
    from plugin_server.services import privacy

    analytics.build_shop(container.uow(), shopify_shop.id, now=T1)
    assert snapshot(container, shopify_shop.id)["analytics_days"]
    with container.uow() as uow:
        privacy.redact_shop(uow.session, shopify_shop.id)
        uow.commit()
    assert all(rows == [] for rows in snapshot(container, shopify_shop.id).values())


def test_an_order_webhook_delivered_late_counts_on_the_day_it_was_paid(
    container: Container, client: FlaskClient, shopify_shop: ShopHandle
) -> None:
    from plugin_server.simulate import shopify_order, sign_shopify
    from tests.conftest import SHOPIFY_SECRET, post

    now = container.clock()
    analytics.build_shop(container.uow(), shopify_shop.id, now=now)
    paid = (now - timedelta(days=5)).replace(microsecond=0)
    payload = shopify_order(order_id=77, email="late@example.com", subtotal=D("50.00"))
    payload["processed_at"] = payload["created_at"] = paid.isoformat()
    delivery = sign_shopify(
        payload, topic="orders/paid", shop_domain=shopify_shop.domain, secret=SHOPIFY_SECRET
    )
    assert post(client, delivery).status_code == 200
    with container.uow() as uow:
        order = uow.session.scalars(select(Order).where(Order.shop_id == shopify_shop.id)).one()
        assert order.paid_at == paid
    analytics.build_shop(container.uow(), shopify_shop.id, now=container.clock())
    day = paid.date().isoformat()
    r = client.get(
        f"/api/v1/analytics/members-vs-guests?from={day}&to={day}", headers=shopify_shop.auth
    )
    guests = r.get_json()["orders"]["guests"]
    assert (guests["orders"], guests["revenue"]) == (1, "50.00")


def test_a_customer_redaction_drops_the_guests_email_digest_at_the_next_build(
    container: Container, shopify_shop: ShopHandle, seeded: dict[str, Any]
) -> None:
    from plugin_server.domain import orders as domain
    from plugin_server.services import privacy

    analytics.build_shop(container.uow(), shopify_shop.id, now=T1)
    with container.uow() as uow:
        shop = uow.session.get(Shop, shopify_shop.id)
        assert shop is not None
        event = domain.PrivacyEvent(
            platform=domain.Platform.SHOPIFY,
            kind="customer_redact",
            customer=domain.Customer(customer_ref="nobody", email="g1@example.com"),
            order_refs=tuple(
                uow.session.scalars(
                    select(Order.order_ref).where(
                        Order.shop_id == shopify_shop.id, Order.email_key == "g1"
                    )
                )
            ),
        )
        privacy.redact_customer(uow.session, shop, event, now=T2)
        uow.commit()
    analytics.build_shop(container.uow(), shopify_shop.id, now=T2)
    buyers = [row[2] for row in snapshot(container, shopify_shop.id)["analytics_order_days"]]
    assert "g:g1" not in buyers
    incremental = snapshot(container, shopify_shop.id)
    analytics.build_shop(container.uow(), shopify_shop.id, now=T2, rebuild=True)
    assert snapshot(container, shopify_shop.id) == incremental
