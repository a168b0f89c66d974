"""Prove it under faults: the Procfile's processes on their own PostgreSQL and Redis, a
load generator playing Shopify (signed order, refund and cancellation webhooks, duplicated
and out of order, retried until answered) and shoppers redeeming, and one injected fault
per scenario; then the invariants, checked.

Scenarios (`--scenarios`, all by default, each on its own shop):
  web       kill -9 of the web server (gunicorn master and workers) mid-load; restarted
  worker    kill -9 of the RQ worker mid-drain; restarted (its claims are released by the
            scheduler after 5 minutes: the app's clock is moved on 6 minutes)
  postgres  PostgreSQL stopped for ~10 s under load, then started again
  redis     Redis stopped under load, then started again (empty, as after a crash)
  platform  the Shopify API down (every request 503) while shoppers redeem; the app's clock
            is moved on an hour during the outage; redemptions stay pending, then are issued
  storm     a duplicate/out-of-order storm against 2 web + 3 worker processes, and the same
            storm against 1 + 1: the final balances must be the same (both printed)

After each scenario it waits for the queues to drain and checks: `loyalty check --json`;
every webhook that got a 2xx applied exactly once (one earn entry per paid order; its
reversals add up to what its refunds and cancellation call for); each balance the API
reports = the sum of its ledger entries = what the plan calls for; every redemption issued
or refunded; no 5xx outside the injected outage windows. PASS/FAIL per scenario.

Everything runs on 127.0.0.1 in a temporary directory: PostgreSQL (initdb + pg_ctl, as the
`postgres` user when run as root), redis-server, `loyalty sandbox`, gunicorn, `loyalty
worker`, `loyalty scheduler`. Nothing shared is touched. The processes run with
LOYALTY_DEVELOPMENT=1 only so that the app's clock can be moved (the demo clock file).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


from plugin_server.simulate import shopify_order, shopify_refund, sign_shopify  # noqa: E402

BIN = Path(sys.executable).parent
SECRET = "faults-shopify-secret-0123456789abcdef"
TOKEN = "shpat_faults_token"
REWARD_COST = 50
SCENARIOS = ("web", "worker", "postgres", "redis", "platform", "storm")
# A 5xx this long after an injected outage ended still belongs to it (a request that
# started inside the window).
OUTAGE_GRACE_S = 5.0


# --- the plan: what the store sends and what it must add up to ----------------------------


@dataclass(frozen=True)
class Send:
    """One HTTP delivery the load generator makes (retried until answered)."""

    kind: str  # "webhook" | "redeem"
    key: str  # webhook id (the same on every retry and duplicate) or Idempotency-Key
    topic: str = ""
    payload: dict[str, Any] = field(default_factory=dict)
    customer: int = 0
    order_id: int = 0


@dataclass
class Plan:
    customers: list[int]
    seed_sends: list[Send]  # one paid order per customer, before the load
    sends: list[Send]  # the load, shuffled: refunds may come before their payment
    expected_order_points: dict[int, int]  # net points per order once everything is applied
    order_customer: dict[int, int]
    earned: dict[int, int]  # what each paid order earns
    adjustments: dict[int, int]  # points given by hand before the load, per customer
    redeem_keys: list[str]

    def expected_balance(self, redeemed: dict[int, int]) -> dict[int, int]:
        """Per customer: orders' net points + adjustments - points of codes issued."""
        out: dict[int, int] = defaultdict(int)
        for order_id, points in self.expected_order_points.items():
            out[self.order_customer[order_id]] += points
        for customer, points in self.adjustments.items():
            out[customer] += points
        for customer, points in redeemed.items():
            out[customer] -= points
        return dict(out)


