"""Points-expiry benchmark: `expire_all` over one shop with many members, on PostgreSQL.

Loads `--members` customers (default 1,000,000) with a two-year history straight into a
fresh database with set-based SQL (about 3 ledger entries each: an order's award for
everyone, a manual credit for everyone, a second order for two in three, a redemption for
one in three), then times, with the process's RSS before and after and its peak:

1. the 'batch' policy (12 months, 14-day reminders): the first pass;
2. the same pass again at the same moment, which must expire nothing (idempotent);
3. the 'inactivity' policy (12 months): one pass.

Checks 1,000 sampled members against the rules in `plugin_server.domain.expiry` and every
member's balance for going negative. Only 127.0.0.1 is contacted: PostgreSQL at
$BENCH_PG_URL (default postgresql://postgres@127.0.0.1:5432/test), used to create the
database loyalty_bench_expiry, dropped at the end unless --keep.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Engine, event, func, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.webhook_intake import ADMIN_PG_URL, bench_db_url, verdict  # noqa: E402
from plugin_server.bootstrap import Container, bootstrap  # noqa: E402
from plugin_server.db import repositories  # noqa: E402
from plugin_server.db.migrate import upgrade  # noqa: E402
from plugin_server.db.models import LedgerEntry, Order  # noqa: E402
from plugin_server.domain import expiry as rules  # noqa: E402
from plugin_server.services import expiry, member_chunks  # noqa: E402
from plugin_server.services.shops import create_shop  # noqa: E402
from plugin_server.settings import Settings, normalize_database_url  # noqa: E402

# The code under test as imported: the working tree may change during a long run.
CODE_SHA256 = hashlib.sha256(Path(expiry.__file__).read_bytes()).hexdigest()
DB_NAME = "loyalty_bench_expiry"
SHOP = "expiry-bench.myshopify.com"
MONTHS = 12
REMINDER_DAYS = 14
HOLD_DAYS = 7  # an order's points become spendable a week after it was paid
SAMPLE = 1000
GOALS = {"seconds_per_pass": 60, "rss_growth_mib": 100}

# A deterministic uniform number in [0, 1) per member and salt: runs are comparable.
_U = "((hashint4(i * 8 + {k}) & 2147483647) / 2147483648.0::float8)"
_AGO = "%(now)s - {u} * interval '730 days'"  # somewhere in the past 24 months

MEMBERS_SQL = f"""
CREATE TEMP TABLE bench_members AS
SELECT i,
       {_AGO.format(u=_U.format(k=1))} AS t1,
       (50 + 450 * {_U.format(k=2)})::int AS p1,
       {_AGO.format(u=_U.format(k=3))} AS t2,
       (20 + 280 * {_U.format(k=4)})::int AS p2,
       CASE WHEN i %% 3 <> 2 THEN {_AGO.format(u=_U.format(k=5))} END AS t3,
       (50 + 450 * {_U.format(k=6)})::int AS p3,
       {_U.format(k=7)} AS f_time,
       {_U.format(k=8)} AS f_points
FROM generate_series(1, %(n)s) AS g(i)
"""

CUSTOMERS_SQL = """
INSERT INTO customers (id, shop_id, customer_ref, email, created_at, updated_at)
SELECT i, %(shop)s, (7000000000 + i)::text, 'member' || i || '@example.com',
       least(t1, t2) - interval '1 day', least(t1, t2) - interval '1 day'
FROM bench_members
"""

# Order i is every member's first order, order n + i the second one of two members in three.
ORDERS_SQL = """
INSERT INTO orders (id, shop_id, order_ref, name, customer_id, status, cancelled,
                    fully_refunded, refund_count, earned_points, earning_base, earning_rate,
                    currency, order_total, earn_available_at, created_at, updated_at)
SELECT id, %(shop)s, (5000000000 + id)::text, '#' || id, i, 'paid', false, false, 0, p,
       p, 1, 'USD', p, t + %(hold)s * interval '1 day', t, t
FROM (SELECT i, i AS id, t1 AS t, p1 AS p FROM bench_members
      UNION ALL
      SELECT i, %(n)s + i, t3, p3 FROM bench_members WHERE t3 IS NOT NULL) o
