"""Per-member predictions from the shop's Buy-Till-You-Die model, written after each scores
pass (plugin_server.services.scores.recompute_shop calls `predict_shop`), so they are never
older than the scores beside them.

Per shop:
1. Read the stored BTYD inputs (btyd_x, btyd_t_x, btyd_t in days, mean_repeat_value_minor)
   of the members with a counted order, `READ_CHUNK` rows at a time by id, into compact
   numpy arrays (ids int64, days int32, money int64: 28 bytes a member, 28 MB at 1,000,000),
   never as ORM objects.
2. Fit BG/NBD and Gamma-Gamma (plugin_server.domain.clv; days / 7 = weeks) on at most
   `FIT_SAMPLE` members, a random sample seeded by the shop's id when there are more.
   Why a sample, when the arrays fit in memory anyway: the optimiser evaluates the
   likelihood over the distinct histories a few hundred times, and their number grows with
   the shop; 200,000 members pin four parameters far closer than the model itself is
   right (clv.py's thresholds: 500 customers already come within 14 %), while the time
   of the fit stays bounded. The seed makes a recompute on the same inputs give the same
   parameters, so the pass is idempotent.
3. Predict every member with a counted order from the fitted parameters, in chunks of
   `WRITE_CHUNK`, each one executemany UPDATE in its own transaction: P(alive) now,
   expected purchases in the next 30 and 90 days, and the 12-month customer lifetime value
   discounted at 1 % a month (about 12.7 % a year), in minor units of the shop's currency.
   Members without a counted order get status "no_orders" (the model starts at a first
   purchase) and NULLs.
4. When the history can't support a fit (clv.NotEnoughHistory: too few members or repeat
   members, no convergence, a degenerate parameter) every member gets
   "not_enough_history" and NULLs, and the reason is kept with the model; nothing is made
   up. When BG/NBD fits but Gamma-Gamma can't (too few repeat members with spend in the
   shop's currency), purchases are predicted and predicted_clv_minor stays NULL, with the
   spend model's own status and reason.
The shop's model (parameters, log-likelihoods, members used, status, reason) is kept in
prediction_models, one row per shop, replaced by each pass.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

import numpy as np
from sqlalchemy import Table, bindparam, null, select, update
from sqlalchemy.orm import Session

from plugin_server.db.models import CustomerScore, PredictionModel
from plugin_server.db.unit_of_work import UnitOfWork
from plugin_server.domain import clv
from plugin_server.services import member_chunks

logger = logging.getLogger(__name__)

OK, NOT_ENOUGH_HISTORY, NO_ORDERS = "ok", "not_enough_history", "no_orders"
FIT_SAMPLE = 200_000
READ_CHUNK = 20_000
WRITE_CHUNK = 5000
CLV_MONTHS = 12
MONTHLY_DISCOUNT_RATE = Decimal("0.01")
HORIZONS_DAYS = (30, 90)
PLACES = Decimal("0.000001")  # the columns keep 6 decimal places
MAX_EXPECTED = 1e13  # below NUMERIC(20, 6)'s limit
MAX_MINOR = 2.0**62  # below BIGINT's

_scores = cast(Table, CustomerScore.__table__)


@dataclass(frozen=True, slots=True)
class Inputs:
    """The BTYD inputs of the shop's members with a counted order, in id order; spend is
    -1 where there is no repeat purchase with money in the shop's currency."""

    ids: np.ndarray[Any, np.dtype[np.int64]]
    x: np.ndarray[Any, np.dtype[np.int32]]
    t_x: np.ndarray[Any, np.dtype[np.int32]]
    age: np.ndarray[Any, np.dtype[np.int32]]
    spend: np.ndarray[Any, np.dtype[np.int64]]

    def __len__(self) -> int:
        return int(self.ids.size)


@dataclass(frozen=True, slots=True)
class Model:
    """What the fit found: parameters or the reason there are none."""

    members: int
    members_used: int
    bgnbd: clv.BgNbdFit | None
    reason: str | None
    spend: clv.GammaGammaFit | None
    spend_reason: str | None

    @property
    def status(self) -> str:
        return OK if self.bgnbd is not None else NOT_ENOUGH_HISTORY

    @property
    def spend_status(self) -> str:
        return OK if self.spend is not None else NOT_ENOUGH_HISTORY