def make_plan(
    *,
    seed: int,
    tag: str,
    orders: int,
    customers: int,
    redeemers: int,
    redemptions_each: int,
    duplicates: float = 0.3,
    redelivered_as_new: float = 0.1,
    copies: int = 1,
) -> Plan:
    """A deterministic plan for one shop. Every order is paid; some are refunded (money
    only, whole currency units, so the points to take back are exact), some cancelled.
    A share of deliveries is sent twice under the same webhook id (a Shopify retry), a
    share again under a new id (the same facts delivered twice); `copies` sends the whole
    load that many times (a storm). Everything is shuffled."""
    rng = random.Random(seed)
    base_customer = 5_000_000
    base_order = 7_000_000_000
    cust = [base_customer + i for i in range(customers)]
    seed_sends: list[Send] = []
    sends: list[Send] = []
    expected: dict[int, int] = {}
    earned: dict[int, int] = {}
    order_customer: dict[int, int] = {}

    def paid(order_id: int, customer: int, subtotal: int, **kw: Any) -> dict[str, Any]:
        return shopify_order(
            order_id=order_id,
            email=f"c{customer}@example.com",
            subtotal=Decimal(subtotal),
            customer_id=customer,
            **kw,
        )

    for i, customer in enumerate(cust):
        order_id = base_order + i
        subtotal = 10 + rng.randrange(40)
        order_customer[order_id], earned[order_id] = customer, subtotal
        expected[order_id] = subtotal
        seed_sends.append(
            Send(
                "webhook",
                f"{tag}-seed-{i}",
                "orders/paid",
                paid(order_id, customer, subtotal),
                customer,
                order_id,
            )
        )
    for i in range(orders):
        order_id = base_order + 100_000 + i
        customer = cust[rng.randrange(customers)]
        subtotal = 10 + rng.randrange(90)
        order_customer[order_id], earned[order_id] = customer, subtotal
        mine = [
            Send(
                "webhook",
                f"{tag}-paid-{i}",
                "orders/paid",
                paid(order_id, customer, subtotal),
                customer,
                order_id,
            )
        ]
        net = subtotal
        roll = rng.random()
        if roll < 0.35:
            refunded = 1 + rng.randrange(subtotal // 2)
            refund = shopify_refund(
                refund_id=order_id * 10 + 7,
                order_id=order_id,
                line_item_id=None,
                subtotal=Decimal(refunded),
            )
            mine.append(
                Send("webhook", f"{tag}-refund-{i}", "refunds/create", refund, customer, order_id)
            )
            net -= refunded
        elif roll < 0.45:
            body = paid(order_id, customer, subtotal, cancelled=True, financial_status="voided")
            mine.append(
                Send("webhook", f"{tag}-cancel-{i}", "orders/cancelled", body, customer, order_id)
            )
            net = 0
        expected[order_id] = net
        extra = []
        for s in mine:
            if rng.random() < duplicates:
                extra.append(s)  # a retry: the same webhook id
            if rng.random() < redelivered_as_new:
                extra.append(
                    Send(s.kind, s.key + "-again", s.topic, s.payload, s.customer, s.order_id)
                )
        sends += mine + extra
    adjustments: dict[int, int] = {}
    redeem_keys: list[str] = []
    for j in range(redeemers):
        customer = cust[j % customers]
        adjustments[customer] = adjustments.get(customer, 0) + REWARD_COST * redemptions_each
        for k in range(redemptions_each):
            key = f"{tag}-redeem-{j}-{k}"
            redeem_keys.append(key)
            sends.append(Send("redeem", key, customer=customer))
    sends = sends * copies
    rng.shuffle(sends)
    return Plan(
        customers=cust,
        seed_sends=seed_sends,
        sends=sends,
        expected_order_points=expected,
        order_customer=order_customer,
        earned=earned,
        adjustments=adjustments,
        redeem_keys=redeem_keys,
    )


# --- the load generator -------------------------------------------------------------------


@dataclass
class Answer:
    at: float
    status: int | None  # None: no answer (connection refused or reset, timeout)


@dataclass
class Outcome:
    """Every attempt of one Send, and whether it was finally accepted."""

    send: Send
    answers: list[Answer] = field(default_factory=list)
    body: dict[str, Any] | None = None

    @property
    def accepted(self) -> bool:
        return (
            bool(self.answers)
            and self.answers[-1].status is not None
            and (200 <= (self.answers[-1].status or 0) < 300)
        )


def retryable(status: int | None) -> bool:
    """What Shopify (and a shopper's widget) would try again: no answer, a 5xx, or 429."""
    return status is None or status >= 500 or status == 429


def deliver(
    post: Callable[[], tuple[int, dict[str, Any] | None]],
    outcome: Outcome,
    *,
    give_up_after_s: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    """Post until the answer is not retryable, backing off 0.2 s doubling to 3 s, for at
    most `give_up_after_s`; every attempt is recorded with its time."""
    deadline = clock() + give_up_after_s
    delay = 0.2
    while True:
        try:
            status, body = post()
        except requests.RequestException:
            status, body = None, None
        outcome.answers.append(Answer(time.time(), status))
        if not retryable(status):
            outcome.body = body
            return outcome
        if clock() + delay > deadline:
            return outcome
        sleep(delay)
        delay = min(delay * 2, 3.0)


class LoadGenerator:
    def __init__(self, bases: list[str], shop: str, api_key: str, reward_id: int) -> None:
        self.bases, self.shop, self.api_key, self.reward_id = bases, shop, api_key, reward_id
        self._local = threading.local()

    def _session(self) -> requests.Session:
        if not hasattr(self._local, "s"):
            self._local.s = requests.Session()
        return self._local.s

    def post(self, send: Send, n: int) -> tuple[int, dict[str, Any] | None]:
        base = self.bases[n % len(self.bases)]
        s = self._session()
        if send.kind == "webhook":
            d = sign_shopify(
                send.payload,
                topic=send.topic,
                shop_domain=self.shop,
                secret=SECRET,
                delivery_id=send.key,
            )
            r = s.post(base + d.path, data=d.body, headers=d.headers, timeout=10)
            return r.status_code, None
        r = s.post(
            f"{base}/api/v1/customers/{send.customer}/redemptions",
            headers={"Authorization": f"Bearer {self.api_key}", "Idempotency-Key": send.key},
            json={"reward_id": self.reward_id},
            timeout=15,
        )
        try:
            body = r.json()
        except ValueError:
            body = None
        return r.status_code, body

    def run(
        self, sends: list[Send], *, seconds: float, threads: int, give_up_after_s: float = 120
    ) -> list[Outcome]:
        """Spread the sends over about `seconds` from `threads` threads."""
        began = time.monotonic()
        gap = seconds / max(len(sends), 1)

        def one(item: tuple[int, Send]) -> Outcome:
            n, send = item
            wait = began + n * gap - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            out = Outcome(send)
            attempt = iter(range(n, n + 10_000))
            return deliver(
                lambda: self.post(send, next(attempt)), out, give_up_after_s=give_up_after_s
            )

        with ThreadPoolExecutor(threads) as pool:
            return list(pool.map(one, enumerate(sends)))


def unexpected_5xx(outcomes: Iterable[Outcome], windows: list[tuple[float, float]]) -> int:
    """5xx answers outside every injected outage window (plus OUTAGE_GRACE_S)."""
    return sum(
        1
        for o in outcomes
        for a in o.answers
        if a.status is not None
        and a.status >= 500
        and not any(start <= a.at <= end + OUTAGE_GRACE_S for start, end in windows)
    )


# --- the processes ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """Own PostgreSQL, Redis and sandbox; the app's processes, supervised (restarted when
    they exit, as the Procfile's process manager would) unless stopped on purpose."""

    def __init__(self, workdir: Path) -> None:
        self.dir = workdir
        self.logs = workdir / "logs"
        self.logs.mkdir(parents=True)
        self.pg_port, self.redis_port, self.sandbox_port = free_port(), free_port(), free_port()
        self.pg_data = workdir / "pg"
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.commands: dict[str, list[str]] = {}
        self.restarts: Counter[str] = Counter()
        self.held: set[str] = set()  # stopped on purpose: not restarted
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self.instance = workdir / "instance"
        self.instance.mkdir()
        self.env = {
            **os.environ,
            "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{self.pg_port}/loyalty",
            "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "LOYALTY_SECRET_KEY": "faults-secret-key-0123456789",
            "SHOPIFY_API_SECRET": SECRET,
            "SHOPIFY_API_KEY": "faults-client-id",
            "LOYALTY_INSTANCE_PATH": str(self.instance),
            "LOYALTY_DEVELOPMENT": "1",  # only for the movable clock (see the docstring)
            "LOYALTY_LOG_FORMAT": "text",
            "LOYALTY_RECONCILE_MINUTES": "0",
            "WEB_CONCURRENCY": "2",
        }
        self.sandbox_url = f"http://127.0.0.1:{self.sandbox_port}"

    # PostgreSQL and Redis

    def _as_postgres(self, cmd: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd

    def pg_bin(self, name: str) -> str:
        found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
        return str(found[-1]) if found else name

    def start_postgres(self, *, init: bool = False) -> None:
        if init:
            if os.geteuid() == 0:
                shutil.chown(self.dir, "postgres")
            subprocess.run(
                self._as_postgres(
                    [
                        self.pg_bin("initdb"),
                        "-D",
                        str(self.pg_data),
                        "-A",
                        "trust",
                        "-U",
                        "postgres",
                        "--no-sync",
                        "-E",
                        "UTF8",
                    ]
                ),
                check=True,
                capture_output=True,
            )
        subprocess.run(
            self._as_postgres(
                [
                    self.pg_bin("pg_ctl"),
                    "-D",
                    str(self.pg_data),
                    "-w",
                    "-l",
                    str(self.dir / "postgres.log"),
                    "-o",
                    f"-p {self.pg_port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                    "-c fsync=off -c max_connections=200",
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
        )
        if init:
            with psycopg.connect(
                f"postgresql://postgres@127.0.0.1:{self.pg_port}/postgres", autocommit=True
            ) as conn:
                conn.execute("CREATE DATABASE loyalty")

    def stop_postgres(self) -> None:
        subprocess.run(
            self._as_postgres(
                [self.pg_bin("pg_ctl"), "-D", str(self.pg_data), "-m", "immediate", "-w", "stop"]
            ),
            check=False,
            capture_output=True,
        )

    def start_redis(self) -> None:
        self.redis = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
            ],
            stdout=(self.logs / "redis.log").open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.redis_port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise SystemExit("redis-server did not start")

    def kill_redis(self) -> None:
        os.killpg(self.redis.pid, signal.SIGKILL)
        self.redis.wait()

    # app processes

    def start(self, name: str, cmd: list[str]) -> None:
        with self._lock:
            self.commands[name] = cmd
            self.held.discard(name)
            log = (self.logs / f"{name}.log").open("ab")
            self.procs[name] = subprocess.Popen(
                cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def web(self, name: str, port: int) -> str:
        self.start(
            name,
            [
                str(BIN / "gunicorn"),
                "-c",
                str(ROOT / "gunicorn.conf.py"),
                "plugin_server.wsgi:app",
                "--bind",
                f"127.0.0.1:{port}",
            ],
        )
        return f"http://127.0.0.1:{port}"

    def kill(self, name: str, *, hold: bool = False) -> None:
        """kill -9 of the process and its children (gunicorn's workers)."""
        with self._lock:
            if hold:
                self.held.add(name)
            proc = self.procs[name]
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def stop(self, name: str) -> None:
        with self._lock:
            self.held.add(name)
            proc = self.procs.pop(name, None)
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def restart(self, name: str) -> None:
        self.start(name, self.commands[name])

    def supervise(self) -> None:
        def loop() -> None:
            while not self._stop.wait(1.0):
                with self._lock:
                    for name, proc in list(self.procs.items()):
                        if proc.poll() is not None and name not in self.held:
                            self.restarts[name] += 1
                            self.start(name, self.commands[name])

        threading.Thread(target=loop, daemon=True).start()

    def shutdown(self) -> None:
        self._stop.set()
        for name in list(self.procs):
            self.stop(name)
        self.stop_postgres()
        if self.redis.poll() is None:
            self.kill_redis()

    # helpers

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "loyalty"), *args],
            env=self.env,
            check=check,
            capture_output=True,
            text=True,
            timeout=180,
        )

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.env["DATABASE_URL"]) as conn:
            return list(conn.execute(query, params).fetchall())

    def advance_clock(self, seconds: float) -> None:
        """Move the app's clock (every process reads the demo clock file on each call)."""
        path = self.instance / "demo-clock-offset"
        try:
            now = float(path.read_text())
        except (OSError, ValueError):
            now = 0.0
        path.write_text(str(now + seconds))


def wait_http(url: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer")


# --- one scenario -------------------------------------------------------------------------


@dataclass
class Shop:
    id: int
    domain: str
    api_key: str
    reward_id: int


def create_shop(cluster: Cluster, base: str, domain: str) -> Shop:
    requests.post(
        f"{cluster.sandbox_url}/_sandbox/shopify/{domain}/outage", json={"seconds": 0}, timeout=5
    )
    created = json.loads(
        cluster.cli(
            "shops",
            "create",
            "--platform",
            "shopify",
            "--domain",
            domain,
            "--access-token",
            TOKEN,
            "--api-base-url",
            cluster.sandbox_url,
        ).stdout
    )
    reward = requests.post(
        f"{base}/api/v1/rewards",
        headers={"Authorization": f"Bearer {created['api_key']}"},
        json={
            "name": "$5 off",
            "kind": "fixed_amount",
            "points_cost": REWARD_COST,
            "amount": "5.00",
            "currency": "USD",
        },
        timeout=10,
    )
    reward.raise_for_status()
    return Shop(int(created["id"]), domain, created["api_key"], int(reward.json()["id"]))


def prepare(cluster: Cluster, base: str, shop: Shop, plan: Plan) -> None:
    """Seed orders (customers exist), then the adjustments that redemptions spend."""
    gen = LoadGenerator([base], shop.domain, shop.api_key, shop.reward_id)
    seeded = gen.run(plan.seed_sends, seconds=0, threads=4)
    if not all(o.accepted for o in seeded):
        raise SystemExit("seed orders were not accepted")
    wait_drained(cluster, shop, timeout_s=120)
    for customer, points in plan.adjustments.items():
        r = requests.post(
            f"{base}/api/v1/customers/{customer}/adjustments",
            headers={
                "Authorization": f"Bearer {shop.api_key}",
                "Idempotency-Key": f"adjust-{shop.domain}-{customer}",
            },
            json={"points": points, "reason": "faults: points to redeem"},
            timeout=10,
        )
        if r.status_code not in (200, 201):
            raise SystemExit(f"adjustment failed: {r.status_code} {r.text}")


def backlog(cluster: Cluster, shop: Shop) -> tuple[int, int]:
    rows = cluster.sql(
        "SELECT (SELECT count(*) FROM webhook_receipts WHERE shop_id = %s "
        "AND status IN ('pending', 'processing')), "
        "(SELECT count(*) FROM redemptions WHERE shop_id = %s AND status = 'pending')",
        shop.id,
        shop.id,
    )
    return int(rows[0][0]), int(rows[0][1])


def claims_only(cluster: Cluster, shop: Shop) -> int:
    """Receipts still claimed when nothing else is left (0 otherwise)."""
    rows = dict(
        cluster.sql(
            "SELECT status, count(*) FROM webhook_receipts WHERE shop_id = %s "
            "AND status IN ('pending', 'processing') GROUP BY status",
            shop.id,
        )
    )
    return int(rows["processing"]) if rows.keys() == {"processing"} else 0


def wait_drained(
    cluster: Cluster, shop: Shop, *, timeout_s: float, stuck_after_s: float = 10.0
) -> tuple[float, tuple[int, int], int]:
    """Wait until no receipt is pending or claimed and no code pending. Receipts claimed by
    a drain that died (killed, or its database connection lost mid-batch) go back to
    pending after STALE_CLAIM (5 minutes): when only such claims are left and they have not
    moved for `stuck_after_s`, the app's clock moves on 6 minutes, once. Returns the
    seconds waited, what was left, and how many claims the clock move released (0: none)."""
    began = time.monotonic()
    left = (0, 0)
    released = 0
    stuck_since: float | None = None
    while time.monotonic() - began < timeout_s:
        try:
            left = backlog(cluster, shop)
            claimed = claims_only(cluster, shop)
        except psycopg.Error:
            left, claimed = (-1, -1), 0
        if left == (0, 0):
            break
        if claimed and not released:
            stuck_since = stuck_since or time.monotonic()
            if time.monotonic() - stuck_since >= stuck_after_s:
                cluster.advance_clock(6 * 60)
                released = claimed
        else:
            stuck_since = None
        time.sleep(0.5)
    return time.monotonic() - began, left, released


@dataclass
class Result:
    name: str
    ok: bool
    lines: list[str]
    balances: dict[int, int] = field(default_factory=dict)


def verify(
    cluster: Cluster,
    base: str,
    shop: Shop,
    plan: Plan,
    outcomes: list[Outcome],
    windows: list[tuple[float, float]],
    drained: tuple[float, tuple[int, int], int],
) -> Result:
    lines: list[str] = []
    ok = True

    def line(passed: bool, text: str) -> None:
        nonlocal ok
        ok = ok and passed
        lines.append(f"  {'ok  ' if passed else 'FAIL'} {text}")

    webhooks = [o for o in outcomes if o.send.kind == "webhook"]
    redeems = [o for o in outcomes if o.send.kind == "redeem"]
    answers = [a for o in outcomes for a in o.answers]
    statuses = Counter("no answer" if a.status is None else f"{a.status // 100}xx" for a in answers)
    lines.append(
        f"  sent {len(outcomes)} ({len(webhooks)} webhooks, {len(redeems)} redemptions) in "
        f"{len(answers)} attempts: " + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items()))
    )
    seconds, left, released = drained
    line(left == (0, 0), f"drained in {seconds:.1f} s (receipts, codes still pending: {left})")
    if released:
        lines.append(
            f"  {released} receipts stayed claimed by a drain that died: the clock moved on "
            "6 min, the scheduler returned them (STALE_CLAIM, 5 min)"
        )
    accepted = [o for o in webhooks if o.accepted]
    line(len(accepted) == len(webhooks), f"webhooks answered 2xx: {len(accepted)}/{len(webhooks)}")
    bad_5xx = unexpected_5xx(outcomes, windows)
    in_window = sum(1 for a in answers if a.status is not None and a.status >= 500) - bad_5xx
    line(bad_5xx == 0, f"5xx outside the outage windows: {bad_5xx} (inside: {in_window})")

    check = cluster.cli(
        "check", "--json", "--shop", str(shop.id), "--settle-minutes", "0", check=False
    )
    try:
        report = json.loads(check.stdout)
        broken = {c["name"]: c["broken"] for c in report["checks"] if c["broken"]}
        line(
            bool(report["ok"]),
            f"loyalty check --json: {sum(c['checked'] for c in report['checks'])} checked, "
            f"broken {broken or 'none'}",
        )
    except (ValueError, KeyError):
        line(False, f"loyalty check --json did not answer: {check.stderr[-300:]}")

    # Every accepted webhook applied exactly once: per order one earn entry, and its
    # reversals add up to what the plan's refunds and cancellation call for.
    rows = cluster.sql(
        "SELECT source_ref, kind, count(*), sum(points) FROM ledger_entries WHERE shop_id = %s "
        "AND kind IN ('earn_order', 'reverse_order') GROUP BY source_ref, kind",
        shop.id,
    )
    earn_count: dict[int, int] = {}
    net: dict[int, int] = defaultdict(int)
    for ref, kind, n, points in rows:
        if kind == "earn_order":
            earn_count[int(ref)] = int(n)
        net[int(ref)] += int(points)
    orders = plan.expected_order_points
    once = sum(1 for o in orders if earn_count.get(o) == 1)
    line(
        once == len(orders),
        f"orders with exactly one earn entry: {once}/{len(orders)}"
        + (f" (counts seen: {sorted(set(earn_count.values()))})" if once != len(orders) else ""),
    )
    right = sum(1 for o, points in orders.items() if net.get(o, 0) == points)
    line(
        right == len(orders),
        f"orders whose net points match their refunds/cancellation: {right}/{len(orders)}",
    )

    # Redemptions: every accepted one issued, or failed with its points returned.
    red = cluster.sql(
        "SELECT r.status, count(*), sum(r.points) FROM redemptions r WHERE r.shop_id = %s "
        "GROUP BY r.status",
        shop.id,
    )
    by_status = {s: (int(n), int(p)) for s, n, p in red}
    accepted_redeems = sum(1 for o in redeems if o.accepted)
    distinct = len({o.send.key for o in redeems})  # a storm sends each key several times
    total = sum(n for n, _ in by_status.values())
    settled = sum(by_status.get(s, (0, 0))[0] for s in ("issued", "used", "failed", "expired"))
    line(
        accepted_redeems == len(redeems) and distinct == total == settled,
        f"redemptions accepted {accepted_redeems}/{len(redeems)}, recorded {total} "
        f"(one per Idempotency-Key: {distinct}), "
        f"by status {dict(sorted((s, n) for s, (n, _) in by_status.items()))}",
    )
    refunded = cluster.sql(
        "SELECT count(*) FROM redemptions r WHERE r.shop_id = %s AND r.status = 'failed' "
        "AND NOT EXISTS (SELECT 1 FROM ledger_entries e WHERE e.shop_id = r.shop_id "
        "AND e.kind = 'redeem_refund' AND e.source_ref = CAST(r.id AS TEXT))",
        shop.id,
    )
    codes = requests.get(
        f"{cluster.sandbox_url}/_sandbox/shopify/{shop.domain}/discounts", timeout=10
    ).json()["discounts"]
    issued_codes = sum(by_status.get(s, (0, 0))[0] for s in ("issued", "used", "expired"))
    line(
        int(refunded[0][0]) == 0 and len(codes) == issued_codes,
        f"failed redemptions without their points back: {refunded[0][0]}; codes at the store "
        f"{len(codes)} = issued {issued_codes}",
    )

    # Balances: API = sum of entries = the plan.
    spent = cluster.sql(
        "SELECT c.customer_ref, sum(r.points) FROM redemptions r JOIN customers c "
        "ON c.id = r.customer_id WHERE r.shop_id = %s AND r.status <> 'failed' "
        "GROUP BY c.customer_ref",
        shop.id,
    )
    expected = plan.expected_balance({int(ref): int(p) for ref, p in spent})
    sums = {
        int(ref): int(p)
        for ref, p in cluster.sql(
            "SELECT c.customer_ref, sum(e.points) FROM ledger_entries e JOIN customers c "
            "ON c.id = e.customer_id WHERE e.shop_id = %s GROUP BY c.customer_ref",
            shop.id,
        )
    }
    api: dict[int, int] = {}
    with requests.Session() as s:
        for customer in plan.customers:
            r = s.get(
                f"{base}/api/v1/customers/{customer}",
                headers={"Authorization": f"Bearer {shop.api_key}"},
                timeout=10,
            )
            api[customer] = int(r.json()["balance"]) if r.status_code == 200 else -(10**9)
    same_api = sum(1 for c in plan.customers if api[c] == sums.get(c))
    same_plan = sum(1 for c in plan.customers if sums.get(c) == expected.get(c, 0))
    line(
        same_api == len(plan.customers),
        f"balances: API = sum of entries for {same_api}/{len(plan.customers)} customers",
    )
    line(
        same_plan == len(plan.customers),
        f"balances = the plan for {same_plan}/{len(plan.customers)} customers "
        f"(total {sum(sums.values())} vs {sum(expected.values())})",
    )
    restarts = dict(cluster.restarts)
    if restarts:
        lines.append(f"  processes restarted by the supervisor: {restarts}")
        cluster.restarts.clear()
    return Result("", ok, lines, {c: sums.get(c, 0) for c in plan.customers})


