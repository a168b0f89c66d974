"""Points expiry over many members at once: whatever path a database takes (PostgreSQL plans
and writes each chunk in SQL, SQLite in Python), a run writes exactly what
`services.expiry.plan_member` says for every member, in any chunk size."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from plugin_server.bootstrap import Container
from plugin_server.db.models import Customer, LedgerEntry, LoyaltyEvent, Order, Shop
from plugin_server.domain.expiry import ExpiryPolicy
from plugin_server.services import expiry
from tests.conftest import PG_URL, ShopHandle

NOW = datetime(2025, 3, 31, 12, 30, 15, 250_000, tzinfo=UTC)
MEMBERS = 60
KINDS = (
    *("earn_order", "earn_order", "adjustment", "referral_bonus", "rule_bonus"),
    *("tier_bonus", "redeem_refund", "redeem", "redeem", "expiry"),
)


def _moment(rng: random.Random) -> datetime:
    """Somewhere in the last 30 months or the next few weeks: month ends (which shorter
    months clamp), whole seconds and odd microseconds."""
    if rng.random() < 0.25:
        year, month = rng.choice([(2024, 1), (2024, 2), (2024, 3), (2024, 3), (2023, 8)])
        day = {1: 31, 2: 29, 3: 31, 8: 31}[month]
        return datetime(year, month, day, rng.randrange(24), 0, 0, tzinfo=UTC)
    moment = NOW - timedelta(days=rng.uniform(-20, 900))
    return moment if rng.random() < 0.5 else moment.replace(microsecond=0)


def populate(container: Container, shop_id: int, seed: int) -> list[int]:
    """MEMBERS members with a random mix of every kind of entry; their ids."""
    rng = random.Random(seed)
    ids = []
    with container.uow() as uow:
        s = uow.session
        for n in range(MEMBERS):
            member = Customer(
                shop_id=shop_id, customer_ref=f"m{seed}-{n}", created_at=NOW, updated_at=NOW
            )
            s.add(member)
            s.flush()
            ids.append(member.id)
            entries: list[dict[str, Any]] = []
            if n % 10 == 9:
                continue  # no entries at all
            for k in range(rng.randrange(1, 7)):
                at = _moment(rng)
                kind = rng.choice(KINDS)
                points = rng.randrange(1, 400)
                order_id = None
                if kind == "earn_order":
                    order = Order(
                        shop_id=shop_id,
                        order_ref=f"o{seed}-{n}-{k}",
                        customer_id=member.id,
                        cancelled=False,
                        fully_refunded=False,
                        refund_count=0,
                        earned_points=points,
                        earn_available_at=at,
                        created_at=at,
                        updated_at=at,
                    )
                    s.add(order)
                    s.flush()
                    order_id = order.id
                    entries.append(_entry(member.id, points, kind, at, order_id))
                    if rng.random() < 0.3:  # a refund, later, from the order's own batch
                        later = at + timedelta(days=rng.randrange(1, 60))
                        back = -rng.randrange(1, points + 1)
                        entries.append(_entry(member.id, back, "reverse_order", later, order_id))
                    continue
                if kind in ("redeem", "expiry") or (kind == "adjustment" and rng.random() < 0.4):
                    points = -points
                entries.append(_entry(member.id, points, kind, at, None))
            for i, values in enumerate(entries):
                s.add(LedgerEntry(shop_id=shop_id, idempotency_key=f"e{seed}-{n}-{i}", **values))
        uow.commit()
    return ids


def _entry(
    customer_id: int, points: int, kind: str, at: datetime, order_id: int | None
) -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "points": points,
        "kind": kind,
        "reason": "test",
        "source_type": "test",
        "source_ref": "test",
        "order_id": order_id,
        "created_at": at,
        "available_at": at,
    }


def set_policy(container: Container, shop_id: int, policy: str, reminder_days: int) -> None:
    with container.uow() as uow:
        uow.session.execute(
            update(Shop)
            .where(Shop.id == shop_id)
            .values(expiry_policy=policy, expiry_months=12, expiry_reminder_days=reminder_days)
        )
        uow.commit()


def expected_writes(
    container: Container, shop_id: int, ids: list[int], now: datetime
) -> tuple[dict[str, Any], set[tuple[Any, ...]], set[tuple[Any, ...]]]:
    """What `plan_member` says every member should get now: counts, entries, reminders."""
    with container.uow() as uow:
        shop = uow.session.get(Shop, shop_id)
        assert shop is not None
        totals = expiry.member_totals(uow.session, shop, ids, now=now)
        policy = ExpiryPolicy(shop.expiry_policy)
        entries, events = set(), set()
        expired_members = points = 0
        for t in totals:
            plan = expiry.plan_member(
                t,
                policy,
                months=shop.expiry_months,
                reminder_days=shop.expiry_reminder_days,
                now=now,
            )
            if plan.expire > 0:
                e = expiry._expiry_entry(shop, t.customer_id, plan, policy, now)
                entries.add(_entry_key(e))
                expired_members += 1
                points += plan.expire
            if plan.reminder is not None:
                events.add(_event_key(expiry._reminder(shop_id, t.customer_id, plan, now)))
    counts = {"members_expired": expired_members, "points_expired": points}
    return counts, entries, events


def _entry_key(e: Any) -> tuple[Any, ...]:
    get = e.get if isinstance(e, dict) else lambda k: getattr(e, k)
    return tuple(
        get(k)
        for k in (
            "customer_id",
            "points",
            "kind",
            "reason",
            "source_type",
            "source_ref",
            "order_id",
            "idempotency_key",
            "created_at",
            "available_at",
        )
    )


def _event_key(e: Any) -> tuple[Any, ...]:
    get = e.get if isinstance(e, dict) else lambda k: getattr(e, k)
    return tuple(get(k) for k in ("customer_id", "kind", "payload", "dedupe_key", "created_at"))


def written(container: Container, shop_id: int) -> tuple[set[tuple[Any, ...]], list[Any]]:
    with container.uow() as uow:
        entries = uow.session.scalars(
            select(LedgerEntry).where(LedgerEntry.shop_id == shop_id, LedgerEntry.kind == "expiry")
        ).all()
        events = uow.session.scalars(
            select(LoyaltyEvent).where(LoyaltyEvent.shop_id == shop_id)
        ).all()
        return {_entry_key(e) for e in entries}, [_event_key(e) for e in events]


@pytest.mark.parametrize(
    ("policy", "reminder_days", "seed", "chunk", "later"),
    [
        ("batch", 14, 1, 7, 0),
        ("batch", 0, 2, 1000, 0),
        ("batch", 90, 3, 1, 0),
        ("inactivity", 14, 4, 7, 0),
        ("inactivity", 0, 5, 13, 0),
        ("inactivity", 60, 6, 1000, 0),
        # Years later nearly everyone has points due: a backlog (PostgreSQL then locks
        # whole chunks and reads them once).
        ("batch", 14, 8, 5, 1500),
        ("inactivity", 14, 9, 5, 1500),
    ],
)
def test_a_run_writes_what_the_rules_plan_for_every_member(
    container: Container,
    shopify_shop: ShopHandle,
    policy: str,
    reminder_days: int,
    seed: int,
    chunk: int,
    later: int,
) -> None:
    shop_id = shopify_shop.id
    ids = populate(container, shop_id, seed)
    set_policy(container, shop_id, policy, reminder_days)
    now = NOW + timedelta(days=later)
    old_entries, old_events = written(container, shop_id)
    counts, entries, events = expected_writes(container, shop_id, ids, now)
    assert entries or events  # the population has something due
    if later:
        assert 2 * counts["members_expired"] > MEMBERS

    # Odd seeds: two chunks at once on PostgreSQL (SQLite works one chunk at a time).
    run = expiry.expire_shop(container.uow, shop_id, now=now, chunk=chunk, connections=1 + seed % 2)

    new_entries, all_events = written(container, shop_id)
    assert new_entries - old_entries == entries
    assert set(all_events) - set(old_events) == events
    assert len(all_events) == len(set(all_events))
    for _, _, payload, _, _ in events:  # the payload is the JSON Python would write
        assert json.dumps(json.loads(payload)) == payload
    assert run == {
        "members_checked": MEMBERS,
        **counts,
        "reminders": len(events),
    }
    # Idempotent: at the same moment nothing is left to do.
    again = expiry.expire_shop(container.uow, shop_id, now=now, chunk=chunk)
    assert (again["points_expired"], again["reminders"]) == (0, 0)
    assert written(container, shop_id)[0] == new_entries


def test_a_dry_run_counts_and_writes_nothing(
    container: Container, shopify_shop: ShopHandle
) -> None:
    ids = populate(container, shopify_shop.id, 7)
    set_policy(container, shopify_shop.id, "batch", 30)
    counts, _, events = expected_writes(container, shopify_shop.id, ids, NOW)
    before = written(container, shopify_shop.id)
    run = expiry.expire_shop(container.uow, shopify_shop.id, now=NOW, chunk=9, dry_run=True)
    assert run == {"members_checked": MEMBERS, **counts, "reminders": len(events)}
    assert counts["points_expired"] > 0
    assert written(container, shopify_shop.id) == before


@pytest.mark.postgres_only
@pytest.mark.parametrize("policy", ["batch", "inactivity"])
def test_the_sql_plan_is_plan_member_for_every_member_and_moment(
    container: Container, shopify_shop: ShopHandle, policy: str
) -> None:
    assert PG_URL
    ids = populate(container, shopify_shop.id, 11)
    seen = {"expire": 0, "reminder": 0, "microseconds": 0}
    for days in (0, 14, 45):
        set_policy(container, shopify_shop.id, policy, days)
        for now in (NOW, NOW - timedelta(days=29, microseconds=1), NOW + timedelta(days=200)):
            with container.uow() as uow:
                shop = uow.session.get(Shop, shopify_shop.id)
                assert shop is not None
                rows = uow.session.execute(expiry.plan_query(shop, ids[0], ids[-1], now=now))
                in_sql = {
                    r.customer_id: (
                        r.expire,
                        r.expired_after,
                        r.reminder_points,
                        r.reminder_expires_at,
                        r.reminder_key,
                    )
                    for r in rows
                }
                in_python = {}
                for t in expiry.member_totals(uow.session, shop, ids, now=now):
                    plan = expiry.plan_member(
                        t, ExpiryPolicy(policy), months=12, reminder_days=days, now=now
                    )
                    in_python[t.customer_id] = (
                        plan.expire,
                        plan.expired_after,
                        plan.reminder.points if plan.reminder else None,
                        plan.reminder.expires_at if plan.reminder else None,
                        plan.reminder_key,
                    )
            assert in_sql == in_python, (policy, days, now)
            for expire, _, _, _, key in in_python.values():
                seen["expire"] += expire > 0
                seen["reminder"] += key is not None
                seen["microseconds"] += key is not None and "." in key
    assert seen["expire"]
    assert seen["reminder"]
    assert seen["microseconds"] or policy == "batch"