def read_inputs(session: Session, shop_id: int, *, chunk: int = READ_CHUNK) -> Inputs:
    """Every member's stored inputs, `chunk` rows per query by id (keyset), kept column by
    column in the narrowest type (the rows of one query at most live as Python objects)."""
    s = CustomerScore
    columns: list[list[np.ndarray[Any, Any]]] = [[], [], [], [], []]
    types = (np.int64, np.int32, np.int32, np.int32, np.int64)
    after = 0
    while True:
        rows = session.execute(
            select(s.customer_id, s.btyd_x, s.btyd_t_x, s.btyd_t, s.mean_repeat_value_minor)
            .where(s.shop_id == shop_id, s.customer_id > after, s.btyd_x.is_not(None))
            .order_by(s.customer_id)
            .limit(chunk)
        ).all()
        if not rows:
            break
        for k, kind in enumerate(types):
            columns[k].append(
                np.fromiter((-1 if r[k] is None else r[k] for r in rows), kind, len(rows))
            )
        after = int(rows[-1][0])
        if len(rows) < chunk:
            break
    ids, x, t_x, age, spend = (
        np.concatenate(parts) if parts else np.zeros(0, dtype=kind)
        for parts, kind in zip(columns, types, strict=True)
    )
    # An order stamped after the computation's day (a platform clock ahead of ours, an
    # order paid while the pass ran) is taken as bought on that day: T >= t_x >= 0.
    np.maximum(t_x, 0, out=t_x)
    np.maximum(age, t_x, out=age)
    return Inputs(ids=ids, x=x, t_x=t_x, age=age, spend=spend)


def _weeks(days: np.ndarray[Any, Any]) -> np.ndarray[Any, np.dtype[np.float64]]:
    return np.asarray(days, dtype=np.float64) / clv.DAYS_PER_WEEK


def fit(inputs: Inputs, *, seed: int, sample: int = FIT_SAMPLE) -> Model:
    """BG/NBD and Gamma-Gamma on the inputs, or on `sample` of them drawn with `seed`."""
    n = len(inputs)
    if n > sample:
        used = np.sort(np.random.default_rng(seed).choice(n, size=sample, replace=False))
    else:
        used = np.arange(n)
    x = inputs.x[used].astype(np.float64)
    t_x, age = _weeks(inputs.t_x[used]), _weeks(inputs.age[used])
    bgnbd: clv.BgNbdFit | None = None
    spend: clv.GammaGammaFit | None = None
    reason = spend_reason = None
    try:
        bgnbd = clv.fit_bgnbd(x, t_x, age)
    except clv.NotEnoughHistory as exc:
        reason = str(exc)
    if bgnbd is None:
        spend_reason = "no purchase model to go with it"
    else:
        has_spend = (inputs.spend[used] >= 0) & (x >= 1)
        try:
            spend = clv.fit_gamma_gamma(
                x[has_spend], inputs.spend[used][has_spend].astype(np.float64)
            )
        except clv.NotEnoughHistory as exc:
            spend_reason = str(exc)
    return Model(n, int(used.size), bgnbd, reason, spend, spend_reason)


@dataclass(frozen=True, slots=True)
class Predictions:
    p_alive: np.ndarray[Any, np.dtype[np.float64]]
    expected: dict[int, np.ndarray[Any, np.dtype[np.float64]]]  # by horizon in days
    clv_minor: np.ndarray[Any, np.dtype[np.float64]] | None


def predict(model: Model, x: Any, t_x_days: Any, age_days: Any, spend_minor: Any) -> Predictions:
    """The fitted model's predictions for members' inputs (days; spend -1 = none)."""
    if model.bgnbd is None:
        raise ValueError("no fitted purchase model")
    params = model.bgnbd.params
    xs = np.asarray(x, dtype=np.float64)
    t_x, age = _weeks(np.asarray(t_x_days)), _weeks(np.asarray(age_days))
    expected = {
        days: clv.expected_purchases(params, days / clv.DAYS_PER_WEEK, xs, t_x, age)
        for days in HORIZONS_DAYS
    }
    value = None
    if model.spend is not None:
        # Without repeat spend in the shop's currency a member's expected spend per
        # purchase is the population mean, which is what Gamma-Gamma gives for a mean
        # equal to it (and for x = 0 the mean is not used at all).
        spends = np.asarray(spend_minor, dtype=np.float64)
        mean = np.where(spends >= 0, spends, model.spend.params.population_mean_spend)
        value = clv.customer_lifetime_value(
            params,
            model.spend.params,
            xs,
            t_x,
            age,
            mean,
            months=CLV_MONTHS,
            monthly_discount_rate=float(MONTHLY_DISCOUNT_RATE),
        )
    return Predictions(clv.probability_alive(params, xs, t_x, age), expected, value)


