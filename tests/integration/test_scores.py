"""Customer scores (RFM), segments and the Buy-Till-You-Die inputs: what the recompute
writes for edge cases, hand-checked quintiles, the same rows whatever the chunking, the
scheduler's daily run, the admin API and CLI, and campaigns limited to segments."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import select

from plugin_server import cli, jobs
from plugin_server.bootstrap import Container
from plugin_server.db.models import (
    Customer,
    CustomerScore,
    EarningRule,
    LedgerEntry,
    Order,
    OrderRefund,
    Redemption,
    Referral,
    ReferralCampaign,
    Reward,
)
from plugin_server.domain import segments as rules
from plugin_server.services import scores
from plugin_server.settings import Settings
from tests.conftest import SHOPIFY_SECRET, FakeClock, ShopHandle, make_shop
from tests.integration.test_bonus_campaigns import campaign, deliver, kinds, order

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def member(container: Container, shop_id: int, ref: str, *, joined: datetime = NOW) -> int:
    with container.uow() as uow:
        c = Customer(
            shop_id=shop_id,
            customer_ref=ref,
            email=f"{ref.removeprefix('guest:')}@example.com" if "@" not in ref else None,
            created_at=joined,
            updated_at=joined,
        )
        uow.session.add(c)
        uow.session.flush()
        cid = c.id
        uow.commit()
    return cid


_refs = iter(range(1, 10**9))


def add_order(
    container: Container,
    shop_id: int,
    customer_id: int | None,
    paid_at: datetime | None,
    total: str,
    *,
    currency: str = "USD",
    cancelled: bool = False,
    fully_refunded: bool = False,
    refunds: tuple[tuple[str, str | None], ...] = (),
) -> int:
    n = next(_refs)
    with container.uow() as uow:
        o = Order(
            shop_id=shop_id,
            order_ref=f"o{n}",
            customer_id=customer_id,
            cancelled=cancelled,
            fully_refunded=fully_refunded,
            refund_count=len(refunds),
            earned_points=0 if paid_at else None,
            currency=currency,
            order_total=D(total),
            paid_at=paid_at,
            created_at=paid_at or NOW,
            updated_at=paid_at or NOW,
        )
        uow.session.add(o)
        uow.session.flush()
        for k, (amount, refund_currency) in enumerate(refunds):
            uow.session.add(
                OrderRefund(
                    shop_id=shop_id,
                    order_id=o.id,
                    refund_ref=f"r{n}-{k}",
                    lines_subtotal=D(amount),
                    shipping=D(0),
                    tax=D(0),
                    amount=D(amount),
                    amount_currency=refund_currency,
                    has_line_items=False,
                    created_at=NOW,
                )
            )
        oid = o.id
        uow.commit()
    return oid


def rows(container: Container, shop_id: int) -> dict[int, CustomerScore]:
    with container.uow() as uow:
        found = uow.session.scalars(
            select(CustomerScore).where(CustomerScore.shop_id == shop_id)
        ).all()
        uow.session.expunge_all()
    return {r.customer_id: r for r in found}


def recompute(container: Container, shop_id: int, **kwargs: Any) -> dict[str, int]:
    return scores.recompute_shop(container.uow, shop_id, now=kwargs.pop("now", NOW), **kwargs)


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


# --- edge cases ---------------------------------------------------------------------------


def test_one_order(container: Container, shopify_shop: ShopHandle) -> None:
    cid = member(container, shopify_shop.id, "1", joined=days_ago(40))
    add_order(container, shopify_shop.id, cid, days_ago(10.2), "25.50")
    assert recompute(container, shopify_shop.id) == {"members": 1, "scored": 1, "predicted": 0}
    r = rows(container, shopify_shop.id)[cid]
    # Paid 5 June 07:12 UTC, computed 15 June 12:00: ten calendar days.
    assert (r.frequency, r.recency_days, r.monetary_minor, r.currency) == (1, 10, 2550, "USD")
    assert (r.btyd_x, r.btyd_t_x, r.btyd_t, r.mean_repeat_value_minor) == (0, 0, 10, None)
    assert (r.tenure_days, r.first_order_at, r.last_order_at) == (
        40,
        days_ago(10.2),
        days_ago(10.2),
    )
    # Alone in the shop: every score is the lowest, which maps to "lost".
    assert (r.r_score, r.f_score, r.m_score, r.segment) == (1, 1, 1, "lost")
    assert (r.prediction_status, r.p_alive, r.predicted_clv_minor) == (
        "not_enough_history",
        None,
        None,
    )
    assert r.computed_at == NOW


def test_refunded_cancelled_and_unpaid_orders_do_not_count(
    container: Container, shopify_shop: ShopHandle
) -> None:
    shop = shopify_shop.id
    none = member(container, shop, "none", joined=days_ago(5))
    add_order(
        container, shop, none, days_ago(3), "40", fully_refunded=True, refunds=(("40", "USD"),)
    )
    add_order(container, shop, none, days_ago(2), "10", cancelled=True)
    add_order(container, shop, none, None, "10")  # never paid
    partly = member(container, shop, "partly", joined=days_ago(30))
    # 100 less 30 refunded; a refund in another currency is not subtracted from USD money.
    add_order(container, shop, partly, days_ago(20), "100", refunds=(("30", "USD"), ("5", "EUR")))
    add_order(container, shop, partly, days_ago(1), "80", currency="EUR")  # counted, no money
    # Most counted orders are in USD: the shop's currency (no reward sets one).
    add_order(container, shop, member(container, shop, "other"), days_ago(1), "1")
    recompute(container, shop)
    got = rows(container, shop)
    n = got[none]
    assert (n.frequency, n.recency_days, n.monetary_minor, n.tenure_days) == (0, None, 0, 5)
    assert (n.r_score, n.f_score, n.m_score, n.segment) == (None, None, None, None)
    assert (n.btyd_x, n.btyd_t_x, n.btyd_t, n.first_order_at) == (None, None, None, None)
    p = got[partly]
    assert (p.frequency, p.recency_days, p.monetary_minor, p.currency) == (2, 1, 7000, "USD")
    # The repeat purchase day is in EUR only: no repeat value in the shop's currency.
    assert (p.btyd_x, p.btyd_t_x, p.btyd_t, p.mean_repeat_value_minor) == (1, 19, 20, None)


def test_repeat_purchases_one_a_day_and_their_mean_value(
    container: Container, shopify_shop: ShopHandle
) -> None:
    shop = shopify_shop.id
    cid = member(container, shop, "1", joined=days_ago(100))
    add_order(container, shop, cid, days_ago(60), "10.00")
    # Two orders on one later UTC day are one repeat purchase worth 30.01; another is 20.
    day = (NOW - timedelta(days=30)).replace(hour=1)
    add_order(container, shop, cid, day, "10.00")
    add_order(container, shop, cid, day + timedelta(hours=20), "20.01")
    add_order(container, shop, cid, days_ago(4), "20.00")
    recompute(container, shop)
    r = rows(container, shop)[cid]
    assert (r.frequency, r.btyd_x, r.btyd_t_x, r.btyd_t) == (4, 2, 56, 60)
    assert r.mean_repeat_value_minor == 2501  # (3001 + 2000) / 2, halves up
    assert (r.monetary_minor, r.recency_days) == (6001, 4)


def test_money_in_minor_units_of_the_shops_currency(container: Container) -> None:
    shop = make_shop(container, "shopify", "yen.myshopify.com").id
    with container.uow() as uow:
        uow.session.add(
            Reward(
                shop_id=shop, name="100 yen", kind="fixed_amount", points_cost=100,
                amount=D(100), currency="JPY", product_ids="[]", collection_ids="[]",
                code_valid_days=30, created_at=NOW, updated_at=NOW,
            )
        )  # fmt: skip
        uow.commit()
    cid = member(container, shop, "1")
    add_order(container, shop, cid, days_ago(1), "1500", currency="JPY")
    add_order(container, shop, cid, days_ago(2), "9", currency="USD")
    add_order(container, shop, cid, days_ago(3), "9", currency="USD")
    recompute(container, shop)
    r = rows(container, shop)[cid]
    # The reward's currency wins over the currency most orders are in.
    assert (r.currency, r.monetary_minor, r.frequency) == ("JPY", 1500, 3)
    assert scores.view(r)["monetary"] == "1500"


def test_a_guest_who_registers_later_is_scored_apart(
    container: Container, shopify_shop: ShopHandle
) -> None:
    """Members are never merged: the guest's orders stay with the guest member, the
    account's with the account (both share an email)."""
    shop = shopify_shop.id
    guest = member(container, shop, "guest:ann@example.com", joined=days_ago(90))
    add_order(container, shop, guest, days_ago(80), "50")
    add_order(container, shop, guest, days_ago(70), "50")
    account = member(container, shop, "555", joined=days_ago(10))
    add_order(container, shop, account, days_ago(5), "20")
    add_order(container, shop, None, days_ago(5), "999")  # a guest checkout: nobody's
    recompute(container, shop)
    got = rows(container, shop)
    assert set(got) == {guest, account}
    assert (got[guest].frequency, got[guest].monetary_minor, got[guest].tenure_days) == (
        2,
        10000,
        90,
    )
    assert (got[account].frequency, got[account].monetary_minor) == (1, 2000)


