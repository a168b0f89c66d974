"""Admin overview benchmark: the server time of `GET /admin/` for a shop with about a million
ledger entries, on PostgreSQL, next to what the page reads.

Loads `--members` customers with the history of benchmarks/expiry.py (about 3 ledger
entries each: 350,000 members give ~1,050,000 entries), builds the shop's analytics
aggregates, then times in this process, after one warm-up each:

1. `GET /admin/` through the Flask test client, signed in as Shopify signs the embedded
   app in (a session token made with the app's secret), `--requests` times: the page's
   whole server time (auth, queries, template);
2. `services.overview.overview` alone (what the page reads: all-time totals from the
   analytics aggregates plus the rows written since the last build's complete days, and
   the latest entries);
3. the same totals as a full scan of the shop's ledger and customers (what the page read
   before it moved onto the aggregates), for comparison under the same load;
4. `services.analytics.overview` for the last 30 days (daily aggregates).

Prints p50/p95/max in ms and PASS/MISS against the goal (issue 10: the overview page's
server time p95 < 200 ms on that data). Only 127.0.0.1 is contacted: PostgreSQL at
$BENCH_PG_URL (default postgresql://postgres@127.0.0.1:5432/test), used to create the
database loyalty_bench_overview (--database), dropped at the end unless --keep.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import psycopg
from sqlalchemy import case, func, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.expiry import load, scalar  # noqa: E402
from benchmarks.webhook_intake import ADMIN_PG_URL, bench_db_url  # noqa: E402
from plugin_server import create_app  # noqa: E402
from plugin_server.bootstrap import Container, bootstrap  # noqa: E402
from plugin_server.db.migrate import upgrade  # noqa: E402
from plugin_server.db.models import Customer, LedgerEntry  # noqa: E402
from plugin_server.services import analytics, overview  # noqa: E402
from plugin_server.services.shops import create_shop  # noqa: E402
from plugin_server.settings import Settings, normalize_database_url  # noqa: E402

GOAL_P95_MS = 200
API_KEY, API_SECRET = "bench-app-key", "bench-app-secret-0123456789abcdefghij"
SHOP = "overview-bench.myshopify.com"


def session_token() -> str:
    """What App Bridge hands the embedded page: a short-lived HS256 token for the shop."""
    now = int(time.time())
    claims = {
        "iss": f"https://{SHOP}/admin",
        "dest": f"https://{SHOP}",
        "aud": API_KEY,
        "sub": "1",
        "exp": now + 60,
        "nbf": now - 5,
        "iat": now,
        "jti": secrets.token_hex(8),
        "sid": "bench",
    }
    return jwt.encode(claims, API_SECRET, algorithm="HS256")


def full_scan(c: Container, shop_id: int) -> tuple[int, ...]:
    """The overview's totals as the page computed them before the aggregates."""
    redeem = ("redeem", "redeem_refund")
    points, kind = LedgerEntry.points, LedgerEntry.kind
    with c.session_factory() as s:
        members = s.scalar(select(func.count()).where(Customer.shop_id == shop_id)) or 0
        row = s.execute(
            select(
                func.coalesce(func.sum(case(((points > 0) & kind.not_in(redeem), points))), 0),
                func.coalesce(func.sum(case((kind.in_(redeem), points))), 0),
                func.coalesce(func.sum(points), 0),
            ).where(LedgerEntry.shop_id == shop_id)
        ).one()
    return (int(members), int(row[0]), -int(row[1]), int(row[2]))


def timed(call: Callable[[], Any], n: int) -> dict[str, float]:
    call()  # warm-up: connections, caches, the first plan
    ms = []
    for _ in range(n):
        began = time.perf_counter()
        call()
        ms.append((time.perf_counter() - began) * 1000)
    ms.sort()
    return {
        "p50": round(statistics.median(ms), 1),
        "p95": round(ms[max(0, int(0.95 * n) - 1)], 1),
        "max": round(ms[-1], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=350_000)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--database", default="loyalty_bench_overview")
    parser.add_argument("--keep", action="store_true", help="keep the database at the end")
    args = parser.parse_args()

    with psycopg.connect(ADMIN_PG_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {args.database} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {args.database}")
    url = bench_db_url(args.database)
    try:
        upgrade(url)
        c = bootstrap(
            Settings(
                database_url=normalize_database_url(url),
                secret_key="bench-secret-key-0123456",
                shopify_api_key=API_KEY,
                shopify_api_secret=API_SECRET,
                instance_path=Path(tempfile.mkdtemp(prefix="loyalty-bench-")),
            )
        )
        now = datetime.now(UTC).replace(microsecond=0)
        shop_id = create_shop(
            c.uow(), c.cipher, platform="shopify", domain=SHOP, access_token="shpat_x", now=now
        ).id
        began = time.monotonic()
        load(url, shop_id, args.members, now)
        entries = scalar(url, "SELECT count(*) FROM ledger_entries")
        print(
            f"Data: {args.members:,} members, {entries:,} ledger entries, loaded in "
            f"{time.monotonic() - began:.1f} s"
        )
        began = time.monotonic()
        analytics.build_shop(c.uow(), shop_id, now=now, rebuild=True)
        print(f"Analytics aggregates built in {time.monotonic() - began:.1f} s\n")

        client = create_app(container=c).test_client()

        def page() -> None:
            r = client.get(f"/admin/?shop={SHOP}&id_token={session_token()}")
            assert r.status_code == 200, (r.status_code, r.data[:300])

        last_30_days = analytics.parse_range(None, None, today=now.date())
        results = {
            "GET /admin/ (overview page)": timed(page, args.requests),
            "services.overview.overview": timed(
                lambda: overview.overview(c.uow(), shop_id), args.requests
            ),
            "totals by full scan (the old page)": timed(
                lambda: full_scan(c, shop_id), args.requests
            ),
            "services.analytics.overview, 30 days": timed(
                lambda: analytics.overview(c.uow(), shop_id, last_30_days), args.requests
            ),
        }
        now_totals = overview.overview(c.uow(), shop_id)
        keys = ("members", "points_issued", "points_redeemed", "points_outstanding")
        same = tuple(now_totals[k] for k in keys) == full_scan(c, shop_id)
        print(f"Overview totals equal the full scan: {same}")
        for label, r in results.items():
            print(
                f"{label:<40} p50 {r['p50']:>7.1f} ms  p95 {r['p95']:>7.1f} ms  "
                f"max {r['max']:>7.1f} ms"
            )
        p95 = results["GET /admin/ (overview page)"]["p95"]
        verdict = "PASS" if p95 < GOAL_P95_MS else "MISS"
        print(f"\nGoal: overview page server time p95 < {GOAL_P95_MS} ms: {p95} ms  {verdict}")
    finally:
        if not args.keep:
            with psycopg.connect(ADMIN_PG_URL, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {args.database} WITH (FORCE)")


if __name__ == "__main__":
    main()
