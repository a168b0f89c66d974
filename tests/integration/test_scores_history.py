"""Scores count the whole purchase history: orders placed before the install (read by the
history backfill into order_history only) move R/F/M, tenure and the BTYD inputs like
counted orders, earn nothing, and count once however often a poll reads them again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from plugin_server.bootstrap import Container
from plugin_server.db.models import Customer, CustomerScore
from plugin_server.sandbox import shopify_admin
from plugin_server.sandbox.server import RunningSandbox, Sandbox
from plugin_server.services import scores
from tests.conftest import FakeClock
from tests.integration.test_order_sync import history, points, run_backfill, shopify


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with RunningSandbox(Sandbox()) as running:
        yield running


def score_of(c: Container, shop_id: int, ref: str) -> CustomerScore:
    with c.session_factory() as s:
        row = s.scalars(
            select(CustomerScore)
            .join(Customer, Customer.id == CustomerScore.customer_id)
            .where(Customer.shop_id == shop_id, Customer.customer_ref == ref)
        ).one()
        s.expunge(row)
    return row


def test_pre_install_orders_move_scores_earn_nothing_and_count_once(
    container: Container, sandbox: RunningSandbox, clock: FakeClock
) -> None:
    shop = shopify(container, sandbox)
    admin = sandbox.sandbox.shopify["poll-a.myshopify.com"]
    now = clock()
    order = shopify_admin.sample_order
    # Customer 71: two orders long before the install (one refunded in full, which must
    # not count), one since. Customer 72: only an order since the install.
    admin.put_order(order(2001, subtotal="30.00", created_at=now - timedelta(days=100),
                          customer_id=71))  # fmt: skip
    admin.put_order(order(2002, subtotal="50.00", created_at=now - timedelta(days=60),
                          customer_id=71, refunds=[(1, "50.00")]))  # fmt: skip
    admin.put_order(order(2003, subtotal="10.00", created_at=now + timedelta(minutes=1),
                          customer_id=71))  # fmt: skip
    admin.put_order(order(2004, subtotal="10.00", created_at=now + timedelta(minutes=2),
                          customer_id=72))  # fmt: skip
    clock.advance(minutes=5)
    run_backfill(container, shop.id)
    assert [before for _, before in history(container, shop.id)] == [True, True, False, False]
    earned = points(container, shop.id)
    assert earned == (2, 20)  # the two orders since the install, nothing for the others

    later = clock() + timedelta(days=1)
    scores.recompute_shop(container.uow, shop.id, now=later)
    old, new = score_of(container, shop.id, "71"), score_of(container, shop.id, "72")
    # The pre-install order counts like any order: 2 orders, 40.00, first order 100 days
    # back; the refunded one is left out. The other member has only the order since.
    assert (old.frequency, old.monetary_minor, new.frequency, new.monetary_minor) == (
        2,
        4000,
        1,
        1000,
    )
    assert old.first_order_at == now - timedelta(days=100)
    assert (old.tenure_days, new.tenure_days) == (101, 1)
    assert (old.btyd_x, old.btyd_t_x, old.btyd_t, old.mean_repeat_value_minor) == (
        1,
        100,
        101,
        1000,
    )
    assert (new.btyd_x, new.btyd_t_x, new.btyd_t) == (0, 0, 1)
    # Of two members, the higher monetary and frequency score higher.
    assert old.f_score is not None
    assert new.f_score is not None
    assert old.m_score is not None
    assert new.m_score is not None
    assert (old.f_score > new.f_score, old.m_score > new.m_score) == (True, True)

    # The same orders read again by a poll (and a second backfill) change nothing.
    clock.advance(minutes=5)
    run_backfill(container, shop.id)
    assert len(history(container, shop.id)) == 4
    assert points(container, shop.id) == earned
    scores.recompute_shop(container.uow, shop.id, now=later)
    again = score_of(container, shop.id, "71")
    assert (again.frequency, again.monetary_minor, again.tenure_days, again.btyd_x) == (
        2,
        4000,
        101,
        1,
    )


def test_a_guest_members_pre_install_orders_match_by_email(
    container: Container, sandbox: RunningSandbox, clock: FakeClock
) -> None:
    shop = shopify(container, sandbox)
    admin = sandbox.sandbox.shopify["poll-a.myshopify.com"]
    now = clock()
    with container.uow() as uow:
        uow.session.add(
            Customer(shop_id=shop.id, customer_ref="guest:Pat@Example.com",
                     email="Pat@Example.com", created_at=now, updated_at=now)
        )  # fmt: skip
        uow.commit()
    order = shopify_admin.sample_order
    admin.put_order(order(3001, subtotal="25.00", created_at=now - timedelta(days=30),
                          email="pat@example.com"))  # fmt: skip
    admin.put_order(order(3002, subtotal="99.00", created_at=now - timedelta(days=20),
                          email="someone@example.com"))  # fmt: skip
    clock.advance(minutes=5)
    run_backfill(container, shop.id)
    scores.recompute_shop(container.uow, shop.id, now=now + timedelta(days=1))
    guest = score_of(container, shop.id, "guest:Pat@Example.com")
    assert (guest.frequency, guest.monetary_minor, guest.tenure_days) == (1, 2500, 31)
    assert points(container, shop.id) == (0, 0)