"""

# Inserted in time order, as a live shop writes them: a member's entries are far apart.
LEDGER_SQL = """
INSERT INTO ledger_entries (shop_id, customer_id, points, kind, reason, source_type,
                            source_ref, order_id, idempotency_key, created_at, available_at)
SELECT %(shop)s, customer_id, points, kind, reason, source_type, source_ref, order_id,
       idempotency_key, created_at, available_at
FROM (
    SELECT o.customer_id, o.earned_points AS points, 'earn_order' AS kind,
           'Points for ' || o.name AS reason, 'order' AS source_type, o.order_ref AS source_ref,
           o.id AS order_id, 'order:' || o.order_ref || ':earn' AS idempotency_key,
           o.created_at, o.earn_available_at AS available_at
    FROM orders o WHERE o.shop_id = %(shop)s
    UNION ALL
    SELECT i, p2, 'adjustment', 'Welcome bonus', 'adjustment', 'bench',
           NULL, 'adjustment:bench-' || i, t2, t2
    FROM bench_members
    UNION ALL
    SELECT i, -greatest(1, ((p1 + p2) * (0.2 + 0.6 * f_points))::int), 'redeem',
           'Redeemed for a discount code', 'redemption', 'bench-' || i,
           NULL, 'redemption:bench-' || i || ':take', at, at
    FROM (SELECT *, s + f_time * (%(now)s - s) AS at
          FROM (SELECT *, greatest(t1 + %(hold)s * interval '1 day', t2) AS s
                FROM bench_members WHERE i %% 3 = 1) r) r
    WHERE s <= %(now)s
) e
ORDER BY created_at
"""

# Per member: everything, and what is spendable now (as repositories.balance counts it).
BALANCES_SQL = """
SELECT count(*) FILTER (WHERE total < 0), count(*) FILTER (WHERE spendable < 0),
       coalesce(sum(spendable), 0)
FROM (SELECT customer_id, sum(points) AS total,
             sum(points) FILTER (WHERE available_at <= %(now)s
                 OR (points < 0 AND kind IN ('adjustment', 'redeem', 'expiry'))) AS spendable
      FROM ledger_entries WHERE shop_id = %(shop)s GROUP BY customer_id) b