class Harness:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.cluster = Cluster(Path(tempfile.mkdtemp(prefix="loyalty-faults-")))
        self.web_port = free_port()
        self.base = ""
        self.n = 0
        self.killed_with_claims = 0

    def up(self) -> None:
        c = self.cluster
        c.start_postgres(init=True)
        c.start_redis()
        c.start(
            "sandbox",
            [str(BIN / "loyalty"), "sandbox", "--port", str(c.sandbox_port), "--smtp-port", "0"],
        )
        c.cli("db", "upgrade")
        self.base = c.web("web", self.web_port)
        c.start("worker", [str(BIN / "loyalty"), "worker"])
        c.start("scheduler", [str(BIN / "loyalty"), "scheduler", "--interval", "2"])
        c.supervise()
        wait_http(self.base + "/healthz")
        wait_http(c.sandbox_url + "/_sandbox/emails")

    def plan(self, tag: str, **kw: Any) -> Plan:
        a = self.args
        defaults = dict(
            orders=a.orders, customers=a.customers, redeemers=a.redeemers, redemptions_each=2
        )
        return make_plan(seed=a.seed, tag=tag, **{**defaults, **kw})

    def scenario(
        self,
        name: str,
        inject: Callable[[Shop], list[tuple[float, float]]],
        *,
        plan_kw: dict[str, Any] | None = None,
        bases: list[str] | None = None,
        threads: int = 6,
        domain: str | None = None,
    ) -> Result:
        self.n += 1
        tag = f"{name.split()[0]}-{self.n}"  # webhook ids and Idempotency-Keys: no spaces
        shop = create_shop(self.cluster, self.base, domain or f"{tag}.myshopify.com")
        plan = self.plan(tag, **(plan_kw or {}))
        prepare(self.cluster, self.base, shop, plan)
        gen = LoadGenerator(bases or [self.base], shop.domain, shop.api_key, shop.reward_id)
        windows: list[tuple[float, float]] = []
        injector = threading.Thread(target=lambda: windows.extend(inject(shop)))
        began = time.monotonic()
        injector.start()
        outcomes = gen.run(plan.sends, seconds=self.args.load_seconds, threads=threads)
        injector.join()
        load_s = time.monotonic() - began
        drained = wait_drained(self.cluster, shop, timeout_s=self.args.drain_timeout)
        result = verify(self.cluster, self.base, shop, plan, outcomes, windows, drained)
        result.name = name
        result.lines.insert(
            0,
            f"  load {load_s:.1f} s; injected windows: "
            + ", ".join(f"{e - s:.1f} s" for s, e in windows),
        )
        return result

    # the faults

    def web_kill(self) -> Result:
        def inject(shop: Shop) -> list[tuple[float, float]]:
            time.sleep(self.args.load_seconds * 0.4)
            start = time.time()
            self.cluster.kill("web", hold=True)
            time.sleep(1.0)
            self.cluster.restart("web")
            wait_http(self.base + "/healthz")
            return [(start, time.time())]

        return self.scenario("web", inject)

    def worker_kill(self) -> Result:
        c = self.cluster

        def inject(shop: Shop) -> list[tuple[float, float]]:
            # Let a backlog build with the worker stopped, then kill it while it drains.
            c.kill("worker", hold=True)
            time.sleep(self.args.load_seconds * 0.5)
            c.restart("worker")
            deadline = time.monotonic() + 30
            claimed = 0
            with psycopg.connect(c.env["DATABASE_URL"], autocommit=True) as conn:
                while time.monotonic() < deadline and not claimed:  # mid-drain: claims held
                    row = conn.execute(
                        "SELECT count(*) FROM webhook_receipts WHERE shop_id = %s "
                        "AND status = 'processing'",
                        (shop.id,),
                    ).fetchone()
                    claimed = int(row[0]) if row else 0
                    if not claimed:
                        time.sleep(0.005)
            start = time.time()
            c.kill("worker", hold=True)
            self.killed_with_claims = int(claimed)
            time.sleep(1.0)
            c.restart("worker")
            return [(start, time.time())]

        self.killed_with_claims = 0
        result = self.scenario("worker", inject)
        result.lines.insert(
            1, f"  worker killed holding {self.killed_with_claims} claimed receipts"
        )
        return result

    def postgres_down(self) -> Result:
        def inject(shop: Shop) -> list[tuple[float, float]]:
            time.sleep(self.args.load_seconds * 0.3)
            start = time.time()
            self.cluster.stop_postgres()
            time.sleep(10)
            self.cluster.start_postgres()
            return [(start, time.time())]

        return self.scenario("postgres", inject)

    def redis_down(self) -> Result:
        def inject(shop: Shop) -> list[tuple[float, float]]:
            time.sleep(self.args.load_seconds * 0.3)
            start = time.time()
            self.cluster.kill_redis()
            time.sleep(8)
            self.cluster.start_redis()
            return [(start, time.time())]

        return self.scenario("redis", inject)

    def platform_down(self) -> Result:
        c = self.cluster
        stats: dict[str, Any] = {}

        def inject(shop: Shop) -> list[tuple[float, float]]:
            outage = f"{c.sandbox_url}/_sandbox/shopify/{shop.domain}/outage"
            start = time.time()
            requests.post(outage, json={"seconds": 3600}, timeout=5)
            time.sleep(self.args.load_seconds + 2)
            # "An hour" down: the app's clock moves on an hour while the API is still
            # down (the scheduler retries what is stale), then the API comes back.
            c.advance_clock(3600)
            time.sleep(6)
            stats["pending_at_peak"] = backlog(c, shop)[1]
            requests.post(outage, json={"seconds": 0}, timeout=5)
            return [(start, time.time())]

        result = self.scenario(
            "platform",
            inject,
            plan_kw={
                "orders": max(self.args.orders // 3, 10),
                "redeemers": self.args.redeemers * 2,
            },
        )
        result.lines.insert(
            1, f"  redemptions pending while the API was down: {stats.get('pending_at_peak')}"
        )
        return result

    def storm(self) -> tuple[Result, Result]:
        c = self.cluster
        kw = {"copies": 3, "duplicates": 0.5, "redelivered_as_new": 0.3}
        # One web, one worker.
        one = self.scenario(
            "storm 1 web + 1 worker",
            lambda shop: [],
            plan_kw=kw,
            threads=12,
            domain=f"storm-one-{self.args.seed}.myshopify.com",
        )
        # Two web servers, three workers: the same plan on a shop of its own.
        port2 = free_port()
        base2 = c.web("web2", port2)
        c.start("worker2", [str(BIN / "loyalty"), "worker"])
        c.start("worker3", [str(BIN / "loyalty"), "worker"])
        wait_http(base2 + "/healthz")
        try:
            many = self.scenario(
                "storm 2 web + 3 workers",
                lambda shop: [],
                plan_kw=kw,
                threads=12,
                bases=[self.base, base2],
                domain=f"storm-many-{self.args.seed}.myshopify.com",
            )
        finally:
            for name in ("web2", "worker2", "worker3"):
                c.stop(name)
        same = one.balances == many.balances
        many.ok = many.ok and same
        many.lines.append(
            f"  {'ok  ' if same else 'FAIL'} final balances equal to 1 web + 1 worker: {same} "
            f"({sum(1 for k in one.balances if one.balances[k] == many.balances.get(k))}"
            f"/{len(one.balances)} customers)"
        )
        many.lines.append(
            "  balances (customer: 1+1 | 2+3): "
            + ", ".join(
                f"{k}: {one.balances[k]}|{many.balances.get(k)}" for k in sorted(one.balances)
            )
        )
        return one, many


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help=f"comma-separated, from {', '.join(SCENARIOS)}",
    )
    parser.add_argument("--orders", type=int, default=120, help="orders per scenario")
    parser.add_argument("--customers", type=int, default=25)
    parser.add_argument(
        "--redeemers", type=int, default=8, help="customers redeeming twice each per scenario"
    )
    parser.add_argument(
        "--load-seconds", type=float, default=12.0, help="the load is spread over about this long"
    )
    parser.add_argument("--drain-timeout", type=float, default=150.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    chosen = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = set(chosen) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    if not shutil.which("redis-server"):
        raise SystemExit("redis-server is required (apt-get install redis-server)")

    h = Harness(args)
    began = time.monotonic()
    results: list[Result] = []
    try:
        h.up()
        runs: dict[str, Callable[[], Any]] = {
            "web": h.web_kill,
            "worker": h.worker_kill,
            "postgres": h.postgres_down,
            "redis": h.redis_down,
            "platform": h.platform_down,
            "storm": h.storm,
        }
        for name in chosen:
            t0 = time.monotonic()
            got = runs[name]()
            for r in got if isinstance(got, tuple) else (got,):
                results.append(r)
                print(f"\n[{'PASS' if r.ok else 'FAIL'}] {r.name} ({time.monotonic() - t0:.0f} s)")
                print("\n".join(r.lines), flush=True)
    finally:
        h.cluster.shutdown()
        if args.keep or not all(r.ok for r in results):
            print(f"\nlogs kept in {h.cluster.dir}/logs")
        else:
            shutil.rmtree(h.cluster.dir, ignore_errors=True)
    passed = sum(r.ok for r in results)
    print(f"\n{passed}/{len(results)} scenarios PASS in {time.monotonic() - began:.0f} s")
    sys.exit(0 if passed == len(results) and results else 1)


if __name__ == "__main__":
    main()
