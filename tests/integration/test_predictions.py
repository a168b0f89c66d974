"""Predictions written after each scores pass: equal to plugin_server.domain.clv's functions
on the stored inputs for a shop drawn from BG/NBD, NULL with a reason when the history is
too small, members without counted orders, idempotence, other shops untouched. The same
tests run on SQLite and PostgreSQL; both must equal clv.py on the same inputs, so they
agree with each other."""

from __future__ import annotations

from dataclasses import astuple
from datetime import timedelta
from decimal import Decimal as D
from typing import Any

import numpy as np
from flask.testing import FlaskClient
from sqlalchemy import select

from plugin_server.bootstrap import Container
from plugin_server.db.models import Customer, CustomerScore, Order, PredictionModel
from plugin_server.domain import clv
from plugin_server.services import predictions
from tests.conftest import ShopHandle, make_shop
from tests.integration.test_scores import NOW, add_order, member, recompute, rows

CDNOW = clv.BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)


def synthetic_shop(
    c: Container, shop_id: int, *, n: int = 400, seed: int = 7, prefix: str = "s"
) -> None:
    """`n` members whose purchase days are drawn from BG/NBD with CDNOW's parameters (ages
    of 20 to 39 weeks), each purchase worth a member's own mean, give or take."""
    rng = np.random.default_rng(seed)
    ages = rng.integers(20 * 7, 39 * 7 + 1, size=n) / 7
    x, t_x, age, _ = clv.simulate_bgnbd(CDNOW, ages, holdout=0, rng=rng)
    today = NOW.date()
    with c.uow() as uow:
        for i in range(n):
            first = NOW - timedelta(days=round(age[i] * 7))
            person = Customer(
                shop_id=shop_id, customer_ref=f"{prefix}{i}", email=None, created_at=first,
                updated_at=first,
            )  # fmt: skip
            uow.session.add(person)
            uow.session.flush()
            last_day = min(round(t_x[i] * 7), (today - first.date()).days)
            repeats = min(int(x[i]), last_day)
            days = [0]
            if repeats:
                others = rng.choice(np.arange(1, last_day), size=repeats - 1, replace=False)
                days += [*sorted(int(d) for d in others), last_day]
            mean = float(rng.gamma(4.0, 10.0)) + 5
            for k, d in enumerate(days):
                paid = first + timedelta(days=d, hours=1)
                uow.session.add(
                    Order(
                        shop_id=shop_id, order_ref=f"{prefix}{i}-{k}", customer_id=person.id,
                        cancelled=False, fully_refunded=False, refund_count=0, earned_points=0,
                        currency="USD", order_total=D(f"{mean * rng.uniform(0.7, 1.3):.2f}"),
                        paid_at=paid, created_at=paid, updated_at=paid,
                    )
                )  # fmt: skip
        uow.commit()


def stored(c: Container, shop_id: int) -> dict[int, tuple[Any, ...]]:
    return {
        cid: (
            r.prediction_status, r.p_alive, r.expected_purchases_30, r.expected_purchases_90,
            r.predicted_clv_minor, r.btyd_x, r.btyd_t_x, r.btyd_t, r.mean_repeat_value_minor,
        )
        for cid, r in rows(c, shop_id).items()
    }  # fmt: skip


def model_row(c: Container, shop_id: int) -> PredictionModel:
    with c.session_factory() as s:
        row = s.get(PredictionModel, shop_id)
        assert row is not None
        s.expunge(row)
    return row


def six(value: float) -> D:
    return clv.to_money(float(value), D("0.000001"))


