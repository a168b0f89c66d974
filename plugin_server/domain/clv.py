"""Buy-Till-You-Die: when each customer will come back, and what they will be worth.

Two models, each fitted by maximum likelihood on one shop's order history:

* BG/NBD (Fader, Hardie & Lee 2005, "Counting Your Customers the Easy Way", Marketing
  Science 24(2)): while alive a customer buys as a Poisson process with rate
  lambda ~ Gamma(r, alpha); after each purchase they drop out for good with probability
  p ~ Beta(a, b). Gives P(alive) and expected purchases in the next t.
* Gamma-Gamma (Fader, Hardie & Lee 2005, "RFM and CLV", JMR 42(4); Hardie's 2013 note
  "The Gamma-Gamma Model of Monetary Value"): a customer's spend per transaction is
  Gamma(p, nu) around their own mean, nu ~ Gamma(q, gamma) across customers. Gives the
  expected average spend of a customer's future transactions. It assumes spend is
  independent of purchase frequency; `GammaGammaFit.frequency_spend_correlation` reports
  how far the shop's data is from that.

Inputs per customer, one transaction per calendar day (orders on the same day are one
transaction, their amounts summed; `summarise_orders` does this):
* frequency x: repeat transactions (all transactions but the first);
* recency t_x: time from the first to the last transaction;
* age T: time from the first transaction to the end of the observation period;
* mean repeat spend: the mean value of the repeat transactions (the first is left out).

Time is in **weeks** (days / 7) throughout, as in the papers, so fitted parameters compare
with the published ones (alpha is the only parameter that depends on the unit).

Probabilities and expectations are floats (numpy arrays when vectorised); money goes in
and comes out as Decimal, rounded to minor units at the edge. A history that can't support
a fit raises `NotEnoughHistory` with the reason, rather than returning parameters nobody
should act on.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, special

from plugin_server.domain.errors import LoyaltyError

FloatArray = NDArray[np.float64]

DAYS_PER_WEEK = 7.0
WEEKS_PER_MONTH = 365.25 / 12 / DAYS_PER_WEEK

# Smallest histories we fit. BG/NBD has four parameters, and the dropout pair (a, b) is
# identified only by repeat customers' silence since their last purchase. On 30 simulated
# shops per size with CDNOW's parameters and ages (benchmarks/evaluate_predictions.py),
# the shop's predicted purchases in the next 39 weeks came within 35 % (100 customers),
# 23 % (200) and 14 % (500) of what the true parameters predict, for 90 % of the shops;
# a and b on their own wander much further (their ratio is what the data pins down).
# 200 customers, 50 of them repeaters, is where the predictions become usable.
# Gamma-Gamma fits three parameters on repeat customers only.
MIN_CUSTOMERS = 200
MIN_REPEAT_CUSTOMERS = 50
MIN_SPEND_CUSTOMERS = 50

# Fits run on unit-free data (times divided by the mean age, spend by the mean spend), so
# every parameter is a plain number whatever the unit or currency. They are optimised as
# logs inside +-12 (e^12 ~ 1.6e5), and a fitted parameter outside [1e-4, 1e4] counts as
# degenerate: the data can't pin it down (nobody seems to drop out, so a -> 0; everyone
# buys at the same rate, so r and alpha -> infinity) and the fit is refused.
_LOG_BOUND = 12.0
_LOG_PLAUSIBLE = math.log(1e4)


class NotEnoughHistory(LoyaltyError):
    """The shop's order history can't support a reliable customer-lifetime model."""

    code = "not_enough_history"


@dataclass(frozen=True, slots=True)
class BgNbdParams:
    r: float
    alpha: float
    a: float
    b: float


@dataclass(frozen=True, slots=True)
class BgNbdFit:
    params: BgNbdParams
    log_likelihood: float  # total over all customers
    n_customers: int
    n_repeat_customers: int
    iterations: int
    optimizer_message: str


@dataclass(frozen=True, slots=True)
class GammaGammaParams:
    p: float
    q: float
    gamma: float

    @property
    def population_mean_spend(self) -> float:
        """E[M]: the mean spend per transaction across customers (needs q > 1)."""
        return self.p * self.gamma / (self.q - 1)


@dataclass(frozen=True, slots=True)
class GammaGammaFit:
    params: GammaGammaParams
    log_likelihood: float
    n_customers: int  # repeat customers the fit used
    # Pearson correlation of frequency and mean repeat spend among repeat customers; the
    # model assumes they are independent, so values far from 0 (|rho| > ~0.3) say its
    # spend predictions are biased for this shop. None when undefined (no variation).
    frequency_spend_correlation: float | None
    iterations: int
    optimizer_message: str


@dataclass(frozen=True, slots=True)
class CustomerSummary:
    """One customer's history in model terms (times in weeks)."""

    frequency: int
    recency: float
    age: float
    mean_repeat_spend: Decimal | None = None  # None or 0 when frequency == 0

    def __post_init__(self) -> None:
        if self.frequency < 0 or not 0 <= self.recency <= self.age:
            raise ValueError(f"invalid customer summary {self!r}")
        if self.frequency > 0 and (self.mean_repeat_spend is None or self.mean_repeat_spend < 0):
            raise ValueError("a repeat customer needs a non-negative mean repeat spend")


