"""The bulk paths (tier recalculation and expiry: set-based SQL on PostgreSQL, chunks in
Python on SQLite) queue exactly one delivery per new event for a subscribed endpoint, in
the chunk's own transaction, and none at all for a shop without endpoints."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask
from sqlalchemy import func, select, update

from plugin_server.bootstrap import Container
from plugin_server.db.models import Customer, LedgerEntry, LoyaltyEvent, Shop, WebhookDelivery
from plugin_server.services import expiry, outbound_webhooks, tiers
from tests.conftest import ShopHandle, make_shop
from tests.integration import test_expiry_bulk, test_tiers_bulk
from tests.integration.test_outbound_topics import check_schema


def subscribe(c: Container, shop_id: int, topics: list[str]) -> int:
    return int(
        outbound_webhooks.create_endpoint(
            c.uow(),
            c.cipher,
            shop_id,
            url="http://127.0.0.1:9/hooks",
            topics=topics,
            allow_private=True,
            now=test_expiry_bulk.NOW,
        )["id"]
    )


def queued(c: Container, shop_id: int) -> list[dict[str, Any]]:
    with c.session_factory() as s:
        return [
            {"topic": d.topic, "source": d.source_key, "body": json.loads(d.body)}
            for d in s.scalars(
                select(WebhookDelivery)
                .where(WebhookDelivery.shop_id == shop_id)
                .order_by(WebhookDelivery.id)
            )
        ]


def rows(c: Container, model: Any, shop_id: int, kinds: list[str]) -> dict[int, Any]:
    with c.session_factory() as s:
        return {
            r.id: r
            for r in s.scalars(select(model).where(model.shop_id == shop_id, model.kind.in_(kinds)))
        }


def refs(c: Container, shop_id: int) -> dict[int, str]:
    with c.session_factory() as s:
        return dict(
            s.execute(
                select(Customer.id, Customer.customer_ref).where(Customer.shop_id == shop_id)
            ).all()
        )


def test_expiry_queues_one_delivery_per_expiry_and_reminder(
    app: Flask, container: Container, shopify_shop: ShopHandle
) -> None:
    quiet = make_shop(container, "shopify", "quiet.myshopify.com", access_token="shpat_q")
    for shop in (shopify_shop, quiet):
        test_expiry_bulk.populate(container, shop.id, 4)
        test_expiry_bulk.set_policy(container, shop.id, "inactivity", 14)
    subscribe(container, shopify_shop.id, ["points.expired", "points.expiring"])
    now = test_expiry_bulk.NOW
    old_entries = set(rows(container, LedgerEntry, shopify_shop.id, ["expiry"]))
    old_events = set(rows(container, LoyaltyEvent, shopify_shop.id, ["points_expiring"]))

    run = expiry.expire_shop(container.uow, shopify_shop.id, now=now, chunk=7)
    quiet_run = expiry.expire_shop(container.uow, quiet.id, now=now, chunk=7)

    entries = {
        i: e
        for i, e in rows(container, LedgerEntry, shopify_shop.id, ["expiry"]).items()
        if i not in old_entries
    }
    events = {
        i: e
        for i, e in rows(container, LoyaltyEvent, shopify_shop.id, ["points_expiring"]).items()
        if i not in old_events
    }
    assert run["members_expired"] == len(entries) > 0
    assert run["reminders"] == len(events) > 0
    got = queued(container, shopify_shop.id)
    assert sorted(d["source"] for d in got) == sorted(
        [f"ledger:{i}" for i in entries] + [f"event:{i}" for i in events]
    )
    customer_refs = refs(container, shopify_shop.id)
    for d in got:
        check_schema(app, d["body"])
        kind, _, source_id = d["source"].partition(":")
        data = d["body"]["data"]
        if kind == "ledger":
            entry = entries[int(source_id)]
            assert d["topic"] == "points.expired"
            assert data["points"] == -entry.points
            assert data["customer_id"] == customer_refs[entry.customer_id]
        else:
            event = events[int(source_id)]
            assert d["topic"] == "points.expiring"
            assert data == {
                "customer_id": customer_refs[event.customer_id],
                **json.loads(event.payload),
            }
    # The shop without endpoints did the same work and queued nothing.
    assert quiet_run["members_expired"] > 0
    assert queued(container, quiet.id) == []
    # Running again at the same moment writes nothing new, so queues nothing new.
    expiry.expire_shop(container.uow, shopify_shop.id, now=now, chunk=7)
    assert len(queued(container, shopify_shop.id)) == len(got)


def test_tier_recalculation_queues_tier_changes_and_entry_bonuses(
    app: Flask, container: Container, shopify_shop: ShopHandle
) -> None:
    quiet = make_shop(container, "shopify", "quiet.myshopify.com", access_token="shpat_q")
    for shop in (shopify_shop, quiet):
        test_tiers_bulk.populate(container, shop.id, 1, amounts=False)
        with container.uow() as uow:
            uow.session.execute(
                update(Shop).where(Shop.id == shop.id).values(tiers_changed_at=test_tiers_bulk.NOW)
            )
            uow.commit()
    subscribe(container, shopify_shop.id, ["tier.changed", "points.earned"])
    old_events = set(rows(container, LoyaltyEvent, shopify_shop.id, ["tier_changed"]))
    old_bonuses = set(rows(container, LedgerEntry, shopify_shop.id, ["tier_bonus"]))

    run = tiers.recalculate_shop(
        container.uow, shopify_shop.id, now=test_tiers_bulk.NOW, from_scratch=True, chunk=7
    )
    tiers.recalculate_shop(
        container.uow, quiet.id, now=test_tiers_bulk.NOW, from_scratch=True, chunk=7
    )

    events = {
        i: e
        for i, e in rows(container, LoyaltyEvent, shopify_shop.id, ["tier_changed"]).items()
        if i not in old_events
    }
    bonuses = {
        i: e
        for i, e in rows(container, LedgerEntry, shopify_shop.id, ["tier_bonus"]).items()
        if i not in old_bonuses
    }
    assert run["up"] > 0
    assert len(events) == run["up"] + run["down"]
    assert bonuses
    got = queued(container, shopify_shop.id)
    assert sorted(d["source"] for d in got) == sorted(
        [f"event:{i}" for i in events] + [f"ledger:{i}" for i in bonuses]
    )
    for d in got:
        check_schema(app, d["body"])
        kind, _, source_id = d["source"].partition(":")
        if kind == "event":
            payload = json.loads(events[int(source_id)].payload)
            assert d["topic"] == "tier.changed"
            assert {k: d["body"]["data"][k] for k in ("from", "to", "direction")} == payload
        else:
            assert d["topic"] == "points.earned"
            assert d["body"]["data"]["kind"] == "tier_bonus"
            assert d["body"]["data"]["points"] == bonuses[int(source_id)].points
    assert queued(container, quiet.id) == []


def test_the_outbox_adds_no_query_per_row_without_endpoints(
    container: Container, shopify_shop: ShopHandle
) -> None:
    """Without endpoints the expiry run issues the same statements as before the outbox
    existed, plus one subscription lookup per chunk transaction."""
    from sqlalchemy import event

    test_expiry_bulk.populate(container, shopify_shop.id, 4)
    test_expiry_bulk.set_policy(container, shopify_shop.id, "inactivity", 14)
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(container.engine, "before_cursor_execute", count)
    try:
        run = expiry.expire_shop(
            container.uow, shopify_shop.id, now=test_expiry_bulk.NOW, chunk=1000
        )
    finally:
        event.remove(container.engine, "before_cursor_execute", count)
    assert run["members_expired"] > 0
    lookups = [s for s in statements if "FROM webhook_endpoints" in s]
    assert 1 <= len(lookups) <= 2  # one per transaction that wrote, never per row
    assert not [s for s in statements if "webhook_deliveries" in s]
    with container.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(WebhookDelivery)) == 0