def _write_predictions(session: Session, shop_id: int, inputs: Inputs, model: Model) -> int:
    """One chunk's predictions in one executemany UPDATE; how many were ok (a value the
    special functions fail to give is left NULL with not_enough_history and logged,
    not written as a made-up number)."""
    out = predict(model, inputs.x, inputs.t_x, inputs.age, inputs.spend)
    columns = [out.p_alive, out.expected[30], out.expected[90]]
    # What a probability and expectations can be (and the columns can hold); anything else
    # is a numerical failure, never written as if it were a prediction.
    with np.errstate(invalid="ignore"):
        finite = (columns[0] >= 0) & (columns[0] <= 1)
        for col in columns[1:]:
            finite &= (col >= 0) & (col < MAX_EXPECTED)
        if out.clv_minor is not None:
            finite &= (out.clv_minor >= 0) & (out.clv_minor < MAX_MINOR)
    texts = [col.tolist() for col in columns]
    values = None if out.clv_minor is None else out.clv_minor.tolist()
    rows = [
        {
            "sid": shop_id,
            "cid": int(inputs.ids[i]),
            "status": OK if finite[i] else NOT_ENOUGH_HISTORY,
            "p_alive": clv.to_money(texts[0][i], PLACES) if finite[i] else None,
            "e30": clv.to_money(texts[1][i], PLACES) if finite[i] else None,
            "e90": clv.to_money(texts[2][i], PLACES) if finite[i] else None,
            "clv": None
            if values is None or not finite[i]
            else int(clv.to_money(values[i], Decimal(1))),
        }
        for i in range(len(inputs))
    ]
    if not bool(np.all(finite)):
        logger.warning(
            "predictions not finite for some members",
            extra={"shop_id": shop_id, "members": int(np.count_nonzero(~finite))},
        )
    c = _scores.c
    session.execute(
        update(_scores)
        .where(c.shop_id == bindparam("sid"), c.customer_id == bindparam("cid"))
        .values(
            prediction_status=bindparam("status"),
            p_alive=bindparam("p_alive", type_=c.p_alive.type),
            expected_purchases_30=bindparam("e30", type_=c.expected_purchases_30.type),
            expected_purchases_90=bindparam("e90", type_=c.expected_purchases_90.type),
            predicted_clv_minor=bindparam("clv", type_=c.predicted_clv_minor.type),
        ),
        rows,
    )
    return int(np.count_nonzero(finite))


def _clear(session: Session, shop_id: int, lo: int, hi: int, *, status: str, all_: bool) -> None:
    """NULL predictions and `status` for the range's members (all, or those without a
    counted order)."""
    s = CustomerScore
    query = update(s).where(s.shop_id == shop_id, s.customer_id.between(lo, hi))
    if not all_:
        query = query.where(s.btyd_x.is_(None))
    session.execute(
        query.values(
            prediction_status=status,
            p_alive=null(),
            expected_purchases_30=null(),
            expected_purchases_90=null(),
            predicted_clv_minor=null(),
        ).execution_options(synchronize_session=False)
    )


def _over_members(
    uow_factory: Callable[[], UnitOfWork],
    shop_id: int,
    chunk: int,
    connections: int,
    write: Callable[[Session, int, int], None],
) -> None:
    chunks = member_chunks.MemberChunks(shop_id, chunk)

    def work() -> dict[str, int]:
        while True:
            with uow_factory() as uow:
                bounds = chunks.next(uow.session)
                if bounds is None:
                    return {}
                write(uow.session, bounds[1], bounds[2])
                uow.commit()

    member_chunks.on_connections(work, member_chunks.workers(uow_factory, connections))


def _slice(inputs: Inputs, lo: int, hi: int) -> Inputs:
    return Inputs(
        inputs.ids[lo:hi], inputs.x[lo:hi], inputs.t_x[lo:hi], inputs.age[lo:hi],
        inputs.spend[lo:hi],
    )  # fmt: skip