def summarise_orders(
    orders: Iterable[tuple[date, Decimal]], *, observed_until: date
) -> CustomerSummary:
    """One customer's (order date, amount) pairs up to `observed_until` (inclusive) as a
    summary: orders on one calendar day are one transaction; later orders are ignored."""
    per_day: dict[date, Decimal] = {}
    for day, amount in orders:
        key = day.date() if isinstance(day, datetime) else day
        if key <= observed_until:
            per_day[key] = per_day.get(key, Decimal(0)) + amount
    if not per_day:
        raise ValueError("no orders on or before observed_until")
    days = sorted(per_day)
    first, last = days[0], days[-1]
    repeats = [per_day[d] for d in days[1:]]
    return CustomerSummary(
        frequency=len(repeats),
        recency=(last - first).days / DAYS_PER_WEEK,
        age=(observed_until - first).days / DAYS_PER_WEEK,
        mean_repeat_spend=sum(repeats, Decimal(0)) / len(repeats) if repeats else None,
    )


def as_arrays(
    customers: Sequence[CustomerSummary],
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Summaries as (x, t_x, T, mean repeat spend) float arrays; spend 0 where x == 0."""
    x = np.array([c.frequency for c in customers], dtype=np.float64)
    t_x = np.array([c.recency for c in customers], dtype=np.float64)
    age = np.array([c.age for c in customers], dtype=np.float64)
    spend = np.array(
        [float(c.mean_repeat_spend or 0) if c.frequency else 0.0 for c in customers],
        dtype=np.float64,
    )
    return x, t_x, age, spend


# --- BG/NBD ---------------------------------------------------------------------------


def _histories(x: ArrayLike, t_x: ArrayLike, age: ArrayLike) -> tuple[FloatArray, ...]:
    xs, ts, ages = (np.asarray(v, dtype=np.float64) for v in (x, t_x, age))
    xs, ts, ages = np.broadcast_arrays(xs, ts, ages)
    if not (np.all(np.isfinite(xs)) and np.all(np.isfinite(ts)) and np.all(np.isfinite(ages))):
        raise ValueError("frequency, recency and age must be finite")
    if np.any(xs < 0) or np.any(xs != np.floor(xs)):
        raise ValueError("frequency must be a non-negative whole number")
    if np.any(ts < 0) or np.any(ts > ages):
        raise ValueError("recency must lie between 0 and the customer's age")
    return xs, ts, ages


def bgnbd_log_likelihood(
    params: BgNbdParams, x: ArrayLike, t_x: ArrayLike, age: ArrayLike
) -> FloatArray:
    """Each customer's BG/NBD log-likelihood (FHL 2005, eq. 6), in log space throughout."""
    xs, ts, ages = _histories(x, t_x, age)
    return _bgnbd_ll(params.r, params.alpha, params.a, params.b, xs, ts, ages)


def _bgnbd_ll(
    r: float, alpha: float, a: float, b: float, x: FloatArray, t_x: FloatArray, age: FloatArray
) -> FloatArray:
    log_beta_ab = special.betaln(a, b)
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * math.log(alpha)
    # Alive throughout (0, T] ...
    a2 = special.betaln(a, b + x) - log_beta_ab - (r + x) * np.log(alpha + age)
    # ... or dropped out right after the last purchase; only possible when x > 0, and
    # betaln(a + 1, b - 1) would be nan for b < 1, so x = 0 is given a harmless stand-in.
    repeat = x > 0
    x_safe = np.where(repeat, x, 1.0)
    a3 = special.betaln(a + 1, b + x_safe - 1) - log_beta_ab - (r + x) * np.log(alpha + t_x)
    both = np.logaddexp(a2, np.where(repeat, a3, -np.inf))
    return np.asarray(a1 + both, dtype=np.float64)


def fit_bgnbd(
    x: ArrayLike,
    t_x: ArrayLike,
    age: ArrayLike,
    *,
    min_customers: int = MIN_CUSTOMERS,
    min_repeat_customers: int = MIN_REPEAT_CUSTOMERS,
) -> BgNbdFit:
    """Maximum-likelihood BG/NBD parameters; raises NotEnoughHistory if there are too few
    (repeat) customers, the optimiser doesn't converge or a parameter runs to a bound."""
    xs, ts, ages = _histories(x, t_x, age)
    n = int(xs.size)
    n_repeat = int(np.count_nonzero(xs))
    if n < min_customers:
        raise NotEnoughHistory(f"{n} customers; a fit needs at least {min_customers}")
    if n_repeat < min_repeat_customers:
        raise NotEnoughHistory(
            f"{n_repeat} repeat customers; a fit needs at least {min_repeat_customers}"
        )
    # Shops have many identical histories (one-time buyers of the same week): fit on the
    # distinct rows, weighted by how often each occurs.
    rows, counts = np.unique(np.stack([xs, ts, ages], axis=1), axis=0, return_counts=True)
    # The mean age, summed over the sorted distinct rows so row order can't change it.
    scale = float(np.dot(counts, rows[:, 2])) / n or 1.0
    ux, ut, ua = rows[:, 0], rows[:, 1] / scale, rows[:, 2] / scale
    weights = counts.astype(np.float64) / n

    def objective(theta: FloatArray) -> float:
        r, alpha, a, b = np.exp(theta)
        ll = _bgnbd_ll(float(r), float(alpha), float(a), float(b), ux, ut, ua)
        value = -float(np.dot(weights, ll))
        return value if math.isfinite(value) else 1e300

    # With time in units of the mean age, alpha = 1 means about r purchases per mean age.
    theta, iterations, message = _minimise(objective, np.zeros(4))
    r, alpha, a, b = (float(v) for v in np.exp(theta))
    return BgNbdFit(
        params=BgNbdParams(r=r, alpha=alpha * scale, a=a, b=b),
        log_likelihood=float(np.sum(_bgnbd_ll(r, alpha * scale, a, b, xs, ts, ages))),
        n_customers=n,
        n_repeat_customers=n_repeat,
        iterations=iterations,
        optimizer_message=message,
    )


def _minimise(objective: Any, start: FloatArray) -> tuple[FloatArray, int, str]:
    bounds = [(-_LOG_BOUND, _LOG_BOUND)] * start.size
    result = optimize.minimize(objective, start, method="L-BFGS-B", bounds=bounds)
    iterations = int(result.nit)
    if not result.success:
        # L-BFGS-B with finite-difference gradients sometimes stops in a line search next
        # to the optimum; a derivative-free polish from there settles it or says it can't.
        result = optimize.minimize(
            objective,
            result.x,
            method="Nelder-Mead",
            bounds=bounds,
            options={"xatol": 1e-7, "fatol": 1e-12, "maxiter": 4000},
        )
        iterations += int(result.nit)
    theta = np.asarray(result.x, dtype=np.float64)
    message = str(result.message)
    if not result.success or not np.all(np.isfinite(theta)) or objective(theta) >= 1e300:
        raise NotEnoughHistory(f"the model fit did not converge ({message})")
    if np.any(np.abs(theta) > _LOG_PLAUSIBLE):
        raise NotEnoughHistory(
            "the history can't pin the model down: a parameter ran off towards 0 or "
            f"infinity (unit-free values {np.exp(theta).round(6).tolist()})"
        )
    return theta, iterations, message


def probability_alive(
    params: BgNbdParams, x: ArrayLike, t_x: ArrayLike, age: ArrayLike
) -> FloatArray:
    """P(still a customer at T | x, t_x, T) (FHL 2005, eq. 11). 1 for x = 0: in BG/NBD a
    customer can only drop out right after a repeat purchase."""
    xs, ts, ages = _histories(x, t_x, age)
    return _p_alive(params, xs, ts, ages)


def _p_alive(params: BgNbdParams, x: FloatArray, t_x: FloatArray, age: FloatArray) -> FloatArray:
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    repeat = x > 0
    x_safe = np.where(repeat, x, 1.0)
    # 1 / (1 + a/(b+x-1) * ((alpha+T)/(alpha+t_x))^(r+x)) = expit(-log of the odds term);
    # in logs the power can't overflow for heavy buyers who have gone quiet.
    log_odds = (
        math.log(a)
        - np.log(b + x_safe - 1)
        + (r + x_safe) * (np.log(alpha + age) - np.log(alpha + t_x))
    )
    return np.asarray(np.where(repeat, special.expit(-log_odds), 1.0), dtype=np.float64)


def _plausible(f: FloatArray, a: float) -> NDArray[np.bool_]:
    """Where a value of 2F1(r_x, a-1; c; z), z <= 0, c > a-1, can be right: by its Euler
    integral in (0, 1] for a > 1, and at least 1 for a < 1."""
    with np.errstate(invalid="ignore"):
        if a > 1:
            return np.asarray(np.isfinite(f) & (f > 0) & (f <= 1 + 1e-12))
        return np.asarray(np.isfinite(f) & (f >= 1 - 1e-12))


def _growth(a: float, r_x: FloatArray, c: FloatArray, z: FloatArray) -> FloatArray:
    """(c / (a-1)) * (1 - 2F1(r_x, a-1; c; z)), the common core of E[X(t)] and
    E[X(t) | history] after a Pfaff transformation of the papers' 2F1(r+x, b+x; ...;
    t/(alpha+T+t)): the second parameter becomes the small a-1 and the argument
    -t/(alpha+T) <= 0, where scipy's hyp2f1 stays accurate for heavy buyers."""
    if abs(a - 1) < 1e-7:  # removable singularity at a = 1
        a = 1 + 1e-7
    f = np.asarray(special.hyp2f1(r_x, a - 1, c, z), dtype=np.float64)
    bad = ~_plausible(f, a)
    if np.any(bad):
        # scipy's series for the transformed form fails far from 0 when a is large (NaN,
        # or worse a finite value far out of range); the papers' own form, argument
        # w = z / (z - 1) in [0, 1), holds there: 2F1(r_x, a-1; c; z) =
        # (1 - w)^r_x 2F1(r_x, c-a+1; c; w). What neither form gives is NaN.
        rb, cb, zb = (np.broadcast_to(v, f.shape)[bad] for v in (r_x, c, z))
        w = zb / (zb - 1)
        other = (1 - w) ** rb * special.hyp2f1(rb, cb - a + 1, cb, w)
        f[bad] = np.where(_plausible(other, a), other, np.nan)
    return np.asarray(c / (a - 1) * (1 - f), dtype=np.float64)


def expected_purchases(
    params: BgNbdParams, t: float, x: ArrayLike, t_x: ArrayLike, age: ArrayLike
) -> FloatArray:
    """E[purchases in (T, T+t] | x, t_x, T] for each customer (FHL 2005, eq. 10)."""
    if t < 0:
        raise ValueError("t must be non-negative")
    xs, ts, ages = _histories(x, t_x, age)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    growth = _growth(a, r + xs, a + b + xs - 1, -t / (alpha + ages))
    return np.asarray(growth * _p_alive(params, xs, ts, ages), dtype=np.float64)


def expected_purchases_new_customer(params: BgNbdParams, t: ArrayLike) -> FloatArray:
    """Unconditional E[X(t)]: expected repeat purchases in a new customer's first t
    (FHL 2005, eq. 9)."""
    ts = np.asarray(t, dtype=np.float64)
    if np.any(ts < 0):
        raise ValueError("t must be non-negative")
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    return _growth(a, np.full_like(ts, r), np.full_like(ts, a + b - 1), -ts / alpha)


def simulate_bgnbd(
    params: BgNbdParams,
    ages: ArrayLike,
    *,
    holdout: float,
    rng: np.random.Generator,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """A shop drawn from BG/NBD: each customer's first purchase `age` before the end of
    calibration; returns calibration (x, t_x, T) and purchases in the next `holdout`."""
    ages_ = np.asarray(ages, dtype=np.float64)
    n = ages_.size
    rates = rng.gamma(params.r, 1.0 / params.alpha, size=n)
    dropouts = rng.beta(params.a, params.b, size=n)
    x = np.zeros(n)
    t_x = np.zeros(n)
    later = np.zeros(n)
    for i in range(n):
        now, end = 0.0, ages_[i] + holdout
        while True:
            now += rng.exponential(1.0 / rates[i]) if rates[i] > 0 else math.inf
            if now > end:
                break
            if now <= ages_[i]:
                x[i] += 1
                t_x[i] = now
            else:
                later[i] += 1
            if rng.random() < dropouts[i]:
                break
    return x, t_x, ages_.copy(), later


# --- Gamma-Gamma ----------------------------------------------------------------------


def _spend_inputs(x: ArrayLike, mean_spend: ArrayLike) -> tuple[FloatArray, FloatArray]:
    xs, zs = (np.asarray(v, dtype=np.float64) for v in (x, mean_spend))
    xs, zs = np.broadcast_arrays(xs, zs)
    if not (np.all(np.isfinite(xs)) and np.all(np.isfinite(zs))):
        raise ValueError("frequency and mean spend must be finite")
    if np.any(xs < 0) or np.any(zs < 0):
        raise ValueError("frequency and mean spend must be non-negative")
    return xs, zs


def gamma_gamma_log_likelihood(
    params: GammaGammaParams, x: ArrayLike, mean_spend: ArrayLike
) -> FloatArray:
    """Each repeat customer's log-likelihood of their mean spend given x (Hardie 2013,
    eq. 3); x must be >= 1 and the mean spend > 0."""
    xs, zs = _spend_inputs(x, mean_spend)
    if np.any(xs < 1) or np.any(zs <= 0):
        raise ValueError("Gamma-Gamma needs x >= 1 and a positive mean spend")
    return _gg_ll(params.p, params.q, params.gamma, xs, zs)


def _gg_ll(p: float, q: float, gamma: float, x: FloatArray, z: FloatArray) -> FloatArray:
    px = p * x
    return np.asarray(
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * math.log(gamma)
        + (px - 1) * np.log(z)
        + px * np.log(x)
        - (px + q) * np.log(gamma + x * z),
        dtype=np.float64,
    )


def fit_gamma_gamma(
    x: ArrayLike, mean_spend: ArrayLike, *, min_customers: int = MIN_SPEND_CUSTOMERS
) -> GammaGammaFit:
    """Maximum-likelihood Gamma-Gamma parameters from the repeat customers (x >= 1 and a
    positive mean spend; others are left out); raises NotEnoughHistory on too few of them,
    no convergence, a parameter at a bound, or q <= 1 (no finite mean spend)."""
    xs, zs = _spend_inputs(x, mean_spend)
    used = (xs >= 1) & (zs > 0)
    xs, zs = xs[used], zs[used]
    n = int(xs.size)
    if n < min_customers:
        raise NotEnoughHistory(
            f"{n} repeat customers with spend; a spend fit needs at least {min_customers}"
        )

    scale = float(zs.mean())
    unit_free = zs / scale  # gamma is the only parameter that carries the currency

    def objective(theta: FloatArray) -> float:
        p, q, gamma = np.exp(theta)
        value = -float(np.mean(_gg_ll(float(p), float(q), float(gamma), xs, unit_free)))
        return value if math.isfinite(value) else 1e300

    # p = 1, q = 2, gamma = 1 put E[M] at the observed mean.
    theta, iterations, message = _minimise(objective, np.log(np.array([1.0, 2.0, 1.0])))
    p, q, gamma = (float(v) for v in np.exp(theta))
    gamma *= scale
    if q <= 1:
        raise NotEnoughHistory(f"spend is too heavy-tailed for a finite mean (q = {q:.3f})")
    correlation: float | None = None
    if n > 1 and np.std(xs) > 0 and np.std(zs) > 0:
        correlation = float(np.corrcoef(xs, zs)[0, 1])
    return GammaGammaFit(
        params=GammaGammaParams(p=p, q=q, gamma=gamma),
        log_likelihood=float(np.sum(_gg_ll(p, q, gamma, xs, zs))),
        n_customers=n,
        frequency_spend_correlation=correlation,
        iterations=iterations,
        optimizer_message=message,
    )


def expected_average_spend(
    params: GammaGammaParams, x: ArrayLike, mean_spend: ArrayLike
) -> FloatArray:
    """E[spend per future transaction | x, mean repeat spend] (Hardie 2013, eq. 5): a
    weighted mean of the population mean and the customer's own; x = 0 gets the former."""
    xs, zs = _spend_inputs(x, mean_spend)
    p, q, gamma = params.p, params.q, params.gamma
    if q <= 1:
        raise ValueError("q must exceed 1 for a finite expected spend")
    return np.asarray(p * (gamma + xs * zs) / (p * xs + q - 1), dtype=np.float64)


# --- Customer lifetime value ---------------------------------------------------------


def customer_lifetime_value(
    bgnbd: BgNbdParams,
    spend: GammaGammaParams,
    x: ArrayLike,
    t_x: ArrayLike,
    age: ArrayLike,
    mean_spend: ArrayLike,
    *,
    months: int = 12,
    monthly_discount_rate: float = 0.01,
) -> FloatArray:
    """Discounted expected revenue over the next `months`: for each month i, the expected
    purchases in it times the expected spend per purchase, divided by (1 + d)^i."""
    if months < 0 or monthly_discount_rate <= -1:
        raise ValueError("months must be >= 0 and the discount rate > -1")
    xs, ts, ages = _histories(x, t_x, age)
    per_purchase = expected_average_spend(spend, xs, mean_spend)
    total = np.zeros_like(xs)
    previous = np.zeros_like(xs)
    for i in range(1, months + 1):
        cumulative = expected_purchases(bgnbd, i * WEEKS_PER_MONTH, xs, ts, ages)
        total += (cumulative - previous) / (1 + monthly_discount_rate) ** i
        previous = cumulative
    return np.asarray(total * per_purchase, dtype=np.float64)


def predict_customer_values(
    bgnbd: BgNbdParams,
    spend: GammaGammaParams,
    customers: Sequence[CustomerSummary],
    *,
    months: int = 12,
    monthly_discount_rate: Decimal = Decimal("0.01"),
    minor_unit: Decimal = Decimal("0.01"),
) -> list[Decimal]:
    """Each customer's discounted CLV over `months`, in money rounded to `minor_unit`."""
    if not customers:
        return []
    x, t_x, age, mean_spend = as_arrays(customers)
    values = customer_lifetime_value(
        bgnbd,
        spend,
        x,
        t_x,
        age,
        mean_spend,
        months=months,
        monthly_discount_rate=float(monthly_discount_rate),
    )
    return [to_money(v, minor_unit) for v in values]


def to_money(value: float, minor_unit: Decimal = Decimal("0.01")) -> Decimal:
    """A float amount as Decimal rounded half-up to `minor_unit`."""
    if not math.isfinite(value):
        raise ValueError(f"not a finite amount: {value}")
    return Decimal(repr(float(value))).quantize(minor_unit, rounding=ROUND_HALF_UP)