def test_engagement_and_advocacy(container: Container, shopify_shop: ShopHandle) -> None:
    shop = shopify_shop.id
    cid = member(container, shop, "1")
    friend = member(container, shop, "2")
    with container.uow() as uow:
        s = uow.session
        for kind, key in (("activity", "review"), ("signup", "welcome")):
            s.add(
                EarningRule(
                    shop_id=shop, kind=kind, key=key, name=key, points=5,
                    created_at=NOW, updated_at=NOW,
                )
            )  # fmt: skip
        for n, key in enumerate(("review", "review", "welcome")):
            s.add(
                LedgerEntry(
                    shop_id=shop, customer_id=cid, points=5, kind="rule_bonus", reason="r",
                    source_type="rule", source_ref=key, idempotency_key=f"rule:{key}:{n}",
                    created_at=NOW, available_at=NOW,
                )
            )  # fmt: skip
        for n, status in enumerate(("issued", "used", "failed")):
            s.add(
                Redemption(
                    shop_id=shop, customer_id=cid, points=10, code=f"C{n}", status=status,
                    discount="{}", request_fingerprint="x", expires_at=NOW, created_at=NOW,
                    updated_at=NOW,
                )
            )  # fmt: skip
        rc = ReferralCampaign(
            shop_id=shop, name="c", starts_at=NOW, friend_discount_kind="percentage",
            friend_discount_value=D(10), friend_code_valid_days=30,
            advocate_reward_kind="points", advocate_points=10, min_order_subtotal=D(0),
            created_at=NOW, updated_at=NOW,
        )  # fmt: skip
        s.add(rc)
        s.flush()
        for n, status in enumerate(("rewarded", "pending")):
            s.add(
                Referral(
                    shop_id=shop, campaign_id=rc.id, advocate_id=cid,
                    friend_id=friend if n == 0 else None, friend_email_key=f"k{n}",
                    status=status, flags="", created_at=NOW, updated_at=NOW,
                )
            )  # fmt: skip
        uow.commit()
    recompute(container, shop)
    r = rows(container, shop)[cid]
    # The sign-up bonus is not an activity; a failed redemption is not engagement.
    assert (r.activities, r.redemptions, r.engagement, r.advocacy) == (2, 2, 4, 1)
    assert (rows(container, shop)[friend].engagement, rows(container, shop)[friend].advocacy) == (
        0,
        0,
    )


