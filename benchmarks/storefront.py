"""Storefront benchmark: the widget's summary API under load, and what the widget costs the
storefront page in Lighthouse.

1. API: gunicorn + PostgreSQL + Redis (rate limits counted in Redis, as in production; the
   limits are raised so one load generator on 127.0.0.1 is not throttled). `--shoppers`
   members with history; wrk requests GET /storefront/v1/summary, each signed like a
   Shopify app proxy request, round-robin over the shoppers.
   - The trivial GET /healthz at 16 connections, for scale.
   - Maximum throughput at each of `--connections`.
   - Latency at a paced 500-700 requests/s (wrk's per-request delay across 20 connections).
2. Lighthouse (the `lighthouse` npm package, run with the system Chromium): the demo
   storefront page without the widget (?widget=0) and with it, `--lighthouse-runs` each,
   median performance score.

Only 127.0.0.1 is contacted. Needs wrk, PostgreSQL ($BENCH_PG_URL, creates database
loyalty_bench_storefront) and Redis ($BENCH_REDIS_URL, default db 12, flushed); installs
lighthouse into benchmarks/.node on first use.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

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
    wrk,
)
from plugin_server.demo import DEMO_REWARDS  # noqa: E402
from plugin_server.sandbox.storefront import proxy_signature  # noqa: E402
from plugin_server.simulate import shopify_order, sign_shopify  # noqa: E402

ADMIN_PG_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
DB_NAME = "loyalty_bench_storefront"
SHOP = "storefront-bench.myshopify.com"
SECRET = "bench-shopify-secret-0123456789abcdef"
BIN = Path(sys.executable).parent
NODE_DIR = ROOT / "benchmarks" / ".node"


def db_url() -> str:
    return f"{ADMIN_PG_URL.rsplit('/', 1)[0]}/{DB_NAME}"


def signed_path(customer: str) -> str:
    params = [
        ("shop", SHOP),
        ("logged_in_customer_id", customer),
        ("path_prefix", "/apps/loyalty"),
        ("timestamp", str(int(time.time()))),
    ]
    params.append(("signature", proxy_signature(params, SECRET)))
    return f"/storefront/v1/summary?{urlencode(params)}"


def lua(path: Path, shoppers: int, delay_ms: int | None) -> None:
    """Fresh signatures (app proxy requests are valid for 90 s), round-robin over shoppers."""
    paths = [signed_path(str(800_000 + i)) for i in range(shoppers)]
    lines = ["local paths = {" + ",".join(json.dumps(p) for p in paths) + "}", "local i = 0"]
    lines += [
        "request = function()",
        "  i = i % #paths + 1",
        "  return wrk.format('GET', paths[i])",
        "end",
    ]
    if delay_ms is not None:
        lines += [f"delay = function() return {delay_ms} end"]
    path.write_text("\n".join(lines) + "\n")


def api_phase(args: argparse.Namespace) -> dict[str, object]:
    reset_services(DB_NAME, REDIS_URL)
    env = service_env(
        db_url(),
        REDIS_URL,
        SECRET,
        LOYALTY_RATE_PER_SHOPPER="100000/minute",
        LOYALTY_RATE_PER_ADDRESS="10000000/minute",
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    procs = []
    try:
        run_cli(env, "db", "upgrade")
        api_key = json.loads(
            run_cli(env, "shops", "create", "--platform", "shopify", "--domain", SHOP)
        )["api_key"]
        procs.append(gunicorn(port, args.web_workers, args.threads, env))
        procs.append(start([str(BIN / "loyalty"), "worker"], env))
        wait_healthy(base)
        auth = {"Authorization": f"Bearer {api_key}"}
        session = requests.Session()
        for reward in DEMO_REWARDS[:3]:  # 50, 100 and 150 points
            session.post(f"{base}/api/v1/rewards", headers=auth, json=reward, timeout=5)
        for i in range(args.shoppers):  # two orders each: a history to show
            for n in range(2):
                delivery = sign_shopify(
                    shopify_order(
                        order_id=7_000_000 + i * 2 + n,
                        email=f"s{i}@example.com",
                        subtotal=Decimal("40.00") + n,
                        customer_id=800_000 + i,
                    ),
                    topic="orders/paid",
                    shop_domain=SHOP,
                    secret=SECRET,
                )
                session.post(
                    base + delivery.path, data=delivery.body, headers=delivery.headers, timeout=10
                )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with psycopg.connect(db_url()) as conn:
                row = conn.execute("SELECT count(*) FROM ledger_entries").fetchone()
            if row and row[0] == args.shoppers * 2:
                break
            time.sleep(0.3)
        probe = session.get(base + signed_path("800000"), timeout=5)
        if probe.status_code != 200 or probe.json()["member"]["balance"] != 81:
            raise SystemExit(f"summary probe failed: {probe.status_code} {probe.text}")

        script = Path(tempfile.mkdtemp()) / "summary.lua"
        results: dict[str, object] = {}
        lua(script, args.shoppers, None)
        wrk(base + "/healthz", 8, 3)  # warm up
        # The same server's trivial endpoint, for scale: this host's speed varies run to run.
        results["healthz_c16"] = wrk(base + "/healthz", 16, args.duration)
        for connections in args.connections:
            lua(script, args.shoppers, None)
            results[f"max_c{connections}"] = wrk(base, connections, args.duration, script)
        # wrk has no rate option: 20 connections each waiting 26 ms + the answer's latency
        # between requests offer 500-700/s (fewer the slower the answers); the achieved rate
        # is printed with it, and the goal counts only if it reached 475/s.
        lua(script, args.shoppers, 26)
        results["paced_500"] = wrk(base, 20, args.duration, script)
        return results
    finally:
        for proc in reversed(procs):
            stop(proc)


def lighthouse_phase(args: argparse.Namespace) -> dict[str, object]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("Lighthouse needs the system Chromium (apt-get install chromium)")
    cli = NODE_DIR / "node_modules" / ".bin" / "lighthouse"
    if not cli.exists():
        NODE_DIR.mkdir(parents=True, exist_ok=True)
        (NODE_DIR / "package.json").write_text('{"private": true}\n')
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "lighthouse@12"],
            cwd=NODE_DIR,
            check=True,
            capture_output=True,
        )
    instance = Path(tempfile.mkdtemp(prefix="loyalty-demo-"))
    app_port, store_port = free_port(), free_port()
    env = {**os.environ, "LOYALTY_INSTANCE_PATH": str(instance)}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    demo = start(
        [str(BIN / "loyalty"), "demo", "--port", str(app_port), "--sandbox-port", str(store_port)],
        env,
    )
    store = f"http://127.0.0.1:{store_port}/"
    try:
        wait_healthy(f"http://127.0.0.1:{app_port}")
        scores: dict[str, list[float]] = {"without_widget": [], "with_widget": []}
        for _ in range(args.lighthouse_runs):
            for name, url in (("without_widget", store + "?widget=0"), ("with_widget", store)):
                out = subprocess.run(
                    [
                        str(cli),
                        url,
                        "--only-categories=performance",
                        "--output=json",
                        "--quiet",
                        "--chrome-flags=--headless=new --no-sandbox",
                    ],
                    env={**os.environ, "CHROME_PATH": chromium},
                    capture_output=True,
                    text=True,
                    timeout=180,
                    check=True,
                ).stdout
                report = json.loads(out)
                scores[name].append(report["categories"]["performance"]["score"] * 100)
        medians = {k: statistics.median(v) for k, v in scores.items()}
        return {
            "runs": scores,
            "median": medians,
            "drop": round(medians["without_widget"] - medians["with_widget"], 1),
        }
    finally:
        stop(demo)


def goals(result: dict[str, Any]) -> dict[str, str]:
    """The issue's goals: >= 1,000 summaries/s; p99 < 50 ms at ~500/s; Lighthouse drop <= 2."""
    out: dict[str, str] = {}
    api = result.get("api")
    if api:
        best = max(v["rps"] for k, v in api.items() if k.startswith("max_"))
        out["summary_rps_at_least_1000"] = f"{'PASS' if best >= 1000 else 'MISS'} ({best:.0f}/s)"
        paced = api["paced_500"]
        ok = paced["p99_ms"] < 50 and paced["rps"] >= 475 and paced["non_2xx"] == 0
        out["p99_under_50ms_at_500_per_s"] = (
            f"{'PASS' if ok else 'MISS'} (p99 {paced['p99_ms']} ms at {paced['rps']:.0f}/s)"
        )
    lighthouse = result.get("lighthouse")
    if lighthouse:
        drop = lighthouse["drop"]
        out["lighthouse_drop_at_most_2"] = f"{'PASS' if drop <= 2 else 'MISS'} ({drop})"
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shoppers", type=int, default=500)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument(
        "--connections", type=lambda s: [int(x) for x in s.split(",")], default=[16, 32]
    )
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--lighthouse-runs", type=int, default=3)
    parser.add_argument("--skip-lighthouse", action="store_true")
    parser.add_argument("--skip-api", action="store_true")
    args = parser.parse_args()
    result: dict[str, Any] = {}
    if not args.skip_api:
        result["api"] = api_phase(args)
        print(json.dumps(result["api"]), file=sys.stderr, flush=True)
    if not args.skip_lighthouse:
        result["lighthouse"] = lighthouse_phase(args)
    result["goals"] = goals(result)
    print(json.dumps(result, indent=2))
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / f"storefront-{time.strftime('%Y%m%dT%H%M%S')}.json").write_text(
        json.dumps(result, indent=2)
    )


if __name__ == "__main__":
    main()
