"""Analytics benchmark: rebuild one shop's daily aggregates over ~1,000,000 ledger entries
on PostgreSQL, then time the overview read.

Loads `--members` members (default 350,000, about 3 ledger entries each: ~1.05 M entries
and ~580,000 orders over two years) with `benchmarks.expiry.load`, then makes one order in
ten a guest order (with an email key) and one in fifty an order in EUR, sets `paid_at` (the
loader predates it), and adds a fixed-amount reward so the liability is priced. Then:

1. `analytics.build_all(rebuild=True)`: every day from scratch, one transaction (goal < 60 s);
2. an incremental build after 1,000 new ledger entries and a refund of a year-old order
   (what a scheduler tick pays);
3. `analytics.overview` for the last 30 days and for the last 365 days, `--calls` times
   each: p50/p95/max (goal: p95 < 200 ms for the 30-day default);
4. checks that a rebuild right after the incremental build leaves the same rows.

Only 127.0.0.1 is contacted: PostgreSQL at $BENCH_PG_URL (default
postgresql://postgres@127.0.0.1:5432/test), used to create the database
loyalty_bench_analytics, dropped at the end unless --keep.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.expiry import load
from benchmarks.webhook_intake import ADMIN_PG_URL, bench_db_url
from plugin_server.bootstrap import bootstrap
from plugin_server.db.migrate import upgrade
from plugin_server.services import analytics
from plugin_server.services.shops import create_shop
from plugin_server.settings import Settings, normalize_database_url

DB_NAME = "loyalty_bench_analytics"
SHOP = "analytics-bench.myshopify.com"
GOALS = {"rebuild_seconds": 60, "overview_p95_ms": 200}

PREPARE_SQL = [
    "UPDATE orders SET paid_at = created_at WHERE shop_id = %(shop)s",
    """UPDATE orders SET customer_id = NULL, email_key = md5('guest' || (id %% 40000))
       WHERE shop_id = %(shop)s AND id %% 10 = 0""",
    "UPDATE orders SET currency = 'EUR' WHERE shop_id = %(shop)s AND id %% 50 = 7",
    """INSERT INTO rewards (shop_id, name, kind, points_cost, amount, currency, product_ids,
                           collection_ids, code_valid_days, created_at, updated_at)
       VALUES (%(shop)s, '$5 off', 'fixed_amount', 500, 5, 'USD', '[]', '[]', 30,
               %(now)s, %(now)s)""",
]
LATE_SQL = [
    """INSERT INTO ledger_entries (shop_id, customer_id, points, kind, reason, source_type,
                                  source_ref, idempotency_key, created_at, available_at)
       SELECT %(shop)s, i, 10, 'rule_bonus', 'bench', 'rule', 'late-' || i,
              'late-' || i, %(now)s, %(now)s
       FROM generate_series(1, 1000) AS g(i)""",
    """INSERT INTO order_refunds (shop_id, order_id, refund_ref, lines_subtotal, shipping, tax,
                                 amount, amount_currency, has_line_items, created_at)
       SELECT %(shop)s, id, 'late', 1, 0, 0, 1, currency, false, %(now)s
       FROM orders WHERE shop_id = %(shop)s AND paid_at < %(now)s - interval '365 days'
       ORDER BY id LIMIT 1""",
]
SNAPSHOT_SQL = """
SELECT (SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM analytics_days t
        WHERE shop_id = %(shop)s),
       (SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM analytics_order_days t
        WHERE shop_id = %(shop)s),
       (SELECT count(*) FROM analytics_member_days WHERE shop_id = %(shop)s),
       (SELECT sum(customer_id) FROM analytics_member_days WHERE shop_id = %(shop)s)