# --- quintiles and segments ---------------------------------------------------------------


def test_ten_customers_hand_checked(container: Container, shopify_shop: ShopHandle) -> None:
    """Member k (0-9) last bought 10 - k days ago, k + 1 times, 10.00 each: ten different
    values per measure score 1, 1, 2, 2, 3, 3, 4, 4, 5, 5 from the worst up."""
    shop = shopify_shop.id
    ids = []
    for k in range(10):
        cid = member(container, shop, f"c{k}", joined=days_ago(400))
        ids.append(cid)
        for j in range(k + 1):
            add_order(container, shop, cid, days_ago(10 - k + 20 * j), "10.00")
    assert recompute(container, shop) == {"members": 10, "scored": 10, "predicted": 0}
    got = rows(container, shop)
    expected = [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert [got[c].recency_days for c in ids] == [10 - k for k in range(10)]
    assert [got[c].r_score for c in ids] == expected
    assert [got[c].f_score for c in ids] == expected
    assert [got[c].m_score for c in ids] == expected
    assert [got[c].segment for c in ids] == [
        "lost", "lost", "hibernating", "hibernating", "need_attention", "need_attention",
        "loyal", "loyal", "champions", "champions",
    ]  # fmt: skip


def test_ties_share_a_score(container: Container, shopify_shop: ShopHandle) -> None:
    shop = shopify_shop.id
    counts = [1, 1, 1, 2, 2, 3, 4, 4, 4, 4]
    ids = []
    for k, n in enumerate(counts):
        cid = member(container, shop, f"c{k}", joined=days_ago(400))
        ids.append(cid)
        for j in range(n):
            add_order(container, shop, cid, days_ago(5 + 30 * j), "10.00")
    recompute(container, shop)
    got = rows(container, shop)
    # Cut ranks 2, 4, 6, 8 hold 1, 2, 3, 4 orders: more than 1 scores 2, and so on.
    assert [got[c].f_score for c in ids] == [1, 1, 1, 2, 2, 3, 4, 4, 4, 4]
    assert [got[c].r_score for c in ids] == [1] * 10  # everyone bought 5 days ago
    assert [got[c].segment for c in ids] == [
        rules.segment_for(1, f, f) for f in [1, 1, 1, 2, 2, 3, 4, 4, 4, 4]
    ]


def _random_shop(container: Container, shop_id: int, seed: int, n: int) -> None:
    rng = random.Random(seed)
    for k in range(n):
        cid = member(container, shop_id, f"r{seed}-{k}", joined=days_ago(rng.uniform(0, 900)))
        for _ in range(rng.choice([0, 1, 1, 2, 3, 5])):
            total = f"{rng.randrange(0, 30000) / 100:.2f}"
            refunded = rng.random() < 0.2
            add_order(
                container, shop_id, cid, days_ago(rng.uniform(0, 700)), total,
                currency="USD" if rng.random() < 0.9 else "EUR",
                cancelled=rng.random() < 0.05, fully_refunded=refunded and rng.random() < 0.5,
                refunds=((f"{D(total) / 3:.2f}", "USD"),) if refunded else (),
            )  # fmt: skip


def _reference(container: Container, shop_id: int) -> dict[int, tuple[Any, ...]]:
    """Scores and segments recomputed here in Python from the stored order rows, with the
    domain's rules: what the SQL must give on every database."""
    with container.uow() as uow:
        s = uow.session
        members = list(s.scalars(select(Customer.id).where(Customer.shop_id == shop_id)))
        orders = s.execute(
            select(Order.id, Order.customer_id, Order.paid_at, Order.order_total, Order.currency)
            .where(
                Order.shop_id == shop_id, Order.paid_at.is_not(None),
                Order.customer_id.is_not(None), Order.cancelled.is_(False),
                Order.fully_refunded.is_(False),
            )
        ).all()  # fmt: skip
        refunds: dict[int, D] = {}
        for oid, amount, cur in s.execute(
            select(OrderRefund.order_id, OrderRefund.amount, OrderRefund.amount_currency)
        ):
            refunds[oid] = refunds.get(oid, D(0)) + (amount if cur in (None, "USD") else 0)
    stats: dict[int, list[Any]] = {m: [0, None, D(0)] for m in members}
    for oid, cid, paid_at, total, cur in orders:
        st = stats[cid]
        st[0] += 1
        st[1] = max(st[1] or paid_at, paid_at)
        if cur == "USD":
            st[2] += max(D(0), total - min(refunds.get(oid, D(0)), total))
    scored = [m for m in members if stats[m][0]]
    r = rules.scores_of([-(NOW.date() - stats[m][1].date()).days for m in scored])
    f = rules.scores_of([stats[m][0] for m in scored])
    money = [int((stats[m][2] * 100).to_integral_value()) for m in scored]
    mm = rules.scores_of(money)
    out: dict[int, tuple[Any, ...]] = {m: (0, None, None, None, None) for m in members}
    for i, m in enumerate(scored):
        seg = rules.segment_for(r[i], f[i], mm[i]).value
        out[m] = (stats[m][0], money[i], (r[i], f[i], mm[i]), seg)
    for m in members:
        if not stats[m][0]:
            out[m] = (0, 0, (None, None, None), None)
    return out


def test_the_database_applies_the_domain_rules(
    container: Container, shopify_shop: ShopHandle
) -> None:
    """On SQLite and PostgreSQL alike, every stored score and segment equals the one the
    pure-Python rules give from the same rows: the two databases give the same scores."""
    _random_shop(container, shopify_shop.id, seed=7, n=80)
    recompute(container, shopify_shop.id)
    got = {
        cid: (r.frequency, r.monetary_minor, (r.r_score, r.f_score, r.m_score), r.segment)
        for cid, r in rows(container, shopify_shop.id).items()
    }
    assert got == _reference(container, shopify_shop.id)
    assert len({v[3] for v in got.values()}) >= 5


def _comparable(found: dict[int, CustomerScore]) -> dict[int, dict[str, Any]]:
    return {
        cid: {c: getattr(r, c) for c in (col.key for col in CustomerScore.__table__.columns)}
        for cid, r in found.items()
    }


@pytest.mark.parametrize(("chunk", "connections"), [(3, 1), (7, 2), (5000, 2)])
def test_same_rows_in_any_chunking_and_again(
    container: Container, shopify_shop: ShopHandle, chunk: int, connections: int
) -> None:
    _random_shop(container, shopify_shop.id, seed=3, n=40)
    recompute(container, shopify_shop.id, chunk=1000, connections=1)
    first = _comparable(rows(container, shopify_shop.id))
    recompute(container, shopify_shop.id, chunk=chunk, connections=connections)
    assert _comparable(rows(container, shopify_shop.id)) == first


def test_a_recompute_moves_members_between_segments(
    container: Container, shopify_shop: ShopHandle
) -> None:
    shop = shopify_shop.id
    a = member(container, shop, "a")
    b = member(container, shop, "b")
    add_order(container, shop, a, days_ago(1), "100")
    add_order(container, shop, b, days_ago(300), "5")
    recompute(container, shop)
    # Of two members the better one is ranked above half the shop: scores 3 (cut ranks
    # 1, 1, 2, 2), and equal frequencies score 1: R 3, FM 2.
    got = rows(container, shop)
    assert (got[a].r_score, got[a].f_score, got[a].m_score) == (3, 1, 3)
    assert (got[a].segment, got[b].segment) == ("need_attention", "lost")
    for _ in range(3):
        add_order(container, shop, b, days_ago(0.5), "200")
    recompute(container, shop)
    got = rows(container, shop)
    assert (got[a].segment, got[b].segment) == ("lost", "need_attention")
    assert (got[b].r_score, got[b].f_score, got[b].m_score) == (3, 3, 3)


# --- other shops, the scheduler, the API and CLI --------------------------------------------


def test_other_shops_customers_never_appear(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle
) -> None:
    other = make_shop(container, "shopify", "other.myshopify.com")
    mine = member(container, shopify_shop.id, "1")
    theirs = member(container, other.id, "2")
    add_order(container, shopify_shop.id, mine, days_ago(3), "10")
    for k in range(3):
        add_order(container, other.id, theirs, days_ago(1 + k), "1000")
    recompute(container, shopify_shop.id)
    assert set(rows(container, shopify_shop.id)) == {mine}
    assert rows(container, other.id) == {}
    listed = client.get("/api/v1/segments", headers=shopify_shop.auth).json
    assert (listed["scored_members"], listed["unscored_members"]) == (1, 0)
    page = client.get("/api/v1/segments/lost/members", headers=shopify_shop.auth).json
    assert [m["customer_id"] for m in page["members"]] == ["1"]
    assert client.get("/api/v1/customers/2", headers=shopify_shop.auth).status_code == 404
    theirs_listed = client.get("/api/v1/segments", headers=other.auth).json
    assert theirs_listed["scored_members"] == 0
    assert theirs_listed["computed_at"] is None


def test_the_tick_computes_each_shop_once_a_day(
    container: Container, clock: FakeClock, shopify_shop: ShopHandle
) -> None:
    cid = member(container, shopify_shop.id, "1")
    add_order(container, shopify_shop.id, cid, clock() - timedelta(days=2), "10")
    assert jobs.tick(container)["scores_shops_computed"] == 1
    assert rows(container, shopify_shop.id)[cid].recency_days == 2
    assert jobs.tick(container)["scores_shops_computed"] == 0
    clock.advance(days=1)
    assert jobs.tick(container)["scores_shops_computed"] == 1
    assert rows(container, shopify_shop.id)[cid].recency_days == 3


def test_customer_and_segment_endpoints(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle
) -> None:
    shop, auth = shopify_shop.id, shopify_shop.auth
    ids = []
    for k in range(10):
        cid = member(container, shop, f"c{k}", joined=days_ago(400))
        ids.append(cid)
        for j in range(k + 1):
            add_order(container, shop, cid, days_ago(10 - k + 20 * j), "10.00")
    member(container, shop, "idle")
    assert client.get("/api/v1/customers/c9", headers=auth).json["scores"] is None
    recompute(container, shop)
    got = client.get("/api/v1/customers/c9", headers=auth).json["scores"]
    assert (got["segment"], got["r_score"], got["frequency"], got["monetary"]) == (
        "champions",
        5,
        10,
        "100.00",
    )
    assert got["btyd"] == {"x": 9, "t_x": 180, "T": 181, "mean_repeat_value_minor": 1000}
    assert got["prediction"]["status"] == "not_enough_history"
    listed = client.get("/api/v1/segments", headers=auth).json
    by_name = {s["segment"]: s for s in listed["segments"]}
    assert [s["segment"] for s in listed["segments"]] == rules.names()
    assert (listed["scored_members"], listed["unscored_members"]) == (10, 1)
    assert (by_name["champions"]["count"], by_name["champions"]["share"]) == (2, "0.2000")
    assert (by_name["at_risk"]["count"], by_name["at_risk"]["share"]) == (0, "0.0000")
    assert "R 5" in by_name["champions"]["definition"]
    first = client.get("/api/v1/segments/lost/members?limit=1", headers=auth).json
    assert [m["customer_id"] for m in first["members"]] == ["c0"]
    second = client.get(
        f"/api/v1/segments/lost/members?limit=1&cursor={first['next_cursor']}", headers=auth
    ).json
    assert [m["customer_id"] for m in second["members"]] == ["c1"]
    assert second["next_cursor"] is None
    bad = client.get("/api/v1/segments/vips/members", headers=auth)
    assert (bad.status_code, bad.json["error"]["code"]) == (400, "unknown_segment")


@pytest.fixture
def runner(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("LOYALTY_SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("SHOPIFY_API_SECRET", SHOPIFY_SECRET)
    monkeypatch.setenv("LOYALTY_INSTANCE_PATH", str(settings.instance_path))
    monkeypatch.delenv("REDIS_URL", raising=False)
    return CliRunner()


def test_cli_rebuild_and_show(
    runner: CliRunner, container: Container, shopify_shop: ShopHandle
) -> None:
    cid = member(container, shopify_shop.id, "77")
    add_order(container, shopify_shop.id, cid, datetime.now(UTC) - timedelta(days=1), "10")
    shown = runner.invoke(cli.main, ["scores", "show", "--shop", str(shopify_shop.id), "77"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output) == {"customer_id": "77", "scores": None}
    done = runner.invoke(cli.main, ["scores", "rebuild", "--shop", str(shopify_shop.id)])
    assert done.exit_code == 0, done.output
    assert json.loads(done.output) == {
        "shops": {str(shopify_shop.id): {"members": 1, "scored": 1, "predicted": 0}}
    }
    shown = runner.invoke(cli.main, ["scores", "show", "--shop", str(shopify_shop.id), "77"])
    assert json.loads(shown.output)["scores"]["frequency"] == 1
    missing = runner.invoke(cli.main, ["scores", "rebuild", "--shop", "999999"])
    assert missing.exit_code != 0
    assert "shop_not_found" in missing.output


# --- campaigns limited to segments -------------------------------------------------------


def test_segment_campaign_validation(
    client: FlaskClient, clock: FakeClock, shopify_shop: ShopHandle
) -> None:
    auth = shopify_shop.auth
    rule = campaign(client, shopify_shop, clock, segments=["at_risk", "cannot_lose", "at_risk"])
    assert rule["segments"] == ["at_risk", "cannot_lose"]
    r = client.post(
        "/api/v1/earning-rules",
        json={
            "kind": "bonus", "key": "vip", "name": "VIP", "multiplier": "2",
            "ends_at": (clock() + timedelta(days=1)).isoformat(), "segments": ["vips"],
        },
        headers=auth,
    )  # fmt: skip
    assert (r.status_code, r.json["error"]["code"]) == (400, "unknown_segment")
    r = client.post(
        "/api/v1/earning-rules",
        json={"kind": "activity", "key": "review", "name": "R", "points": 5, "segments": ["new"]},
        headers=auth,
    )
    assert (r.status_code, r.json["error"]["code"]) == (400, "validation_failed")
    changed = client.patch(
        f"/api/v1/earning-rules/{rule['id']}", json={"segments": []}, headers=auth
    )
    assert changed.status_code == 200, changed.json
    assert changed.json["segments"] == []
    changed = client.patch(
        f"/api/v1/earning-rules/{rule['id']}", json={"name": "Renamed"}, headers=auth
    )
    assert changed.json["segments"] == []
    bad = client.patch(
        f"/api/v1/earning-rules/{rule['id']}", json={"segments": ["lost", "x"]}, headers=auth
    )
    assert (bad.status_code, bad.json["error"]["code"]) == (400, "unknown_segment")


def test_segment_campaign_awards_only_that_segment(
    client: FlaskClient, container: Container, clock: FakeClock, shopify_shop: ShopHandle
) -> None:
    """Double points only for at_risk: the member stored as at_risk gets the bonus, one in
    another segment and one not scored yet do not."""
    shop = shopify_shop.id
    at_risk = member(container, shop, "42")
    loyal = member(container, shop, "43")
    with container.uow() as uow:
        for cid, seg in ((at_risk, "at_risk"), (loyal, "loyal")):
            uow.session.add(
                CustomerScore(
                    shop_id=shop, customer_id=cid, frequency=3, monetary_minor=0, segment=seg,
                    tenure_days=0, activities=0, redemptions=0, engagement=0, advocacy=0,
                    prediction_status="not_computed", computed_at=clock(),
                )
            )  # fmt: skip
        uow.commit()
    campaign(client, shopify_shop, clock, segments=["at_risk"])
    deliver(client, shopify_shop, "orders/paid", order(9001, [(1, "10.00")], customer_id=42))
    deliver(client, shopify_shop, "orders/paid", order(9002, [(1, "10.00")], customer_id=43))
    deliver(client, shopify_shop, "orders/paid", order(9003, [(1, "10.00")], customer_id=44))
    assert kinds(client, shopify_shop) == [("earn_order", 10), ("campaign_bonus", 10)]

    def bonuses(customer: int) -> list[str]:
        r = client.get(f"/api/v1/customers/{customer}/transactions", headers=shopify_shop.auth)
        return [t["kind"] for t in r.json["transactions"]]

    assert bonuses(43) == ["earn_order"]
    assert bonuses(44) == ["earn_order"]
    # Shoppers are not shown a campaign meant for some segments only.
    with container.uow() as uow:
        assert uow.session.scalar(select(EarningRule.segments)) == '["at_risk"]'


def test_widget_use_counts_once_a_day_over_ninety_days(
    container: Container, shopify_shop: ShopHandle
) -> None:
    """The widget's summary records the day a member looks at their points; engagement
    counts those days over the last 90 (a second look the same day adds nothing)."""
    from plugin_server.db.models import WidgetUseDay
    from plugin_server.services import storefront

    shop = shopify_shop.id
    cid = member(container, shop, "1")
    for when in (days_ago(100), days_ago(1), days_ago(1), NOW, NOW):
        storefront.summary(container.engine, container.storefront_shops, shop, "1", now=when)
    # Someone the shop does not know yet (no member row) leaves no trace.
    storefront.summary(container.engine, container.storefront_shops, shop, "404", now=NOW)
    with container.uow() as uow:
        days = sorted(
            d
            for d in uow.session.scalars(
                select(WidgetUseDay.day).where(WidgetUseDay.shop_id == shop)
            )
        )
    assert days == [days_ago(100).date(), days_ago(1).date(), NOW.date()]
    recompute(container, shop)
    r = rows(container, shop)[cid]
    assert (r.widget_days, r.engagement) == (2, 2)
    assert scores.view(r)["engagement"] == {
        "total": 2,
        "activities": 0,
        "redemptions": 0,
        "widget_days": 2,
    }
