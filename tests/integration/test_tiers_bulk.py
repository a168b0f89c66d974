"""Recalculating tiers over many members at once: whatever path a database takes
(PostgreSQL decides and writes each chunk in SQL, SQLite in Python), a pass writes exactly
what `services.tiers._apply` plans for every member, for every measure, period and
downgrade policy, in any chunk size."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import pytest
from sqlalchemy import select, update

from plugin_server.bootstrap import Container
from plugin_server.db.models import (
    Customer,
    LedgerEntry,
    LoyaltyEvent,
    MemberTier,
    Order,
    OrderRefund,
    Shop,
    Tier,
    TierChange,
)
from plugin_server.services import tiers
from tests.conftest import PG_URL, ShopHandle

NOW = datetime(2025, 3, 31, 12, 30, 15, 250_000, tzinfo=UTC)
MEMBERS = 60
# name, points threshold, amount threshold, entry points; the last one archived.
TIERS = (
    ("Silver", 100, "50.5", 10),
    ('Gold \u00e9 "quoted"', 300, "200", 0),
    ("Diamond", 600, "400.25", 25),
    ("Old", 200, "100", 5),
)


def _moment(rng: random.Random) -> datetime:
    moment = NOW - timedelta(days=rng.uniform(-30, 800))
    return moment if rng.random() < 0.5 else moment.replace(microsecond=0)


def populate(container: Container, shop_id: int, seed: int, amounts: bool) -> list[int]:
    """Tiers, and MEMBERS members with orders, refunds, ledger entries and held tiers."""
    rng = random.Random(seed)
    ids: list[int] = []
    with container.uow() as uow:
        s = uow.session
        tier_rows = []
        for name, points, amount, entry in TIERS:
            tier = Tier(
                shop_id=shop_id,
                name=name,
                threshold=D(amount) if amounts else D(points),
                multiplier=D("1.5"),
                entry_points=entry,
                created_at=NOW,
                updated_at=NOW,
                archived_at=NOW if name == "Old" else None,
            )
            s.add(tier)
            tier_rows.append(tier)
        s.flush()
        for n in range(MEMBERS):
            member = Customer(
                shop_id=shop_id, customer_ref=f"m{seed}-{n}", created_at=NOW, updated_at=NOW
            )
            s.add(member)
            s.flush()
            ids.append(member.id)
            for k in range(rng.randrange(0, 4)):
                at = _moment(rng)
                points = rng.randrange(0, 400)
                order = Order(
                    shop_id=shop_id,
                    order_ref=f"o{seed}-{n}-{k}",
                    customer_id=member.id,
                    cancelled=rng.random() < 0.1,
                    fully_refunded=rng.random() < 0.1,
                    refund_count=0,
                    earned_points=None if rng.random() < 0.1 else points,
                    currency="USD",
                    order_total=None if rng.random() < 0.05 else D(points) + D("0.37"),
                    earn_available_at=at,
                    created_at=at,
                    updated_at=at,
                )
                s.add(order)
                s.flush()
                if order.earned_points:
                    s.add(_entry(shop_id, member.id, points, "earn_order", at, order.id, k))
                if rng.random() < 0.3:
                    back = rng.randrange(1, points + 2)
                    if order.earned_points:
                        s.add(_entry(shop_id, member.id, -back, "reverse_order", at, order.id, 9))
                    s.add(
                        OrderRefund(
                            shop_id=shop_id,
                            order_id=order.id,
                            refund_ref=f"r{k}",
                            lines_subtotal=D(back),
                            shipping=D(0),
                            tax=D(0),
                            amount=D(back) + D("0.11"),
                            amount_currency=rng.choice(["USD", None, "EUR"]),
                            has_line_items=True,
                            created_at=at,
                        )
                    )
            if rng.random() < 0.2:  # not an order's points: never counts
                s.add(_entry(shop_id, member.id, 500, "adjustment", NOW, None, 99))
            held = rng.choice([None, None, *tier_rows, "none"])
            if held is not None:
                s.add(
                    MemberTier(
                        shop_id=shop_id,
                        customer_id=member.id,
                        tier_id=None if held == "none" else held.id,
                        reached_at=_moment(rng),
                        updated_at=NOW,
                    )
                )
        uow.commit()
    return ids


def _entry(
    shop_id: int,
    customer_id: int,
    points: int,
    kind: str,
    at: datetime,
    order_id: int | None,
    k: int,
) -> LedgerEntry:
    return LedgerEntry(
        shop_id=shop_id,
        customer_id=customer_id,
        points=points,
        kind=kind,
        reason="test",
        source_type="test",
        source_ref="test",
        order_id=order_id,
        idempotency_key=f"{kind}:{customer_id}:{order_id}:{k}",
        created_at=at,
        available_at=at,
    )


def expected(
    container: Container, shop_id: int, ids: list[int], *, now: datetime, from_scratch: bool
) -> tuple[dict[str, int], tiers._Writes]:
    """What `_apply` plans for every member now."""
    with container.uow() as uow:
        s = uow.session
        shop = s.get(Shop, shop_id)
        assert shop is not None
        tiers_by_id = {t.id: t for t in tiers.active_tiers(s, shop_id)}
        held = {
            m.customer_id: m
            for m in s.scalars(select(MemberTier).where(MemberTier.shop_id == shop_id))
        }
        values = tiers.measure_values(s, tiers.Qualifying.of(shop), ids, now=now)
        writes = tiers._Writes([], [], [], [])
        counts = {"members": len(ids), "up": 0, "down": 0}
        for cid in ids:
            moved = tiers._apply(
                writes,
                shop,
                tiers_by_id,
                cid,
                values[cid],
                held.get(cid),
                now=now,
                from_scratch=from_scratch,
            )
            if moved:
                counts[moved] += 1
    return counts, writes


def state(container: Container, shop_id: int) -> dict[str, Any]:
    with container.uow() as uow:
        s = uow.session
        return {
            "held": {
                (m.customer_id, m.tier_id, m.reached_at)
                for m in s.scalars(select(MemberTier).where(MemberTier.shop_id == shop_id))
            },
            "changes": {
                (c.customer_id, c.from_tier_id, c.to_tier_id, c.reason, c.changed_at)
                for c in s.scalars(select(TierChange).where(TierChange.shop_id == shop_id))
            },
            "events": {
                (e.customer_id, e.kind, e.payload, e.dedupe_key, e.created_at)
                for e in s.scalars(select(LoyaltyEvent).where(LoyaltyEvent.shop_id == shop_id))
            },
            "bonuses": {
                (
                    e.customer_id,
                    e.points,
                    e.kind,
                    e.reason,
                    e.source_type,
                    e.source_ref,
                    e.order_id,
                    e.idempotency_key,
                    e.created_at,
                    e.available_at,
                )
                for e in s.scalars(
                    select(LedgerEntry).where(
                        LedgerEntry.shop_id == shop_id, LedgerEntry.kind == "tier_bonus"
                    )
                )
            },
        }


SCENARIOS = [
    # measure, period, downgrade, from_scratch, chunk, seed
    ("points_earned", "lifetime", "never", True, 7, 1),
    ("points_earned", "lifetime", "never", False, 1000, 2),
    ("points_earned", "calendar_year", "period_end", False, 5, 3),
    ("points_earned", "rolling_12_months", "period_end", False, 11, 4),
    ("amount_spent", "rolling_12_months", "period_end", False, 7, 5),
    ("amount_spent", "lifetime", "never", True, 3, 6),
    ("amount_spent", "calendar_year", "period_end", True, 1000, 7),
    ("orders", "lifetime", "period_end", False, 7, 8),
    ("orders", "calendar_year", "never", True, 13, 9),
]


@pytest.mark.parametrize(
    ("measure", "period", "downgrade", "from_scratch", "chunk", "seed"), SCENARIOS
)
def test_a_pass_writes_what_the_rules_plan_for_every_member(
    container: Container,
    shopify_shop: ShopHandle,
    measure: str,
    period: str,
    downgrade: str,
    from_scratch: bool,
    chunk: int,
    seed: int,
) -> None:
    shop_id = shopify_shop.id
    ids = populate(container, shop_id, seed, amounts=measure == "amount_spent")
    with container.uow() as uow:
        uow.session.execute(
            update(Shop)
            .where(Shop.id == shop_id)
            .values(
                tier_measure=measure,
                tier_period=period,
                tier_downgrade=downgrade,
                tiers_changed_at=NOW,
            )
        )
        if measure == "orders":  # thresholds are counts: 1, 2, 3 orders (and 4, archived)
            for threshold, tier in enumerate(
                uow.session.scalars(select(Tier).order_by(Tier.id)), start=1
            ):
                tier.threshold = D(threshold)
        uow.commit()
    before = state(container, shop_id)
    counts, writes = expected(container, shop_id, ids, now=NOW, from_scratch=from_scratch)
    assert counts["up"]
    assert counts["down"] or from_scratch or downgrade == "never"

    # Odd seeds: two chunks at once on PostgreSQL (SQLite works one chunk at a time).
    run = tiers.recalculate_shop(
        container.uow,
        shop_id,
        now=NOW,
        from_scratch=from_scratch,
        chunk=chunk,
        connections=1 + seed % 2,
    )

    after = state(container, shop_id)
    assert run == counts
    moved = {w["customer_id"] for w in writes.held}
    assert after["held"] == {h for h in before["held"] if h[0] not in moved} | {
        (w["customer_id"], w["tier_id"], w["reached_at"]) for w in writes.held
    }
    assert after["changes"] - before["changes"] == {
        (c["customer_id"], c["from_tier_id"], c["to_tier_id"], c["reason"], c["changed_at"])
        for c in writes.changes
    }
    assert after["events"] - before["events"] == {
        (e["customer_id"], e["kind"], e["payload"], e["dedupe_key"], e["created_at"])
        for e in writes.events
    }
    assert after["bonuses"] - before["bonuses"] == {
        (
            b["customer_id"],
            b["points"],
            b["kind"],
            b["reason"],
            b["source_type"],
            b["source_ref"],
            b["order_id"],
            b["idempotency_key"],
            b["created_at"],
            b["available_at"],
        )
        for b in writes.bonuses
    }
    # Nothing is left to change at the same moment.
    again = tiers.recalculate_shop(container.uow, shop_id, now=NOW, chunk=chunk)
    assert (again["up"], again["down"]) == (0, 0)


@pytest.mark.postgres_only
@pytest.mark.parametrize("measure", ["points_earned", "amount_spent", "orders"])
def test_the_sql_values_are_measure_values(
    container: Container, shopify_shop: ShopHandle, measure: str
) -> None:
    assert PG_URL
    ids = populate(container, shopify_shop.id, 21, amounts=True)
    for period in ("lifetime", "calendar_year", "rolling_12_months"):
        q = tiers.Qualifying(shopify_shop.id, tiers.TierMeasure(measure), tiers.TierPeriod(period))
        with container.uow() as uow:
            rows = uow.session.execute(tiers.value_query(q, ids[0], ids[-1], now=NOW))
            in_sql = {int(cid): value for cid, value in rows}
            in_python = tiers.measure_values(uow.session, q, ids, now=NOW)
        assert {c: in_sql.get(c, 0) for c in ids} == in_python, period
        assert period != "lifetime" or len(set(in_python.values())) > 3
