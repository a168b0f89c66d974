"""Webhook intake and drain benchmark on the production shape: gunicorn + PostgreSQL + Redis.

Prints, for each concurrency level, wrk's throughput and latency for a trivial Flask endpoint
(GET /healthz on the same server) next to signed Shopify `orders/paid` deliveries with
unique webhook ids; checks that every accepted delivery was stored; then measures how fast
RQ workers turn a backlog of distinct orders into ledger awards.

Only 127.0.0.1 is ever contacted. Needs wrk (Debian: apt-get install wrk), PostgreSQL at
$BENCH_PG_URL (default postgresql://postgres@127.0.0.1:5432/test, used to create the
database loyalty_bench) and Redis at $BENCH_REDIS_URL (default redis://127.0.0.1:6379/14,
flushed). The load generator shares the machine's cores, so the numbers are conservative.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import requests
from redis import Redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from plugin_server.simulate import shopify_order, sign_shopify  # noqa: E402

BIN = Path(sys.executable).parent
ADMIN_PG_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
DB_NAME = "loyalty_bench"
SHOP = "bench-shop.myshopify.com"
SECRET = "bench-shopify-secret"
GOALS = {"webhooks_per_s": 1000, "p99_ms": 50, "ratio_to_trivial": 0.5, "awards_per_s": 200}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bench_db_url(db_name: str = DB_NAME) -> str:
    base = ADMIN_PG_URL.rsplit("/", 1)[0]
    return f"{base}/{db_name}"


def reset_services(db_name: str = DB_NAME, redis_url: str = REDIS_URL) -> None:
    """A fresh, empty PostgreSQL database `db_name` and an empty Redis db."""
    with psycopg.connect(ADMIN_PG_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {db_name}")
    Redis.from_url(redis_url).flushdb()


def service_env(db_url: str, redis_url: str, shopify_secret: str, **extra: str) -> dict[str, str]:
    """The production settings every benchmarked process runs with."""
    return {
        **os.environ,
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url,
        "LOYALTY_SECRET_KEY": "bench-secret-key-0123456789",
        "SHOPIFY_API_SECRET": shopify_secret,
        "SHOPIFY_API_KEY": "bench-client-id",
        "LOYALTY_INSTANCE_PATH": tempfile.mkdtemp(prefix="loyalty-bench-"),
        **extra,
    }


def gunicorn(port: int, workers: int, threads: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return start(
        [
            str(BIN / "gunicorn"),
            "plugin_server.wsgi:app",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            "gthread",
            "--threads",
            str(threads),
            "--reuse-port",
            "--log-level",
            "warning",
        ],
        env,
    )


def run_cli(env: dict[str, str], *args: str) -> str:
    out = subprocess.run(
        [str(BIN / "loyalty"), *args],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return out.stdout


def start(cmd: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)


def wait_healthy(url: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit(f"server at {url} did not become healthy")


def lua_script(path: Path) -> None:
    """One realistic signed orders/paid body; a unique X-Shopify-Webhook-Id per request."""
    payload = shopify_order(
        order_id=4_000_000_001, email="bench@example.com", subtotal=Decimal("59.90"), customer_id=42
    )
    delivery = sign_shopify(payload, topic="orders/paid", shop_domain=SHOP, secret=SECRET)
    lines = ["wrk.method = 'POST'", f"wrk.body = {json.dumps(delivery.body.decode())}"]
    for key, value in delivery.headers.items():
        if key != "X-Shopify-Webhook-Id":
            lines.append(f"wrk.headers[{json.dumps(key)}] = {json.dumps(value)}")
    lines += [
        "local counter = 0",
        "local prefix = tostring(os.time()) .. '-' .. tostring(math.random(1, 1000000000))",
        "request = function()",
        "  counter = counter + 1",
        "  wrk.headers['X-Shopify-Webhook-Id'] = prefix .. '-' .. counter",
        "  return wrk.format(nil, '/webhooks/shopify')",
        "end",
    ]
    path.write_text("\n".join(lines) + "\n")


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if not match:
        return float("nan")
    return float(match.group(1)) * _UNITS[match.group(2)]


def wrk(url: str, connections: int, duration: int, script: Path | None = None) -> dict[str, Any]:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "5s"]
    if script:
        cmd += ["-s", str(script)]
    out = subprocess.run(
        [*cmd, url], check=True, capture_output=True, text=True, timeout=duration + 60
    ).stdout
    result: dict[str, Any] = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}
    for pct in ("50", "99"):
        m = re.search(rf"^\s+{pct}%\s+(\S+)", out, re.M)
        result[f"p{pct}_ms"] = _ms(m.group(1)) if m else float("nan")
    total = re.search(r"(\d+) requests in", out)
    result["requests"] = int(total.group(1)) if total else 0
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result["non_2xx"] = int(non2xx.group(1)) if non2xx else 0
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    result["socket_errors"] = sum(int(x) for x in sock.groups()) if sock else 0
    return result


def count(sql: str) -> int:
    with psycopg.connect(bench_db_url()) as conn:
        row = conn.execute(sql).fetchone()
    return int(row[0]) if row else 0


def post_orders(base_url: str, n: int) -> None:
    """n distinct orders from distinct customers, posted with keep-alive from 16 threads."""
    deliveries = [
        sign_shopify(
            shopify_order(
                order_id=5_000_000_000 + i,
                email=f"c{i}@example.com",
                subtotal=Decimal("10.00") + i % 90,
                customer_id=900_000 + i,
            ),
            topic="orders/paid",
            shop_domain=SHOP,
            secret=SECRET,
        )
        for i in range(n)
    ]

    def send(chunk: list[Any]) -> int:
        ok = 0
        with requests.Session() as session:
            for d in chunk:
                r = session.post(base_url + d.path, data=d.body, headers=d.headers, timeout=10)
                ok += r.status_code == 200
        return ok

    chunks = [deliveries[i::16] for i in range(16)]
    with ThreadPoolExecutor(16) as pool:
        accepted = sum(pool.map(send, chunks))
    if accepted != n:
        raise SystemExit(f"only {accepted} of {n} drain-phase orders were accepted")


def drain_phase(env: dict[str, str], base_url: str, orders: int, workers: int) -> dict[str, Any]:
    # Start from an empty inbox so only the distinct orders below are timed.
    with psycopg.connect(bench_db_url(), autocommit=True) as conn:
        conn.execute("TRUNCATE webhook_receipts")
    Redis.from_url(REDIS_URL).flushdb()
    post_orders(base_url, orders)
    procs = [start([str(BIN / "loyalty"), "worker", "--burst"], env) for _ in range(workers)]
    began = time.monotonic()
    try:
        deadline = began + 600
        while time.monotonic() < deadline:
            done = count("SELECT count(*) FROM webhook_receipts WHERE status = 'processed'")
            if done >= orders:
                break
            time.sleep(0.1)
        elapsed = time.monotonic() - began
    finally:
        for p in procs:
            stop(p)
    awards = count(
        "SELECT count(*) FROM ledger_entries WHERE kind = 'earn_order' "
        "AND source_ref::bigint >= 5000000000"
    )
    return {
        "orders": orders,
        "workers": workers,
        "seconds": round(elapsed, 3),
        "awards": awards,
        "awards_per_s": round(orders / elapsed, 1),
    }


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", default="8,32,64")
    parser.add_argument("--orders", type=int, default=3000, help="orders in the drain phase")
    parser.add_argument("--workers", type=int, default=2, help="RQ workers in the drain phase")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4, help="gunicorn gthread threads")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is required: apt-get install wrk")
    levels = [int(c) for c in args.connections.split(",")]

    reset_services()
    env = service_env(bench_db_url(), REDIS_URL, SECRET)
    run_cli(env, "db", "upgrade")
    run_cli(env, "shops", "create", "--platform", "shopify", "--domain", SHOP)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    web = gunicorn(port, args.web_workers, args.threads, env)
    results: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "server": f"gunicorn gthread {args.web_workers}x{args.threads}",
        "levels": [],
    }
    try:
        wait_healthy(base_url)
        instance = env["LOYALTY_INSTANCE_PATH"]
        script = Path(instance) / "orders_paid.lua"
        lua_script(script)
        wrk(base_url + "/healthz", 8, 2)  # warm up both paths
        wrk(base_url, 8, 2, script)
        for c in levels:
            time.sleep(1)  # requests still in flight when the last wrk run stopped
            stored_before = count("SELECT count(*) FROM webhook_receipts")
            trivial = wrk(base_url + "/healthz", c, args.duration)
            hooks = wrk(base_url, c, args.duration, script)
            time.sleep(1)
            stored = count("SELECT count(*) FROM webhook_receipts") - stored_before
            accepted = hooks["requests"] - hooks["non_2xx"] - hooks["socket_errors"]
            results["levels"].append(
                {
                    "connections": c,
                    "trivial": trivial,
                    "webhook": hooks,
                    "stored": stored,
                    # wrk stops counting at its deadline, so up to `c` requests in flight may
                    # be stored uncounted; a 2xx without a stored row would be a bug.
                    "stored_ok": accepted <= stored <= accepted + c,
                    "accepted": accepted,
                }
            )
        results["drain"] = drain_phase(env, base_url, args.orders, args.workers)
    finally:
        stop(web)
        shutil.rmtree(instance, ignore_errors=True)

    print(
        f"\nWebhook intake ({results['server']}, PostgreSQL + Redis, wrk -t1, "
        f"{args.duration}s per run; load generator on the same 2 cores)\n"
    )
    print(
        f"{'conns':>5} | {'trivial req/s':>13} {'p50':>7} {'p99':>7} | {'webhooks/s':>10} "
        f"{'p50':>7} {'p99':>7} {'errors':>6} {'ratio':>6} | stored vs answered 2xx"
    )
    for lv in results["levels"]:
        t, h = lv["trivial"], lv["webhook"]
        errors = h["non_2xx"] + h["socket_errors"]
        print(
            f"{lv['connections']:>5} | {t['rps']:>13.0f} {t['p50_ms']:>6.1f}m {t['p99_ms']:>6.1f}m"
            f" | {h['rps']:>10.0f} {h['p50_ms']:>6.1f}m {h['p99_ms']:>6.1f}m {errors:>6}"
            f" {h['rps'] / t['rps']:>6.2f} | {lv['stored']} vs {lv['accepted']}: "
            f"{'ok' if lv['stored_ok'] else 'MISMATCH'}"
        )
    d = results["drain"]
    print(
        f"\nDrain: {d['orders']} distinct orders, {d['workers']} RQ workers: {d['seconds']} s, "
        f"{d['awards_per_s']} awards/s, {d['awards']} earn entries (one per order: "
        f"{d['awards'] == d['orders']})"
    )
    best = max(results["levels"], key=lambda lv: lv["webhook"]["rps"])
    best_p99 = (
        min(
            lv["webhook"]["p99_ms"]
            for lv in results["levels"]
            if lv["webhook"]["rps"] >= GOALS["webhooks_per_s"]
        )
        if any(lv["webhook"]["rps"] >= GOALS["webhooks_per_s"] for lv in results["levels"])
        else None
    )
    ratio = best["webhook"]["rps"] / best["trivial"]["rps"]
    print("\nGoals:")
    print(
        f"  >= {GOALS['webhooks_per_s']} accepted webhooks/s: best {best['webhook']['rps']:.0f}"
        f" at {best['connections']} connections  "
        f"{verdict(best['webhook']['rps'] >= GOALS['webhooks_per_s'])}"
    )
    print(
        f"  p99 < {GOALS['p99_ms']} ms at >= {GOALS['webhooks_per_s']}/s: "
        f"{'n/a' if best_p99 is None else f'{best_p99:.1f} ms'}  "
        f"{verdict(best_p99 is not None and best_p99 < GOALS['p99_ms'])}"
    )
    print(
        f"  >= {GOALS['ratio_to_trivial']} x trivial throughput: {ratio:.2f}  "
        f"{verdict(ratio >= GOALS['ratio_to_trivial'])}"
    )
    print(
        f"  drain >= {GOALS['awards_per_s']} awards/s: {d['awards_per_s']}  "
        f"{verdict(d['awards_per_s'] >= GOALS['awards_per_s'])}"
    )
    out_dir = ROOT / "benchmarks" / "results"
    out_dir.mkdir(exist_ok=True)
    out = out_dir / f"webhook_intake-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"\nRaw results: {out.relative_to(ROOT)}  (run id {uuid.uuid4().hex[:8]})")


if __name__ == "__main__":
    main()
