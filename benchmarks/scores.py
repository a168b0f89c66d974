"""Customer-scores benchmark: `services.scores.recompute_shop` over one shop with many
members, then the prediction pass (`services.predictions.predict_shop`: BG/NBD and
Gamma-Gamma fitted on a seeded sample of at most 200,000 members, every buyer's
predictions written), each timed on its own, on PostgreSQL.

Loads `--members` customers (default 1,000,000) set-based, as benchmarks/tiers.py does,
each with 0 to 5 orders over the past two years (each member buying for a share of its
own time since a first order, then dropping out; paid times, totals, 1 in 20 cancelled,
1 in 25 fully refunded, 1 in 10 partly refunded, 1 in 20 in another currency), then
times two full recomputes of the shop (the first writes every row, the second updates
them all, as the daily run does), with the process's RSS before and after and its peak.
After each, the stored scores are checked against an independent SQL computation of
frequency and the score distribution (each score 1-5 must hold about a fifth of the
distinct values' members), and the predictions: every buyer "ok" with values, every
other member "no_orders" with NULLs (or everyone not_enough_history if the model refused
the data). The goal is scores + predictions under 5 minutes. Only 127.0.0.1 is
contacted: PostgreSQL at $BENCH_PG_URL
(default postgresql://postgres@127.0.0.1:5432/test), used to create the database given
by --database, dropped at the end unless --keep.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.expiry import peak_rss_mib, rss_mib  # noqa: E402
from benchmarks.tiers import cpu_seconds, drop_database, fresh_database  # noqa: E402
from benchmarks.webhook_intake import verdict  # noqa: E402
from plugin_server.bootstrap import bootstrap  # noqa: E402
from plugin_server.db.migrate import upgrade  # noqa: E402
from plugin_server.services import member_chunks, predictions, scores  # noqa: E402
from plugin_server.services.shops import create_shop  # noqa: E402
from plugin_server.settings import Settings, normalize_database_url  # noqa: E402

DB_NAME = "loyalty_bench_scores"
SHOP = "scores-bench.myshopify.com"
GOALS = {"seconds_per_pass": 300, "rss_growth_mib": 100}  # a pass: scores + predictions

_U = "((hashint4(i * 16 + {k}) & 2147483647) / 2147483648.0::float8)"

CUSTOMERS_SQL = f"""
INSERT INTO customers (id, shop_id, customer_ref, email, created_at, updated_at)
SELECT i, %(shop)s, (7000000000 + i)::text, 'member' || i || '@example.com',
       %(now)s - {_U.format(k=1)} * interval '900 days',
       %(now)s - {_U.format(k=1)} * interval '900 days'
FROM generate_series(1, %(n)s) AS g(i)
"""

# Member i has (i * 7) %% 6 orders (0 to 5); order j of member i is id i * 8 + j.
ORDERS_SQL = """
INSERT INTO orders (id, shop_id, order_ref, name, customer_id, status, cancelled,
                    fully_refunded, refund_count, earned_points, currency, order_total,
                    paid_at, earn_available_at, created_at, updated_at)
SELECT id, %(shop)s, (5000000000 + id)::text, '#' || id, i, 'paid', u3 < 0.05,
       u3 >= 0.05 AND u3 < 0.09, 0, 10, CASE WHEN u4 < 0.05 THEN 'EUR' ELSE 'USD' END,
       round(((5 + 295 * um) * (0.7 + 0.6 * u2))::numeric, 2), paid, paid, paid, paid