"""


def run_sql(url: str, statements: list[str], params: dict[str, Any]) -> None:
    with psycopg.connect(url) as conn:
        for sql in statements:
            conn.execute(sql, params)
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def snapshot(url: str, shop_id: int) -> tuple[Any, ...]:
    with psycopg.connect(url) as conn:
        row = conn.execute(SNAPSHOT_SQL, {"shop": shop_id}).fetchone()
    assert row is not None
    return tuple(row)


def timed_calls(fn: Any, calls: int) -> dict[str, float]:
    times = []
    for _ in range(calls):
        began = time.perf_counter()
        fn()
        times.append((time.perf_counter() - began) * 1000)
    times.sort()
    return {
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[int(len(times) * 0.95) - 1], 1),
        "max_ms": round(times[-1], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=350_000)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help=f"keep the database {DB_NAME}")
    args = parser.parse_args()

    now = datetime.now(UTC).replace(microsecond=0)
    with psycopg.connect(ADMIN_PG_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")
    url = bench_db_url(DB_NAME)
    upgrade(url)
    c = bootstrap(
        Settings(database_url=normalize_database_url(url), secret_key="bench-secret-key-0123456")
    )
    results: dict[str, Any] = {"when": now.isoformat(), "members": args.members, "goals": GOALS}
    try:
        shop_id = create_shop(c.uow(), c.cipher, platform="shopify", domain=SHOP, now=now).id
        began = time.monotonic()
        load(url, shop_id, args.members, now)
        run_sql(url, PREPARE_SQL, {"shop": shop_id, "now": now})
        with psycopg.connect(url) as conn:
            counts = conn.execute(
                "SELECT (SELECT count(*) FROM ledger_entries), (SELECT count(*) FROM orders)"
            ).fetchone()
        assert counts is not None
        results["load"] = {
            "seconds": round(time.monotonic() - began, 1),
            "ledger_entries": counts[0],
            "orders": counts[1],
        }
        print(json.dumps(results["load"]), flush=True)

        began = time.monotonic()
        analytics.build_all(c.uow, now=now, rebuild=True)
        results["rebuild_seconds"] = round(time.monotonic() - began, 2)
        print(f"rebuild: {results['rebuild_seconds']} s", flush=True)

        later = now + timedelta(minutes=10)
        run_sql(url, LATE_SQL, {"shop": shop_id, "now": later})
        began = time.monotonic()
        built = analytics.build_shop(c.uow(), shop_id, now=later)
        results["incremental"] = {
            "seconds": round(time.monotonic() - began, 2),
            "days_rebuilt": built["days"],
        }
        incremental = snapshot(url, shop_id)
        analytics.build_shop(c.uow(), shop_id, now=later, rebuild=True)
        results["incremental_equals_rebuild"] = snapshot(url, shop_id) == incremental

        today = later.date()
        for label, days in (("overview_30_days", 30), ("overview_365_days", 365)):
            r = analytics.DateRange(today - timedelta(days=days - 1), today)
            analytics.overview(c.uow(), shop_id, r)  # warm
            results[label] = timed_calls(
                lambda r=r: analytics.overview(c.uow(), shop_id, r), args.calls
            )
        # Where the 30-day overview's time goes: each part alone.
        r30 = analytics.DateRange(today - timedelta(days=29), today)
        results["parts_30_days"] = {
            part: timed_calls(
                lambda part=part: analytics._read(c.uow(), shop_id, r30, (part,)), 20
            )["p50_ms"]
            for part in ("points", "orders", "referrals", "tiers")
        }
        sample = analytics.overview(
            c.uow(), shop_id, analytics.DateRange(today - timedelta(days=29), today)
        )
        results["sample_30_days"] = {
            k: sample[k]
            for k in ("members", "active_members", "points_issued", "points_outstanding")
        } | {"liability": sample["liability"], "revenue": sample["orders"]["members"]["revenue"]}
        cohorts_range = analytics.DateRange(date(today.year - 1, today.month, 1), today)
        results["cohorts_12_months"] = timed_calls(
            lambda: analytics.cohorts(c.uow(), shop_id, cohorts_range), 5
        )
    finally:
        c.engine.dispose()
        if not args.keep:
            with psycopg.connect(ADMIN_PG_URL, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    results["verdict"] = {
        "rebuild": "PASS" if results["rebuild_seconds"] < GOALS["rebuild_seconds"] else "MISS",
        "overview_p95": "PASS"
        if results["overview_30_days"]["p95_ms"] < GOALS["overview_p95_ms"]
        else "MISS",
    }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