"""


def rss_mib() -> float:
    """The process's resident set now (Linux /proc)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except OSError:
        return float("nan")
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mib() -> float:
    """The process's peak resident set so far (getrusage reports KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fresh_database() -> str:
    with psycopg.connect(ADMIN_PG_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")
    return bench_db_url(DB_NAME)


def drop_database() -> None:
    with psycopg.connect(ADMIN_PG_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


def load(url: str, shop_id: int, members: int, now: datetime) -> dict[str, float]:
    """The members and their history, set-based; seconds per step."""
    params = {"shop": shop_id, "n": members, "now": now, "hold": HOLD_DAYS}
    steps: dict[str, float] = {}
    with psycopg.connect(url) as conn:
        conn.execute("SET work_mem = '256MB'")  # the time-ordered sort stays in memory
        try:
            # The rows are consistent by construction: skip the per-row foreign-key checks
            # while loading (superuser only). The timed passes run with every check.
            conn.execute("SET session_replication_role = replica")
            conn.commit()
        except psycopg.errors.InsufficientPrivilege:
            conn.rollback()
        for name, sql in (
            ("members", MEMBERS_SQL),
            ("customers", CUSTOMERS_SQL),
            ("orders", ORDERS_SQL),
            ("ledger_entries", LEDGER_SQL),
        ):
            began = time.monotonic()
            conn.execute(sql, params)
            steps[name] = time.monotonic() - began
        for table in ("customers", "orders"):
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        conn.commit()
    began = time.monotonic()
    # VACUUM as well as ANALYZE: a live table has had autovacuum set its hint bits and
    # visibility map, so the first timed pass should not pay for that either.
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE customers, orders, ledger_entries")
    steps["vacuum_analyze"] = time.monotonic() - began
    return steps


def set_policy(url: str, shop_id: int, policy: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(
            "UPDATE shops SET expiry_policy = %s, expiry_months = %s, "
            "expiry_reminder_days = %s, pending_days = %s WHERE id = %s",
            (policy, MONTHS, REMINDER_DAYS, HOLD_DAYS, shop_id),
        )


# Statements a pass runs, by how their SQL starts (see plugin_server.services.expiry).
STATEMENTS = {
    "SELECT customers.id": "lock members",
    "SELECT ledger_entries.customer_id": "totals query",
    "INSERT INTO ledger_entries": "insert expiries",
    "INSERT INTO loyalty_events": "insert reminders",
    # PostgreSQL: each chunk planned in SQL, and planned again and written in one statement.
    "SELECT plan.customer_id": "plan query (who is due)",
    "WITH plan AS": "plan and write",
    "SELECT count(*) AS count_1, min(": "chunk bounds",
    "SET LOCAL": "planner settings",
}


class StatementClock:
    """Seconds spent inside cursor.execute per kind of statement while `on`: the server's
    time plus the driver's (psycopg turns the SQL text into a server query in Python)."""

    def __init__(self, engine: Engine) -> None:
        self.on = False
        self.lock = threading.Lock()
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, _cursor: Any, *_: Any) -> None:
        conn.info["bench_began"] = time.perf_counter()

    def _after(self, conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if self.on:
            kind = next((v for k, v in STATEMENTS.items() if statement.startswith(k)), "other")
            took = time.perf_counter() - conn.info.pop("bench_began")
            with self.lock:  # a pass may run on several connections, each in its thread
                self.seconds[kind] += took
                self.calls[kind] += 1

    def start(self) -> None:
        self.seconds.clear()
        self.calls.clear()
        self.on = True

    def stop(self, total: float) -> dict[str, dict[str, float]]:
        self.on = False
        out = {k: {"seconds": round(v, 2), "calls": self.calls[k]} for k, v in self.seconds.items()}
        out["python and commits"] = {"seconds": round(total - sum(self.seconds.values()), 2)}
        return out


def timed_pass(
    c: Container, clock: StatementClock, *, now: datetime, chunk: int, connections: int
) -> dict[str, Any]:
    rss_before = rss_mib()
    peak_before = peak_rss_mib()
    clock.start()
    began = time.monotonic()
    run = expiry.expire_all(c.uow, now=now, chunk=chunk, connections=connections)
    seconds = time.monotonic() - began
    return {
        **run.as_dict(),
        "seconds": round(seconds, 2),
        "members_per_s": round(run.members_checked / seconds),
        "rss_before_mib": round(rss_before, 1),
        "rss_after_mib": round(rss_mib(), 1),
        "peak_rss_before_mib": round(peak_before, 1),
        "peak_rss_after_mib": round(peak_rss_mib(), 1),
        # Statement times are summed over the connections, and so is the rest.
        "time_by_statement": clock.stop(seconds * connections),
    }


def sample_state(
    c: Container, shop_id: int, ids: list[int], now: datetime
) -> dict[int, dict[str, Any]]:
    """What the rules need to know about each sampled member, read the plain way."""
    batch_time = func.coalesce(Order.earn_available_at, LedgerEntry.available_at)
    state: dict[int, dict[str, Any]] = {}
    with c.uow() as uow:
        rows = uow.session.execute(
            select(LedgerEntry.customer_id, LedgerEntry, batch_time)
            .outerjoin(Order, Order.id == LedgerEntry.order_id)
            .where(LedgerEntry.shop_id == shop_id, LedgerEntry.customer_id.in_(ids))
        ).all()
        entries: dict[int, list[tuple[LedgerEntry, datetime]]] = defaultdict(list)
        for customer_id, entry, at in rows:
            entries[customer_id].append((entry, at))
        for cid in ids:
            mine = entries[cid]
            credits: dict[datetime, int] = defaultdict(int)
            for e, at in mine:
                if e.kind == "earn_order" or (e.kind == "adjustment" and e.points > 0):
                    credits[at] += e.points
            state[cid] = {
                "batches": [rules.Batch(p, at) for at, p in credits.items()],
                "spent": -sum(e.points for e, _ in mine if e.kind == "redeem"),
                "expired": -sum(e.points for e, _ in mine if e.kind == "expiry"),
                "last_activity": max(
                    (e.created_at for e, _ in mine if e.kind != "expiry"), default=None
                ),
                "spendable": repositories.balance(uow.session, shop_id, cid, now).spendable,
            }
    return state


def expected_batch(s: dict[str, Any], now: datetime) -> int:
    target = rules.expired_target(s["batches"], s["spent"], cutoff=rules.months_before(now, MONTHS))
    return rules.to_expire(target, s["expired"], s["spendable"])


def expected_inactivity(s: dict[str, Any], now: datetime) -> int:
    last = s["last_activity"]
    if last is None or rules.months_after(last, MONTHS) > now:
        return 0
    return max(0, s["spendable"])


def check_sample(
    before: dict[int, dict[str, Any]],
    after: dict[int, dict[str, Any]],
    expected: Callable[[dict[str, Any], datetime], int],
    now: datetime,
) -> dict[str, int]:
    """Sampled members whose expiry differs from the rules, or whose balance is negative."""
    wrong = sum(
        after[cid]["expired"] - s["expired"] != expected(s, now) for cid, s in before.items()
    )
    negative = sum(s["spendable"] < 0 for s in after.values())
    return {"sampled": len(before), "wrong": wrong, "negative_spendable": negative}


def balances(url: str, shop_id: int, now: datetime) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        row = conn.execute(BALANCES_SQL, {"shop": shop_id, "now": now}).fetchone()
    assert row is not None
    return {"negative_total": row[0], "negative_spendable": row[1], "spendable_sum": int(row[2])}


def scalar(url: str, sql: str) -> int:
    return int(scalar_text(url, sql) or 0)


def scalar_text(url: str, sql: str) -> str | None:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql).fetchone()
    return None if row is None else str(row[0])