FROM (
    SELECT i, i * 8 + j AS id,
           -- Member i starts up to 730 days ago and buys only during the first part
           -- of the time since (a share of its own), then stops: the drop-outs a
           -- Buy-Till-You-Die model is fitted on.
           %(now)s - ((hashint4(i * 64 + 40) & 2147483647) / 2147483648.0::float8)
               * interval '730 days'
               * (1 - ((hashint4(i * 64 + 48) & 2147483647) / 2147483648.0::float8)
                    * ((hashint4(i * 64 + j) & 2147483647) / 2147483648.0::float8)) AS paid,
           -- Each member spends around a mean of its own (Gamma-Gamma's assumption).
           (hashint4(i * 64 + 56) & 2147483647) / 2147483648.0::float8 AS um,
           (hashint4(i * 64 + j + 8) & 2147483647) / 2147483648.0::float8 AS u2,
           (hashint4(i * 64 + j + 16) & 2147483647) / 2147483648.0::float8 AS u3,
           (hashint4(i * 64 + j + 24) & 2147483647) / 2147483648.0::float8 AS u4
    FROM generate_series(1, %(n)s) AS g(i), generate_series(1, 5) AS s(j)
    WHERE j <= (i * 7) %% 6
) o
"""

REFUNDS_SQL = """
INSERT INTO order_refunds (shop_id, order_id, refund_ref, lines_subtotal, shipping, tax,
                           amount, amount_currency, has_line_items, created_at)
SELECT %(shop)s, id, 'r' || id, round(order_total / 3, 2), 0, 0, round(order_total / 3, 2),
       currency, false, paid_at
FROM orders WHERE shop_id = %(shop)s AND NOT fully_refunded AND id %% 10 = 3
UNION ALL
SELECT %(shop)s, id, 'r' || id, order_total, 0, 0, order_total, currency, false, paid_at
FROM orders WHERE shop_id = %(shop)s AND fully_refunded
"""


def load(url: str, shop_id: int, members: int, now: datetime) -> dict[str, float]:
    params = {"shop": shop_id, "n": members, "now": now}
    steps: dict[str, float] = {}
    with psycopg.connect(url) as conn:
        conn.execute("SET work_mem = '256MB'")
        try:
            conn.execute("SET session_replication_role = replica")
            conn.commit()
        except psycopg.errors.InsufficientPrivilege:
            conn.rollback()
        for name, sql in (
            ("customers", CUSTOMERS_SQL),
            ("orders", ORDERS_SQL),
            ("order_refunds", REFUNDS_SQL),
        ):
            began = time.monotonic()
            conn.execute(sql, params)
            steps[name] = round(time.monotonic() - began, 1)
        for table in ("customers", "orders"):
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        conn.commit()
    began = time.monotonic()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE customers, orders, order_refunds")
    steps["vacuum_analyze"] = round(time.monotonic() - began, 1)
    return steps


CHECK_SQL = """
WITH f AS (
    SELECT c.id, count(o.id) FILTER (WHERE o.paid_at IS NOT NULL AND NOT o.cancelled
                                     AND NOT o.fully_refunded) AS n
    FROM customers c LEFT JOIN orders o ON o.shop_id = c.shop_id AND o.customer_id = c.id
    WHERE c.shop_id = %(shop)s GROUP BY c.id
)
SELECT count(*) FILTER (WHERE s.frequency IS DISTINCT FROM f.n),
       count(*) FILTER (WHERE s.customer_id IS NULL),
       count(*) FILTER (WHERE f.n > 0 AND s.segment IS NULL),
       count(*) FILTER (WHERE f.n = 0 AND s.segment IS NOT NULL)
FROM f LEFT JOIN customer_scores s ON s.shop_id = %(shop)s AND s.customer_id = f.id
"""


PREDICTION_CHECK_SQL = """
SELECT count(*) FILTER (WHERE
           (prediction_status = 'ok' AND (btyd_x IS NULL OR p_alive IS NULL
                                          OR expected_purchases_90 IS NULL))
           OR (prediction_status = 'no_orders' AND (btyd_x IS NOT NULL OR p_alive IS NOT NULL))
           OR (prediction_status = 'not_enough_history' AND p_alive IS NOT NULL)
           OR prediction_status NOT IN ('ok', 'no_orders', 'not_enough_history')),
       count(*) FILTER (WHERE prediction_status = 'ok'),
       count(*) FILTER (WHERE prediction_status = 'no_orders'),
       count(*) FILTER (WHERE prediction_status = 'not_enough_history')
FROM customer_scores WHERE shop_id = %(shop)s
"""


def check(url: str, shop_id: int) -> dict[str, Any]:
    with psycopg.connect(url) as conn:
        conn.execute("SET work_mem = '256MB'")
        row = conn.execute(CHECK_SQL, {"shop": shop_id}).fetchone()
        assert row is not None
        segments = dict(
            conn.execute(
                "SELECT coalesce(segment, '(none)'), count(*) FROM customer_scores "
                "WHERE shop_id = %s GROUP BY 1 ORDER BY 2 DESC",
                (shop_id,),
            ).fetchall()
        )
        r_scores = dict(
            conn.execute(
                "SELECT r_score, count(*) FROM customer_scores WHERE shop_id = %s "
                "AND r_score IS NOT NULL GROUP BY 1 ORDER BY 1",
                (shop_id,),
            ).fetchall()
        )
        predicted = conn.execute(PREDICTION_CHECK_SQL, {"shop": shop_id}).fetchone()
        assert predicted is not None
        model = conn.execute(
            "SELECT status, reason, members_used, bgnbd_r, bgnbd_alpha, bgnbd_a, bgnbd_b, "
            "spend_status, gg_p, gg_q, gg_gamma FROM prediction_models WHERE shop_id = %s",
            (shop_id,),
        ).fetchone()
    return {
        "predictions_wrong": predicted[0],
        "predictions_by_status": {
            "ok": predicted[1],
            "no_orders": predicted[2],
            "not_enough_history": predicted[3],
        },
        "model": model,
        "frequency_mismatches": row[0],
        "members_without_row": row[1],
        "buyers_without_segment": row[2],
        "non_buyers_with_segment": row[3],
        "segments": segments,
        "r_score_counts": r_scores,
    }


def counts_currency(c: Any, shop_id: int) -> str | None:
    with c.uow() as uow:
        return scores.shop_currency(uow.session, shop_id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=scores.CHUNK, help="members per transaction")
    parser.add_argument("--connections", type=int, default=member_chunks.CONNECTIONS)
    parser.add_argument("--database", default=DB_NAME, help="database to create and drop")
    parser.add_argument("--keep", action="store_true", help="keep the database at the end")
    args = parser.parse_args()

    url = fresh_database(args.database)
    sa_url = normalize_database_url(url)
    upgrade(sa_url)
    settings = Settings(
        database_url=sa_url,
        secret_key="bench-secret-key-0123456789",
        shopify_api_key="bench",
        shopify_api_secret="bench-secret",
        instance_path=ROOT / "instance",
        development=True,
    )
    c = bootstrap(settings)
    now = datetime.now(UTC).replace(microsecond=0)
    try:
        shop_id = create_shop(
            c.uow(), c.cipher, platform="shopify", domain=SHOP, now=now, access_token="x"
        ).id
        print(f"Loading {args.members:,} members ...", flush=True)
        steps = load(url, shop_id, args.members, now)
        with psycopg.connect(url) as conn:
            orders = conn.execute("SELECT count(*) FROM orders").fetchone()
        print(f"Loaded: {steps}; orders: {orders[0] if orders else 0:,}", flush=True)
        rss_setup = rss_mib()
        passes = []
        for label in ("first run (inserts)", "second run (updates)"):
            began, cpu = time.monotonic(), cpu_seconds()
            counts = scores.recompute_shop(
                c.uow,
                shop_id,
                now=now,
                chunk=args.chunk,
                connections=args.connections,
                predict=False,
            )
            scored_at, peak_scores = time.monotonic(), peak_rss_mib()
            currency = counts_currency(c, shop_id)
            counts |= predictions.predict_shop(
                c.uow,
                shop_id,
                now=now,
                currency=currency,
                chunk=args.chunk,
                connections=args.connections,
            )
            done = time.monotonic()
            result = {
                "label": label,
                "seconds": round(done - began, 1),
                "scores_seconds": round(scored_at - began, 1),
                "predictions_seconds": round(done - scored_at, 1),
                "cpu_seconds_here": round(cpu_seconds() - cpu, 1),
                "counts": counts,
                "peak_rss_after_scores_mib": round(peak_scores, 1),
                "rss_after_mib": round(rss_mib(), 1),
                "peak_rss_mib": round(peak_rss_mib(), 1),
                "load_average": round(os.getloadavg()[0], 2),
                "check": check(url, shop_id),
            }
            passes.append(result)
            print(result, flush=True)
    finally:
        c.close()
        if not args.keep:
            drop_database(args.database)
    slowest = max(p["seconds"] for p in passes)
    growth = max(p["peak_rss_mib"] for p in passes) - rss_setup
    wrong = sum(
        p["check"]["predictions_wrong"]
        + p["check"]["frequency_mismatches"]
        + p["check"]["members_without_row"]
        + p["check"]["buyers_without_segment"]
        + p["check"]["non_buyers_with_segment"]
        for p in passes
    )
    print(f"\nRows differing from the independent SQL: {wrong}")
    for p in passes:
        print(
            f"  {p['label']}: scores {p['scores_seconds']:.1f} s + predictions "
            f"{p['predictions_seconds']:.1f} s = {p['seconds']:.1f} s"
        )
    print(
        f"  each full recompute (scores + predictions) < {GOALS['seconds_per_pass']} s: "
        f"slowest {slowest:.1f} s  {verdict(slowest < GOALS['seconds_per_pass'])}"
    )
    print(
        f"  peak RSS {max(p['peak_rss_mib'] for p in passes):.0f} MiB, +{growth:.0f} MiB above "
        f"the {rss_setup:.0f} MiB before the passes (goal < {GOALS['rss_growth_mib']})  "
        f"{verdict(growth < GOALS['rss_growth_mib'])}"
    )


if __name__ == "__main__":
    main()
