"""Offline evaluation of the customer-lifetime model (plugin_server/domain/clv.py).

1. CDNOW sample (tests/fixtures/cdnow): summarise each customer's transactions up to the
   end of week 39 (1997-09-30), fit BG/NBD and Gamma-Gamma on that, predict each
   customer's transactions (and spend) in weeks 40-78, and compare with what they did.
2. A synthetic shop simulated from known BG/NBD parameters (seeded): the same comparison,
   plus the recovered parameters next to the true ones.
3. How prediction quality depends on shop size (the study behind clv.MIN_CUSTOMERS).

Errors are per-customer MAE and RMSE of holdout transactions, and the holdout total,
against a naive baseline: each customer repeats their calibration rate (x / T) for the
holdout's length. Prints only; asserts nothing. Runs in a few seconds, offline.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from plugin_server.domain import clv  # noqa: E402

CDNOW_TRANSACTIONS = ROOT / "tests" / "fixtures" / "cdnow" / "CDNOW_sample.txt"
CALIBRATION_END = date(1997, 9, 30)  # 39 weeks after the cohort's first day, 1997-01-01
HOLDOUT_WEEKS = 39.0
HOLDOUT_END = CALIBRATION_END + timedelta(weeks=HOLDOUT_WEEKS)  # 1998-06-30

PUBLISHED_BGNBD = clv.BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
PUBLISHED_GG = clv.GammaGammaParams(p=6.25, q=3.74, gamma=15.44)


@dataclass(frozen=True)
class Errors:
    mae: float
    rmse: float
    total: float


def errors(predicted: np.ndarray, actual: np.ndarray) -> Errors:
    diff = predicted - actual
    return Errors(
        mae=float(np.mean(np.abs(diff))),
        rmse=float(math.sqrt(np.mean(diff**2))),
        total=float(predicted.sum()),
    )


def naive_baseline(x: np.ndarray, age: np.ndarray, horizon: float) -> np.ndarray:
    """The calibration period's repeat rate, continued for the holdout's length."""
    rate = np.divide(x, age, out=np.zeros_like(x), where=age > 0)
    return rate * horizon


def report(title: str, actual: np.ndarray, model: np.ndarray, baseline: np.ndarray) -> None:
    m, b = errors(model, actual), errors(baseline, actual)
    print(f"  {title} (n = {actual.size}, actual total {actual.sum():,.0f})")
    print(f"    {'':<10}{'MAE':>10}{'RMSE':>10}{'total':>12}{'total error':>14}")
    for name, e in (("BG/NBD", m), ("baseline", b)):
        total_error = (e.total - actual.sum()) / actual.sum()
        print(f"    {name:<10}{e.mae:>10.3f}{e.rmse:>10.3f}{e.total:>12,.1f}{total_error:>+14.1%}")
    beats = [
        name
        for name, ours, theirs in (
            ("MAE", m.mae, b.mae),
            ("RMSE", m.rmse, b.rmse),
            ("total", abs(m.total - actual.sum()), abs(b.total - actual.sum())),
        )
        if ours < theirs
    ]
    verdict = "yes" if len(beats) == 3 else f"partly ({', '.join(beats) or 'none'})"
    print(f"    model beats the baseline: {verdict}")


def load_cdnow() -> dict[int, list[tuple[date, Decimal]]]:
    orders: dict[int, list[tuple[date, Decimal]]] = defaultdict(list)
    for line in CDNOW_TRANSACTIONS.read_text().splitlines():
        _, customer, day, _, value = line.split()
        orders[int(customer)].append(
            (date(int(day[:4]), int(day[4:6]), int(day[6:])), Decimal(value))
        )
    return orders


def evaluate_cdnow() -> None:
    print("CDNOW sample: fit on weeks 1-39, predict weeks 40-78")
    orders = load_cdnow()
    customers = sorted(orders)
    summaries = [clv.summarise_orders(orders[c], observed_until=CALIBRATION_END) for c in customers]
    x, t_x, age, spend = clv.as_arrays(summaries)
    # Holdout: transactions (one per customer-day) and their value, after the calibration.
    holdout_count = np.zeros(len(customers))
    holdout_value = np.zeros(len(customers))
    for i, c in enumerate(customers):
        days: dict[date, Decimal] = defaultdict(Decimal)
        for day, value in orders[c]:
            if CALIBRATION_END < day <= HOLDOUT_END:
                days[day] += value
        holdout_count[i] = len(days)
        holdout_value[i] = float(sum(days.values(), Decimal(0)))

    started = time.perf_counter()
    fit = clv.fit_bgnbd(x, t_x, age)
    spend_fit = clv.fit_gamma_gamma(x, spend)
    elapsed = time.perf_counter() - started
    p, g = fit.params, spend_fit.params
    print(
        f"  fitted in {elapsed * 1000:.0f} ms ({fit.iterations} + {spend_fit.iterations} "
        f"iterations): {fit.n_customers} customers, {fit.n_repeat_customers} repeaters"
    )
    print(f"    {'':<16}{'fitted':>10}{'published':>11}")
    for name, ours, theirs in (
        ("r", p.r, PUBLISHED_BGNBD.r),
        ("alpha", p.alpha, PUBLISHED_BGNBD.alpha),
        ("a", p.a, PUBLISHED_BGNBD.a),
        ("b", p.b, PUBLISHED_BGNBD.b),
        ("BG/NBD LL", fit.log_likelihood, -9582.4),
        ("p", g.p, PUBLISHED_GG.p),
        ("q", g.q, PUBLISHED_GG.q),
        ("gamma", g.gamma, PUBLISHED_GG.gamma),
    ):
        print(f"    {name:<16}{ours:>10.4f}{theirs:>11.3f}")
    example = float(clv.expected_purchases(p, 39, 2, 30.43, 38.86))
    print(f"    E[X(39) | x=2, t_x=30.43, T=38.86] = {example:.4f} (published 1.226)")
    print(
        f"    frequency-spend correlation {spend_fit.frequency_spend_correlation:+.3f}; "
        f"population mean spend {g.population_mean_spend:.2f}"
    )

    predicted = clv.expected_purchases(p, HOLDOUT_WEEKS, x, t_x, age)
    baseline = naive_baseline(x, age, HOLDOUT_WEEKS)
    report("holdout transactions per customer", holdout_count, predicted, baseline)
    # Spend: expected transactions x expected spend per transaction (no discounting),
    # against the baseline's transactions x the customer's calibration mean (or, without
    # a repeat purchase, the calibration mean over all repeaters).
    per_purchase = clv.expected_average_spend(g, x, spend)
    own_mean = np.where(x > 0, spend, spend[x > 0].mean())
    report(
        "holdout spend per customer ($)",
        holdout_value,
        predicted * per_purchase,
        baseline * own_mean,
    )
    repeaters = x > 0
    report(
        "holdout transactions, repeat customers only",
        holdout_count[repeaters],
        predicted[repeaters],
        baseline[repeaters],
    )


def evaluate_synthetic(n: int, seed: int) -> None:
    true = clv.BgNbdParams(r=0.6, alpha=8.0, a=0.7, b=3.5)
    print(f"\nSynthetic shop: {n} customers from {true}, seed {seed}")
    rng = np.random.default_rng(seed)
    # Acquired evenly over a year; calibration ends at week 52, holdout 26 weeks.
    ages = rng.uniform(0, 52, n)
    holdout = 26.0
    x, t_x, age, actual = clv.simulate_bgnbd(true, ages, holdout=holdout, rng=rng)
    fit = clv.fit_bgnbd(x, t_x, age)
    p = fit.params
    print(f"  {fit.n_repeat_customers} repeaters; {fit.optimizer_message}")
    print(f"    {'':<16}{'fitted':>10}{'true':>11}")
    for name, ours, theirs in (
        ("r", p.r, true.r),
        ("alpha", p.alpha, true.alpha),
        ("a", p.a, true.a),
        ("b", p.b, true.b),
        ("a / (a + b)", p.a / (p.a + p.b), true.a / (true.a + true.b)),
    ):
        print(f"    {name:<16}{ours:>10.4f}{theirs:>11.4f}")
    predicted = clv.expected_purchases(p, holdout, x, t_x, age)
    report(
        f"holdout transactions per customer ({holdout:.0f} weeks)",
        actual,
        predicted,
        naive_baseline(x, age, holdout),
    )
    oracle = clv.expected_purchases(true, holdout, x, t_x, age)
    e = errors(oracle, actual)
    print(
        f"    (with the true parameters: MAE {e.mae:.3f}, RMSE {e.rmse:.3f}, total {e.total:,.1f})"
    )


def size_study(shops: int) -> None:
    print(f"\nShop size: {shops} simulated shops per size with the CDNOW parameters and ages")
    print("  90th percentile of |predicted / true-parameter prediction - 1| for the shop's")
    print("  next-39-week transactions; and how often the fit is refused")
    print(f"    {'customers':>10}{'refused':>10}{'90th pct error':>16}")
    for n in (50, 100, 200, 500, 1000):
        gaps: list[float] = []
        refused = 0
        for seed in range(shops):
            rng = np.random.default_rng(1000 + seed)
            x, t_x, age, _ = clv.simulate_bgnbd(
                PUBLISHED_BGNBD, rng.uniform(27, 39, n), holdout=0, rng=rng
            )
            try:
                fit = clv.fit_bgnbd(x, t_x, age, min_customers=0, min_repeat_customers=0)
            except clv.NotEnoughHistory:
                refused += 1
                continue
            ours = clv.expected_purchases(fit.params, 39, x, t_x, age).sum()
            truth = clv.expected_purchases(PUBLISHED_BGNBD, 39, x, t_x, age).sum()
            gaps.append(abs(ours / truth - 1))
        pct = f"{np.quantile(gaps, 0.9):.1%}" if gaps else "-"
        print(f"    {n:>10}{refused:>10}{pct:>16}")
    print(f"  (clv refuses shops under {clv.MIN_CUSTOMERS} customers or {clv.MIN_REPEAT_CUSTOMERS}")
    print("   repeat customers by default)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--synthetic-customers", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=20240501)
    parser.add_argument("--shops", type=int, default=30, help="shops per size in the size study")
    args = parser.parse_args()
    started = time.perf_counter()
    evaluate_cdnow()
    evaluate_synthetic(args.synthetic_customers, args.seed)
    size_study(args.shops)
    print(f"\ndone in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