def show_pass(label: str, r: dict[str, Any]) -> None:
    print(
        f"{label:<26} {r['seconds']:>6.1f} s {r['members_per_s']:>7,}/s  "
        f"checked {r['members_checked']:>9,}  expired {r['members_expired']:>7,} members "
        f"{r['points_expired']:>11,} pts  reminders {r['reminders']:>6,}  RSS "
        f"{r['rss_before_mib']:.0f} -> {r['rss_after_mib']:.0f} MiB, peak "
        f"{r['peak_rss_after_mib']:.0f} MiB"
    )
    parts = sorted(r["time_by_statement"].items(), key=lambda kv: -kv[1]["seconds"])
    print(" " * 28 + ", ".join(f"{k} {v['seconds']:.1f} s" for k, v in parts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=expiry.CHUNK, help="members per transaction")
    parser.add_argument(
        "--connections",
        type=int,
        default=member_chunks.CONNECTIONS,
        help="chunks written at once (statement times are summed over them)",
    )
    parser.add_argument("--keep", action="store_true", help=f"keep the database {DB_NAME}")
    args = parser.parse_args()

    now = datetime.now(UTC).replace(microsecond=0)
    url = fresh_database()
    upgrade(url)
    c = bootstrap(
        Settings(database_url=normalize_database_url(url), secret_key="bench-secret-key-0123456")
    )
    clock = StatementClock(c.engine)
    results: dict[str, Any] = {
        "when": now.isoformat(),
        "members": args.members,
        "chunk": args.chunk,
        "connections": args.connections,
        "goals": GOALS,
        "services_expiry_sha256": CODE_SHA256,
        "load_average_before": round(os.getloadavg()[0], 2),
    }
    try:
        results["schema_revision"] = scalar_text(url, "SELECT version_num FROM alembic_version")
        shop_id = create_shop(c.uow(), c.cipher, platform="shopify", domain=SHOP, now=now).id
        began = time.monotonic()
        steps = load(url, shop_id, args.members, now)
        results["load"] = {
            "seconds": round(time.monotonic() - began, 1),
            "steps": {k: round(v, 1) for k, v in steps.items()},
            "ledger_entries": scalar(url, "SELECT count(*) FROM ledger_entries"),
            "orders": scalar(url, "SELECT count(*) FROM orders"),
            "ledger_mib": scalar(url, "SELECT pg_total_relation_size('ledger_entries') >> 20"),
        }
        results["balances_before"] = balances(url, shop_id, now)
        sample = random.Random(42).sample(range(1, args.members + 1), min(SAMPLE, args.members))
        results["rss_setup_mib"] = round(rss_mib(), 1)

        set_policy(url, shop_id, "batch")
        before = sample_state(c, shop_id, sample, now)
        results["batch"] = timed_pass(
            c, clock, now=now, chunk=args.chunk, connections=args.connections
        )
        after = sample_state(c, shop_id, sample, now)
        results["batch"]["sample"] = check_sample(before, after, expected_batch, now)
        results["batch_again"] = timed_pass(
            c, clock, now=now, chunk=args.chunk, connections=args.connections
        )

        set_policy(url, shop_id, "inactivity")
        before = sample_state(c, shop_id, sample, now)
        results["inactivity"] = timed_pass(
            c, clock, now=now, chunk=args.chunk, connections=args.connections
        )
        after = sample_state(c, shop_id, sample, now)
        results["inactivity"]["sample"] = check_sample(before, after, expected_inactivity, now)

        results["balances_after"] = balances(url, shop_id, now)
        results["expiry_entries"] = scalar(
            url, "SELECT count(*) FROM ledger_entries WHERE kind = 'expiry'"
        )
        results["reminder_events"] = scalar(url, "SELECT count(*) FROM loyalty_events")
        results["load_average_after"] = round(os.getloadavg()[0], 2)
    finally:
        c.close()
        if not args.keep:
            drop_database()

    ld = results["load"]
    print(
        f"\nPoints expiry, {args.members:,} members in one shop, chunks of {args.chunk:,} "
        f"({args.connections} at once; PostgreSQL, schema {results['schema_revision']}; "
        f"{os.cpu_count()} cores, 1-minute "
        f"load average {results['load_average_before']} before, "
        f"{results['load_average_after']} after)\n"
    )
    print(
        f"Data: {ld['seconds']} s ({', '.join(f'{k} {v} s' for k, v in ld['steps'].items())}): "
        f"{ld['ledger_entries']:,} ledger entries, {ld['orders']:,} orders; ledger with "
        f"indexes {ld['ledger_mib']:,} MiB\n"
    )
    show_pass("batch 12 months", results["batch"])
    show_pass("batch again, same moment", results["batch_again"])
    show_pass("inactivity 12 months", results["inactivity"])
    again = results["batch_again"]
    idempotent = again["points_expired"] == 0 and again["reminders"] == 0
    b0, b1 = results["balances_before"], results["balances_after"]
    print(
        f"\nExpiry entries written: {results['expiry_entries']:,}; reminders stored: "
        f"{results['reminder_events']:,}; second batch pass expired "
        f"{again['points_expired']} points ({'idempotent' if idempotent else 'NOT IDEMPOTENT'})"
    )
    for name in ("batch", "inactivity"):
        s = results[name]["sample"]
        print(
            f"Sample of {s['sampled']:,} members vs plugin_server.domain.expiry ({name}): "
            f"{s['wrong']} wrong, {s['negative_spendable']} with a negative balance"
        )
    print(
        f"Members with a negative balance (all {args.members:,}): spendable "
        f"{b0['negative_spendable']} before -> {b1['negative_spendable']} after, all entries "
        f"{b0['negative_total']} -> {b1['negative_total']}; spendable points "
        f"{b0['spendable_sum']:,} -> {b1['spendable_sum']:,}"
    )
    passes = [results[k] for k in ("batch", "batch_again", "inactivity")]
    slowest = max(r["seconds"] for r in passes)
    growth = max(r["peak_rss_after_mib"] for r in passes) - results["rss_setup_mib"]
    print("\nGoals:")
    print(
        f"  each pass < {GOALS['seconds_per_pass']} s: slowest {slowest:.1f} s  "
        f"{verdict(slowest < GOALS['seconds_per_pass'])}"
    )
    print(
        f"  memory flat (peak RSS < {GOALS['rss_growth_mib']} MiB above the "
        f"{results['rss_setup_mib']:.0f} MiB before the passes): +{growth:.0f} MiB  "
        f"{verdict(growth < GOALS['rss_growth_mib'])}"
    )
    out_dir = ROOT / "benchmarks" / "results"
    out_dir.mkdir(exist_ok=True)
    out = out_dir / f"expiry-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"\nRaw results: {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
