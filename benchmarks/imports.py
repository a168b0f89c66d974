"""CSV import benchmark: a `--rows` member file (default 100,000) imported on PostgreSQL.

In a fresh database (loyalty_bench_import by default, through $BENCH_PG_URL), migrated to
the working tree's head, with one Shopify shop, this process times, with its RSS:

1. a dry run of the whole file (every row checked, nothing written);
2. recording the import (the file checked again and stored) and applying it in `--batch`
   row transactions: stopped halfway (as a crash would), then resumed — every row creates
   a member and one `import` ledger entry;
3. the same file again (must credit nothing: the same import is returned);
4. a second file in reset mode with every member's balance changed (one correction entry
   each, computed from the locked members' balances);
5. exporting members.csv and ledger.csv (rows/s are members and entries written).

Checks entry counts and the sum of balances after each pass. Only 127.0.0.1 is contacted;
the database is dropped at the end unless --keep.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.expiry import peak_rss_mib, rss_mib  # noqa: E402
from benchmarks.webhook_intake import ADMIN_PG_URL, bench_db_url  # noqa: E402
from plugin_server.bootstrap import bootstrap  # noqa: E402
from plugin_server.db.migrate import upgrade  # noqa: E402
from plugin_server.domain.imports import Mode  # noqa: E402
from plugin_server.services import exports, imports  # noqa: E402
from plugin_server.services.shops import create_shop  # noqa: E402
from plugin_server.settings import Settings, normalize_database_url  # noqa: E402

CODE_SHA256 = hashlib.sha256(Path(imports.__file__).read_bytes()).hexdigest()
SHOP = "import-bench.myshopify.com"


def member_file(rows: int, *, offset: int) -> bytes:
    """Our layout; every member new to the shop; points vary with the row."""
    out = ["email,customer_id,first_name,last_name,points"]
    out += [
        f"member{i}@example.com,{7_000_000_000 + i},Member,No {i},{(i * 37) % 1000 + offset}"
        for i in range(1, rows + 1)
    ]
    return ("\n".join(out) + "\n").encode()


def expected_sum(rows: int, offset: int) -> int:
    return sum((i * 37) % 1000 + offset for i in range(1, rows + 1))


def timed(label: str, fn: Callable[[], Any], rows: int) -> tuple[Any, dict[str, Any]]:
    rss_before = rss_mib()
    began = time.monotonic()
    result = fn()
    seconds = time.monotonic() - began
    stats = {
        "seconds": round(seconds, 2),
        "rows_per_s": round(rows / seconds) if seconds else None,
        "rss_before_mib": round(rss_before, 1),
        "rss_after_mib": round(rss_mib(), 1),
        "peak_rss_mib": round(peak_rss_mib(), 1),
    }
    print(
        f"{label:<44} {stats['seconds']:>7.2f} s {stats['rows_per_s'] or 0:>8,} rows/s  RSS "
        f"{stats['rss_before_mib']:.0f} -> {stats['rss_after_mib']:.0f} MiB, peak "
        f"{stats['peak_rss_mib']:.0f} MiB",
        flush=True,
    )
    return result, stats


def ledger_totals(url: str, shop_id: int) -> tuple[int, int, int]:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*), coalesce(sum(points), 0), "
            "(SELECT count(*) FROM customers WHERE shop_id = %(s)s) "
            "FROM ledger_entries WHERE shop_id = %(s)s",
            {"s": shop_id},
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=imports.BATCH, help="rows per transaction")
    parser.add_argument("--database", default="loyalty_bench_import")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    args = parser.parse_args()
    db = args.database

    with psycopg.connect(ADMIN_PG_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {db}")
    url = bench_db_url(db)
    upgrade(normalize_database_url(url))
    c = bootstrap(
        Settings(database_url=normalize_database_url(url), secret_key="bench-secret-key-0123456")
    )
    results: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(),
        "rows": args.rows,
        "batch": args.batch,
        "services_imports_sha256": CODE_SHA256,
        "load_average_before": round(os.getloadavg()[0], 2),
        "rss_start_mib": round(rss_mib(), 1),
    }
    try:
        shop_id = create_shop(c.uow(), c.cipher, platform="shopify", domain=SHOP, now=c.clock()).id
        first = member_file(args.rows, offset=1)
        second = member_file(args.rows, offset=5)
        results["file_mib"] = round(len(first) / 2**20, 2)
        print(
            f"\nCSV import, {args.rows:,} rows ({results['file_mib']} MiB), batches of "
            f"{args.batch:,} (PostgreSQL; {os.cpu_count()} cores, 1-minute load average "
            f"{results['load_average_before']})\n"
        )

        report, results["dry_run"] = timed(
            "1. dry run (check every row)",
            lambda: imports.dry_run(c.uow(), shop_id, first, layout=None, mode=Mode.ADD),
            args.rows,
        )
        assert report["problem_count"] == 0, report["problems"][:5]

        def add_with_a_stop() -> dict[str, Any]:
            out, _ = imports.create_import(
                c.uow(),
                shop_id,
                first,
                name="bench add",
                layout=None,
                mode=Mode.ADD,
                skip_invalid=False,
                now=c.clock(),
            )
            half = max(1, args.rows // args.batch // 2)
            stopped = imports.run_import(
                c.uow, shop_id, out["id"], clock=c.clock, batch_size=args.batch, max_batches=half
            )
            results["stopped_at_line"] = stopped["last_line"]
            return imports.run_import(
                c.uow, shop_id, out["id"], clock=c.clock, batch_size=args.batch
            )

        done, results["add"] = timed(
            "2. add: record, apply half, stop, resume", add_with_a_stop, args.rows
        )
        entries, points, members = ledger_totals(url, shop_id)
        results["add"]["check"] = {
            "entries": entries,
            "members": members,
            "points": points,
            "expected_points": expected_sum(args.rows, 1),
            "status": done["status"],
        }
        print(
            f"{'':<44} stopped at line {results['stopped_at_line']:,}; {members:,} members, "
            f"{entries:,} entries, {points:,} points (expected {expected_sum(args.rows, 1):,})"
        )

        def same_again() -> dict[str, Any]:
            out, created = imports.create_import(
                c.uow(),
                shop_id,
                first,
                name="bench add",
                layout=None,
                mode=Mode.ADD,
                skip_invalid=False,
                now=c.clock(),
            )
            assert not created
            return imports.run_import(c.uow, shop_id, out["id"], clock=c.clock)

        _, results["same_file_again"] = timed("3. the same file again", same_again, args.rows)
        again = ledger_totals(url, shop_id)
        results["same_file_again"]["entries_after"] = again[0]
        print(f"{'':<44} entries {again[0]:,} (unchanged: {again[0] == entries})")

        def reset() -> dict[str, Any]:
            out, _ = imports.create_import(
                c.uow(),
                shop_id,
                second,
                name="bench reset",
                layout=None,
                mode=Mode.RESET,
                skip_invalid=False,
                now=c.clock(),
            )
            return imports.run_import(
                c.uow, shop_id, out["id"], clock=c.clock, batch_size=args.batch
            )

        done, results["reset"] = timed("4. reset every balance (+4 each)", reset, args.rows)
        entries, points, members = ledger_totals(url, shop_id)
        results["reset"]["check"] = {
            "entries": entries,
            "points": points,
            "expected_points": expected_sum(args.rows, 5),
            "rows_imported": done["rows_imported"],
        }
        print(
            f"{'':<44} {done['rows_imported']:,} corrections; {entries:,} entries, "
            f"{points:,} points (expected {expected_sum(args.rows, 5):,})"
        )

        def export(chunks: Any) -> int:
            return sum(len(chunk) for chunk in chunks)

        size, results["export_members"] = timed(
            "5. export members.csv",
            lambda: export(exports.members_csv(c.uow, shop_id, now=c.clock())),
            members,
        )
        results["export_members"]["mib"] = round(size / 2**20, 2)
        size, results["export_ledger"] = timed(
            "6. export ledger.csv", lambda: export(exports.ledger_csv(c.uow, shop_id)), entries
        )
        results["export_ledger"]["mib"] = round(size / 2**20, 2)
        results["load_average_after"] = round(os.getloadavg()[0], 2)
    finally:
        c.close()
        if not args.keep:
            with psycopg.connect(ADMIN_PG_URL, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")

    add = results["add"]
    print(
        f"\n{args.rows:,}-row import: {add['rows_per_s']:,} rows/s, {add['seconds']} s in all "
        f"(record + apply + resume), peak RSS {results['reset']['peak_rss_mib']:.0f} MiB "
        f"(started at {results['rss_start_mib']:.0f} MiB); load average "
        f"{results['load_average_before']} before, {results['load_average_after']} after"
    )
    out_dir = ROOT / "benchmarks" / "results"
    out_dir.mkdir(exist_ok=True)
    out = out_dir / f"imports-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"Raw results: {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