def test_stored_predictions_equal_the_models_functions(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle
) -> None:
    shop = shopify_shop.id
    synthetic_shop(container, shop)
    idle = member(container, shop, "idle")  # no order at all
    refunded = member(container, shop, "refunded")  # every order refunded
    add_order(container, shop, refunded, NOW - timedelta(days=40), "80.00", fully_refunded=True)
    add_order(container, shop, refunded, NOW - timedelta(days=20), "20.00", cancelled=True)

    assert recompute(container, shop) == {"members": 402, "scored": 400, "predicted": 400}
    found = rows(container, shop)
    buyers = sorted(cid for cid, r in found.items() if r.btyd_x is not None)
    assert len(buyers) == 400
    x = np.array([found[c].btyd_x for c in buyers], dtype=float)
    t_x = np.array([found[c].btyd_t_x for c in buyers], dtype=float) / 7
    age = np.array([found[c].btyd_t for c in buyers], dtype=float) / 7
    spend = [found[c].mean_repeat_value_minor for c in buyers]
    has_spend = np.array([v is not None for v in spend])
    z = np.array([v or 0 for v in spend], dtype=float)

    bg = clv.fit_bgnbd(x, t_x, age)
    gg = clv.fit_gamma_gamma(x[has_spend], z[has_spend])
    model = model_row(container, shop)
    assert (model.status, model.reason, model.spend_status, model.currency) == (
        "ok", None, "ok", "USD",
    )  # fmt: skip
    assert (model.members, model.members_used, model.repeat_members_used) == (
        400, 400, bg.n_repeat_customers,
    )  # fmt: skip
    assert (model.bgnbd_r, model.bgnbd_alpha, model.bgnbd_a, model.bgnbd_b) == astuple(bg.params)
    assert (model.gg_p, model.gg_q, model.gg_gamma) == astuple(gg.params)
    assert model.bgnbd_log_likelihood == bg.log_likelihood
    assert model.spend_members_used == gg.n_customers

    p_alive = clv.probability_alive(bg.params, x, t_x, age)
    e30 = clv.expected_purchases(bg.params, 30 / 7, x, t_x, age)
    e90 = clv.expected_purchases(bg.params, 90 / 7, x, t_x, age)
    value = clv.customer_lifetime_value(
        bg.params, gg.params, x, t_x, age, z, months=12, monthly_discount_rate=0.01
    )
    for i, cid in enumerate(buyers):
        r = found[cid]
        got = (r.prediction_status, r.p_alive, r.expected_purchases_30, r.expected_purchases_90)
        assert got == ("ok", six(p_alive[i]), six(e30[i]), six(e90[i]))
        if has_spend[i] or x[i] == 0:
            assert r.predicted_clv_minor == int(clv.to_money(float(value[i]), D(1)))
        if x[i] == 0:  # one purchase only: BG/NBD can't have seen them drop out
            assert r.p_alive == D("1.000000")
    assert {(found[c].prediction_status, found[c].p_alive) for c in (idle, refunded)} == {
        ("no_orders", None)
    }
    assert int(x.max()) >= 3  # the simulation has heavy buyers, not only one-timers
    assert 50 <= int(has_spend.sum()) < 400

    # The API shows the same numbers and the model.
    got = client.get(f"/api/v1/customers/s{int(np.argmax(x))}", headers=shopify_shop.auth).json[
        "scores"
    ]["prediction"]
    k = int(np.argmax(x))
    assert (got["status"], got["p_alive"], got["predicted_clv_minor"]) == (
        "ok", format(six(p_alive[k]).normalize(), "f"), found[buyers[k]].predicted_clv_minor,
    )  # fmt: skip
    listed = client.get("/api/v1/segments", headers=shopify_shop.auth).json["model"]
    assert (listed["status"], listed["bgnbd"]["r"], listed["spend"]["gamma_gamma"]["q"]) == (
        "ok", bg.params.r, gg.params.q,
    )  # fmt: skip
    assert (listed["time_unit"], listed["clv_months"], listed["monthly_discount_rate"]) == (
        "weeks", 12, "0.01",
    )  # fmt: skip

    # Idempotent: the same inputs at the same moment write the same rows and model.
    before = stored(container, shop)
    assert recompute(container, shop)["predicted"] == 400
    assert stored(container, shop) == before
    assert astuple_model(model_row(container, shop)) == astuple_model(model)


def astuple_model(row: PredictionModel) -> tuple[Any, ...]:
    return tuple(getattr(row, c.key) for c in PredictionModel.__table__.columns)