def _store_model(
    session: Session, shop_id: int, model: Model, *, now: datetime, currency: str | None
) -> None:
    row = session.get(PredictionModel, shop_id)
    if row is None:
        row = PredictionModel(shop_id=shop_id)
        session.add(row)
    bg = model.bgnbd
    gg = model.spend
    row.status, row.reason, row.fitted_at, row.currency = model.status, model.reason, now, currency
    row.members, row.members_used = model.members, model.members_used
    row.repeat_members_used = bg.n_repeat_customers if bg else 0
    row.bgnbd_r = bg.params.r if bg else None
    row.bgnbd_alpha = bg.params.alpha if bg else None
    row.bgnbd_a = bg.params.a if bg else None
    row.bgnbd_b = bg.params.b if bg else None
    row.bgnbd_log_likelihood = bg.log_likelihood if bg else None
    row.spend_status, row.spend_reason = model.spend_status, model.spend_reason
    row.spend_members_used = gg.n_customers if gg else 0
    row.gg_p = gg.params.p if gg else None
    row.gg_q = gg.params.q if gg else None
    row.gg_gamma = gg.params.gamma if gg else None
    row.gg_log_likelihood = gg.log_likelihood if gg else None
    row.frequency_spend_correlation = gg.frequency_spend_correlation if gg else None
    row.clv_months, row.monthly_discount_rate = CLV_MONTHS, str(MONTHLY_DISCOUNT_RATE)


def predict_shop(
    uow_factory: Callable[[], UnitOfWork],
    shop_id: int,
    *,
    now: datetime,
    currency: str | None,
    chunk: int = WRITE_CHUNK,
    connections: int = member_chunks.CONNECTIONS,
) -> dict[str, int]:
    """Fit the shop's model on its stored inputs and write every member's predictions (see
    the module docstring); how many members got predictions."""
    with uow_factory() as uow:
        inputs = read_inputs(uow.session, shop_id)
    model = fit(inputs, seed=shop_id)
    if model.bgnbd is None:
        _over_members(
            uow_factory, shop_id, chunk, connections,
            lambda session, lo, hi: _clear(
                session, shop_id, lo, hi, status=NOT_ENOUGH_HISTORY, all_=True
            ),
        )  # fmt: skip
        predicted = 0
    else:
        _over_members(
            uow_factory, shop_id, chunk, connections,
            lambda session, lo, hi: _clear(session, shop_id, lo, hi, status=NO_ORDERS, all_=False),
        )  # fmt: skip
        predicted = 0
        for start in range(0, len(inputs), chunk):
            with uow_factory() as uow:
                predicted += _write_predictions(
                    uow.session, shop_id, _slice(inputs, start, start + chunk), model
                )
                uow.commit()
    with uow_factory() as uow:
        _store_model(uow.session, shop_id, model, now=now, currency=currency)
        uow.commit()
    logger.info(
        "customer predictions computed",
        extra={"shop_id": shop_id, "status": model.status, "predicted": predicted},
    )
    return {"predicted": predicted}


def _number(value: float | None) -> float | None:
    return None if value is None else float(value)


def model_view(row: PredictionModel | None) -> dict[str, Any] | None:
    """The stored model as the API shows it; None until the first pass."""
    if row is None:
        return None
    return {
        "status": row.status,
        "reason": row.reason,
        "fitted_at": row.fitted_at.isoformat(),
        "time_unit": "weeks",
        "currency": row.currency,
        "members": row.members,
        "members_used": row.members_used,
        "repeat_members_used": row.repeat_members_used,
        "bgnbd": None
        if row.bgnbd_r is None
        else {
            "r": row.bgnbd_r,
            "alpha": _number(row.bgnbd_alpha),
            "a": _number(row.bgnbd_a),
            "b": _number(row.bgnbd_b),
            "log_likelihood": _number(row.bgnbd_log_likelihood),
        },
        "spend": {
            "status": row.spend_status,
            "reason": row.spend_reason,
            "members_used": row.spend_members_used,
            "gamma_gamma": None
            if row.gg_p is None
            else {
                "p": row.gg_p,
                "q": _number(row.gg_q),
                "gamma": _number(row.gg_gamma),
                "log_likelihood": _number(row.gg_log_likelihood),
                "frequency_spend_correlation": _number(row.frequency_spend_correlation),
            },
        },
        "clv_months": row.clv_months,
        "monthly_discount_rate": row.monthly_discount_rate,
    }


def model_of(session: Session, shop_id: int) -> dict[str, Any] | None:
    return model_view(session.get(PredictionModel, shop_id))
