"""Redemption benchmark on the production shape: gunicorn + PostgreSQL + Redis + an RQ
worker, with the platform sandbox (`loyalty sandbox`) as the Shopify Admin API.

Prints:
1. The latency a merchant's or shopper's redemption request sees end to end (points taken,
   code created at the sandbox over HTTP, answer): p50/p90/p99 over sequential requests,
   and how many came back `issued` within the request rather than `pending`.
2. Concurrent redemptions thrown at one balance that covers exactly K of them: how many
   succeeded (must be K), how many got 409 insufficient_points, the final balance (must be
   0, never negative), and how many codes the sandbox holds for that shopper (must be K,
   after the worker finishes any pending ones).

Only 127.0.0.1 is contacted. Needs PostgreSQL at $BENCH_PG_URL (default
postgresql://postgres@127.0.0.1:5432/test; creates database loyalty_bench_redeem) and Redis
at $BENCH_REDIS_URL (default redis://127.0.0.1:6379/13, flushed).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import psycopg
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.webhook_intake import (  # noqa: E402
    free_port,
    gunicorn,
    reset_services,
    run_cli,
    service_env,
    start,
    stop,
    wait_healthy,
)
from plugin_server.simulate import shopify_order, sign_shopify  # noqa: E402

ADMIN_PG_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
DB_NAME = "loyalty_bench_redeem"
SHOP = "redeem-bench.myshopify.com"
TOKEN = "shpat_bench_token"
SECRET = "bench-shopify-secret-0123456789abcdef"
BIN = Path(sys.executable).parent
COST = 100


def db_url() -> str:
    return f"{ADMIN_PG_URL.rsplit('/', 1)[0]}/{DB_NAME}"


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="sequential redemptions")
    parser.add_argument("--covered", type=int, default=50, help="K: redemptions one balance covers")
    parser.add_argument("--attempts", type=int, default=200, help="concurrent attempts on it")
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--web-workers", type=int, default=2)
    args = parser.parse_args()

    reset_services(DB_NAME, REDIS_URL)
    env = service_env(db_url(), REDIS_URL, SECRET)
    sandbox_port, web_port = free_port(), free_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    base = f"http://127.0.0.1:{web_port}"
    procs = []
    try:
        procs.append(
            start(
                [
                    str(BIN / "loyalty"),
                    "sandbox",
                    "--port",
                    str(sandbox_port),
                    "--shopify-shop",
                    f"{SHOP}={TOKEN}",
                ],
                env,
            )
        )
        run_cli(env, "db", "upgrade")
        created = run_cli(
            env,
            "shops",
            "create",
            "--platform",
            "shopify",
            "--domain",
            SHOP,
            "--access-token",
            TOKEN,
            "--api-base-url",
            sandbox_url,
        )
        api_key = json.loads(created)["api_key"]
        procs.append(gunicorn(web_port, args.web_workers, 8, env))
        procs.append(start([str(BIN / "loyalty"), "worker"], env))
        wait_healthy(base)
        _wait_sandbox(sandbox_url)
        auth = {"Authorization": f"Bearer {api_key}"}
        session = requests.Session()

        # Members: one order each (drained by the worker), then points by adjustment.
        members = [str(700_000 + i) for i in range(args.requests)]
        for i, ref in enumerate([*members, "1"]):
            delivery = sign_shopify(
                shopify_order(
                    order_id=9_000_000 + i,
                    email=f"b{i}@example.com",
                    subtotal=Decimal("1.00"),
                    customer_id=int(ref),
                ),
                topic="orders/paid",
                shop_domain=SHOP,
                secret=SECRET,
            )
            session.post(
                base + delivery.path, data=delivery.body, headers=delivery.headers, timeout=10
            )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # the worker drains the orders
            with psycopg.connect(db_url()) as conn:
                known = conn.execute("SELECT count(*) FROM customers").fetchone()
            if known and known[0] == len(members) + 1:
                break
            time.sleep(0.2)
        for ref in members:
            _adjust(session, base, auth, ref, COST)
        reward = session.post(
            f"{base}/api/v1/rewards",
            headers=auth,
            timeout=5,
            json={
                "name": "$5 off",
                "kind": "fixed_amount",
                "points_cost": COST,
                "amount": "5.00",
                "currency": "USD",
            },
        ).json()

        # 1. Sequential latency.
        latencies, statuses = [], {"issued": 0, "pending": 0, "other": 0}
        for ref in members:
            t0 = time.perf_counter()
            r = session.post(
                f"{base}/api/v1/customers/{ref}/redemptions",
                headers=auth,
                timeout=10,
                json={"reward_id": reward["id"]},
            )
            latencies.append((time.perf_counter() - t0) * 1000)
            status = r.json().get("status") if r.status_code == 201 else "other"
            statuses[status if status in statuses else "other"] += 1

        # 2. Concurrency on one balance covering exactly K redemptions.
        _adjust(session, base, auth, "1", args.covered * COST - 1)  # the order earned 1

        def attempt(_: int) -> int:
            with requests.Session() as s:
                return s.post(
                    f"{base}/api/v1/customers/1/redemptions",
                    timeout=30,
                    headers={**auth, "Idempotency-Key": uuid.uuid4().hex},
                    json={"reward_id": reward["id"]},
                ).status_code

        t0 = time.perf_counter()
        with ThreadPoolExecutor(args.threads) as pool:
            codes = list(pool.map(attempt, range(args.attempts)))
        burst_s = time.perf_counter() - t0
        balance = session.get(f"{base}/api/v1/customers/1", headers=auth, timeout=5).json()[
            "balance"
        ]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with psycopg.connect(db_url()) as conn:
                pending = conn.execute(
                    "SELECT count(*) FROM redemptions WHERE status = 'pending'"
                ).fetchone()[0]
            if not pending:
                break
            time.sleep(0.5)
        sandbox_codes = requests.get(
            f"{sandbox_url}/_sandbox/shopify/{SHOP}/discounts", timeout=10
        ).json()["discounts"]
        for_member = [
            d
            for d in sandbox_codes
            if d["input"].get("context", {}).get("customers", {}).get("add")
            == ["gid://shopify/Customer/1"]
        ]
        result = {
            "sequential": {
                "requests": len(latencies),
                "p50_ms": round(statistics.median(latencies), 1),
                "p90_ms": round(percentile(latencies, 90), 1),
                "p99_ms": round(percentile(latencies, 99), 1),
                "max_ms": round(max(latencies), 1),
                **statuses,
            },
            "one_balance": {
                "covered": args.covered,
                "attempts": args.attempts,
                "threads": args.threads,
                "succeeded": codes.count(201),
                "insufficient_409": codes.count(409),
                "other": len(codes) - codes.count(201) - codes.count(409),
                "final_balance": balance,
                "codes_at_sandbox": len(for_member),
                "seconds": round(burst_s, 2),
            },
        }
        ok = (
            result["one_balance"]["succeeded"] == args.covered
            and balance == 0
            and len(for_member) == args.covered
        )
        print(json.dumps(result, indent=2))
        print("one-balance guarantee:", "HOLDS" if ok else "BROKEN")
    finally:
        for proc in reversed(procs):
            stop(proc)


def _wait_sandbox(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.get(f"{url}/_sandbox/shopify/{SHOP}/discounts", timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise SystemExit("the sandbox did not start")


def _adjust(
    session: requests.Session, base: str, auth: dict[str, str], ref: str, points: int
) -> None:
    r = session.post(
        f"{base}/api/v1/customers/{ref}/adjustments",
        headers=auth,
        timeout=10,
        json={"points": points, "reason": "benchmark balance"},
    )
    if r.status_code != 201:
        raise SystemExit(f"adjustment for {ref} failed: {r.status_code} {r.text}")


if __name__ == "__main__":
    main()