def test_ten_customers_are_not_enough_and_everything_stays_null(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle
) -> None:
    shop = shopify_shop.id
    for k in range(10):
        cid = member(container, shop, f"c{k}", joined=NOW - timedelta(days=300))
        for j in range(k + 1):
            add_order(container, shop, cid, NOW - timedelta(days=5 + 20 * j), "10.00")
    assert recompute(container, shop)["predicted"] == 0
    assert {v[:5] for v in stored(container, shop).values()} == {
        ("not_enough_history", None, None, None, None)
    }
    model = model_row(container, shop)
    assert (model.status, model.reason) == (
        "not_enough_history", "10 customers; a fit needs at least 200",
    )  # fmt: skip
    assert (model.bgnbd_r, model.gg_p, model.spend_status) == (None, None, "not_enough_history")
    got = client.get("/api/v1/customers/c9", headers=shopify_shop.auth).json["scores"]
    assert got["prediction"] == {
        "status": "not_enough_history", "p_alive": None, "expected_purchases_30": None,
        "expected_purchases_90": None, "predicted_clv_minor": None,
    }  # fmt: skip
    listed = client.get("/api/v1/segments", headers=shopify_shop.auth).json["model"]
    assert (listed["status"], listed["reason"], listed["bgnbd"]) == (
        "not_enough_history", "10 customers; a fit needs at least 200", None,
    )  # fmt: skip


def test_one_order_only_and_all_orders_refunded(
    container: Container, shopify_shop: ShopHandle
) -> None:
    shop = shopify_shop.id
    one = member(container, shop, "one")
    add_order(container, shop, one, NOW - timedelta(days=3), "12.00")
    recompute(container, shop)
    assert stored(container, shop)[one][:5] == ("not_enough_history", None, None, None, None)
    assert model_row(container, shop).reason == "1 customers; a fit needs at least 200"

    other = make_shop(container, "shopify", "refunds-only.myshopify.com")
    gone = member(container, other.id, "gone")
    add_order(container, other.id, gone, NOW - timedelta(days=9), "50.00", fully_refunded=True)
    recompute(container, other.id)
    assert stored(container, other.id)[gone][:6] == (
        "not_enough_history", None, None, None, None, None,
    )  # fmt: skip
    assert model_row(container, other.id).reason == "0 customers; a fit needs at least 200"


def test_a_shops_pass_leaves_other_shops_untouched(
    container: Container, shopify_shop: ShopHandle
) -> None:
    other = make_shop(container, "shopify", "bystander.myshopify.com")
    for k in range(3):
        cid = member(container, other.id, f"b{k}")
        add_order(container, other.id, cid, NOW - timedelta(days=k + 1), "10.00")
    recompute(container, other.id, now=NOW - timedelta(days=1))
    theirs, their_model = stored(container, other.id), astuple_model(model_row(container, other.id))

    synthetic_shop(container, shopify_shop.id, n=300, seed=11)
    assert recompute(container, shopify_shop.id)["predicted"] == 300
    assert model_row(container, shopify_shop.id).status == "ok"
    assert stored(container, other.id) == theirs
    assert astuple_model(model_row(container, other.id)) == their_model


def test_a_sample_fit_is_seeded_and_predicts_everyone(
    container: Container, shopify_shop: ShopHandle
) -> None:
    """Above the sample size the fit uses a seeded sample, the same each time, and every
    member still gets a prediction (a small sample size stands in for 200,000)."""
    synthetic_shop(container, shopify_shop.id, n=300, seed=5)
    recompute(container, shopify_shop.id)
    with container.session_factory() as s:
        inputs = predictions.read_inputs(s, shopify_shop.id, chunk=7)
        assert len(inputs) == 300
        assert list(inputs.ids) == sorted(
            s.scalars(
                select(CustomerScore.customer_id).where(
                    CustomerScore.shop_id == shopify_shop.id, CustomerScore.btyd_x.is_not(None)
                )
            )
        )
    first = predictions.fit(inputs, seed=3, sample=250)
    second = predictions.fit(inputs, seed=3, sample=250)
    assert first.members_used == 250
    assert first.bgnbd is not None
    assert second.bgnbd is not None
    assert first.bgnbd.params == second.bgnbd.params
    out = predictions.predict(first, inputs.x, inputs.t_x, inputs.age, inputs.spend)
    assert out.p_alive.shape == (300,)
    assert bool(np.all((out.p_alive > 0) & (out.p_alive <= 1)))
