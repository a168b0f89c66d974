"""Property: whatever friends, orders, duplicates, refunds, scheduler runs and reviews happen,
and in whatever order, no referral pays twice, no friend or order is referred twice, every
rewarded referral paid exactly once, and balances equal the sum of their entries."""

from __future__ import annotations

import contextlib
import itertools
from decimal import Decimal
from typing import Any

from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from plugin_server import jobs
from plugin_server.bootstrap import Container
from plugin_server.db.models import Customer, LedgerEntry, Referral
from plugin_server.domain.errors import LoyaltyError
from plugin_server.services import referrals
from plugin_server.simulate import shopify_order, shopify_refund, sign_shopify
from tests.conftest import SHOPIFY_SECRET, FakeClock, ShopHandle, post

_ids = itertools.count(1)

step = st.one_of(
    st.tuples(st.just("claim"), st.integers(0, 2), st.integers(0, 1)),  # friend, advocate
    st.tuples(
        st.just("order"),
        st.integers(0, 2),  # friend
        st.sampled_from(["30.00", "60.00", "120.00"]),
        st.sampled_from(["code", "attribute", "email", "none"]),
    ),
    st.tuples(st.just("redeliver"), st.integers(0, 5)),
    st.tuples(st.just("refund"), st.integers(0, 5)),
    st.tuples(st.just("cancel"), st.integers(0, 5)),
    st.tuples(st.just("tick"), st.integers(0, 20)),  # days to advance first
    st.tuples(st.just("review"), st.integers(0, 5), st.booleans()),
)


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(step, min_size=1, max_size=14))
def test_no_referral_pays_twice(
    client: FlaskClient,
    container: Container,
    shopify_shop: ShopHandle,
    clock: FakeClock,
    steps: list[tuple[Any, ...]],
) -> None:
    shop = shopify_shop
    run = next(_ids)
    if run == 1:
        client.patch("/api/v1/program", json={"pending_days": 7}, headers=shop.auth)
        r = client.post(
            "/api/v1/referral-campaigns",
            json={
                "name": "c",
                "starts_at": "2020-01-01T00:00:00Z",
                "friend_discount_kind": "percentage",
                "friend_discount_value": "10",
                "advocate_reward_kind": "points",
                "advocate_points": 100,
                "min_order_subtotal": "50",
                "advocate_limit": 2,
            },
            headers=shop.auth,
        )
        assert r.status_code == 201, r.json
    advocates = [run * 1000 + 1, run * 1000 + 2]
    codes = []
    for n, advocate in enumerate(advocates):
        deliver(
            client,
            shop,
            shopify_order(
                order_id=advocate,
                email=f"adv{n}-{run}@example.com",
                subtotal=Decimal("5"),
                customer_id=advocate,
            ),
        )
        codes.append(
            client.get(f"/api/v1/customers/{advocate}", headers=shop.auth).json["referral"]["code"]
        )
    friend_codes: dict[int, str] = {}
    orders: list[dict[str, Any]] = []
    for s in steps:
        kind = s[0]
        if kind == "claim":
            friend, advocate = s[1], s[2]
            try:
                got = referrals.claim(
                    container.uow(),
                    shop.id,
                    codes[advocate],
                    customer_ref=None,
                    email=email(run, friend),
                    address="10.0.0.1",
                    device=None,
                    now=container.clock(),
                )
            except LoyaltyError:
                continue
            friend_codes.setdefault(friend, referrals_code(container, got.view["referral_id"]))
        elif kind == "order":
            friend, amount, how = s[1], s[2], s[3]
            order_id = run * 1000 + 100 + len(orders)
            payload = shopify_order(
                order_id=order_id,
                email=email(run, friend),
                subtotal=Decimal(amount),
                customer_id=run * 1000 + 500 + friend,
                discount_codes=(friend_codes[friend],)
                if how == "code" and friend in friend_codes
                else (),
                note_attributes={"loyalty_referral": codes[0]} if how == "attribute" else None,
            )
            orders.append(payload)
            deliver(client, shop, payload)
        elif kind in ("redeliver", "refund", "cancel") and orders:
            payload = orders[s[1] % len(orders)]
            if kind == "redeliver":
                deliver(client, shop, payload)
            elif kind == "refund":
                deliver(
                    client,
                    shop,
                    shopify_refund(
                        refund_id=payload["id"] * 10 + s[1],
                        order_id=payload["id"],
                        line_item_id=payload["id"] * 10 + 1,
                        subtotal=Decimal("40.00"),
                    ),
                    topic="refunds/create",
                )
            else:
                deliver(
                    client,
                    shop,
                    {
                        **payload,
                        "cancelled_at": payload["created_at"],
                        "financial_status": "voided",
                    },
                    topic="orders/cancelled",
                )
        elif kind == "tick":
            clock.advance(days=s[1])
            jobs.tick(container)
        elif kind == "review":
            mine = shop_referrals(container, shop.id)
            if mine:
                target = mine[s[1] % len(mine)]
                with contextlib.suppress(LoyaltyError):
                    referrals.review(
                        container.uow(),
                        shop.id,
                        target,
                        approve=s[2],
                        note=None,
                        now=container.clock(),
                    )
    jobs.tick(container)
    check(container, shop, client, advocates)


def email(run: int, friend: int) -> str:
    return f"friend{friend}-{run}@example.com"


def deliver(
    client: FlaskClient, shop: ShopHandle, payload: dict[str, Any], topic: str = "orders/paid"
) -> None:
    r = post(
        client, sign_shopify(payload, topic=topic, shop_domain=shop.domain, secret=SHOPIFY_SECRET)
    )
    assert r.status_code == 200


def referrals_code(container: Container, referral_id: int) -> str:
    with container.session_factory() as s:
        code = s.scalar(select(Referral.friend_code).where(Referral.id == referral_id))
        assert code is not None
        return code


def shop_referrals(container: Container, shop_id: int) -> list[int]:
    with container.session_factory() as s:
        return list(
            s.scalars(select(Referral.id).where(Referral.shop_id == shop_id).order_by(Referral.id))
        )


def check(
    container: Container, shop: ShopHandle, client: FlaskClient, advocates: list[int]
) -> None:
    shop_id = shop.id
    with container.session_factory() as s:
        rows = s.scalars(select(Referral).where(Referral.shop_id == shop_id)).all()
        paid = s.execute(
            select(LedgerEntry.source_ref, func.count())
            .where(LedgerEntry.shop_id == shop_id, LedgerEntry.source_type == "referral")
            .group_by(LedgerEntry.source_ref)
        ).all()
        per_referral = dict(paid)
        assert all(n == 1 for n in per_referral.values())  # never twice
        rewarded = {str(r.id) for r in rows if r.status == "rewarded"}
        assert set(per_referral) == rewarded  # every rewarded one paid, nothing else
        order_ids = [r.order_id for r in rows if r.order_id is not None]
        assert len(order_ids) == len(set(order_ids))
        friends = [r.friend_id for r in rows if r.friend_id is not None]
        assert len(friends) == len(set(friends))
        totals = {}
        for ref in (str(a) for a in advocates):
            member = s.scalars(
                select(Customer).where(Customer.shop_id == shop_id, Customer.customer_ref == ref)
            ).one()
            totals[ref] = s.scalar(
                select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
                    LedgerEntry.customer_id == member.id
                )
            )
    for ref, total in totals.items():
        api = client.get(f"/api/v1/customers/{ref}", headers=shop.auth).json
        assert api["balance"] + api["pending"] == int(total or 0)
