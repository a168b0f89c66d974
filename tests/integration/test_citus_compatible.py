"""The schema can be sharded by shop with Citus (README, "Scale-out"; migration 0027).

Citus distributes a table by one column (here shop_id) and then requires: every PRIMARY
KEY, UNIQUE constraint and unique index includes it, and every foreign key between two
distributed tables pairs it with itself. A reference table (copied to every node) needs
neither. The checker reads the catalog of a migrated database: pg_catalog on PostgreSQL
(every rule), SQLAlchemy's inspector on SQLite (shop_id and the unique keys; SQLite keeps
single-column primary and foreign keys, see migration 0027).
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from sqlalchemy import Connection, create_engine, inspect, text

from plugin_server.settings import Settings

# Tables not distributed by shop_id, and why.
NOT_DISTRIBUTED = {
    # Alembic's own bookkeeping: one row, local to the coordinator.
    "alembic_version": "local",
    # The tenant table itself: a reference table, so every shard can join and key to it.
    "shops": "reference",
    # OAuth nonces from before the shop exists (no shop_id yet): a reference table.
    "install_states": "reference",
    # The scheduler's state for all shops at once: a reference table.
    "periodic_runs": "reference",
}

_COLUMNS = """
SELECT c.relname, a.attname, a.attnotnull
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attribute a
  ON a.attrelid = c.oid AND a.attname = 'shop_id' AND a.attnum > 0 AND NOT a.attisdropped
WHERE n.nspname = :schema AND c.relkind IN ('r', 'p')
"""

# Every unique index: those behind primary keys and UNIQUE constraints, and standalone ones.
_UNIQUE_INDEXES = """
SELECT t.relname, i.relname, coalesce(con.contype, 'i'),
       array(SELECT coalesce(a.attname, '(expression)')
             FROM unnest(x.indkey[0:x.indnkeyatts - 1]) WITH ORDINALITY AS k(attnum, n)
             LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
             ORDER BY k.n)
FROM pg_index x
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
LEFT JOIN pg_constraint con ON con.conindid = x.indexrelid AND con.contype IN ('p', 'u')
WHERE n.nspname = :schema AND x.indisunique
"""

_FOREIGN_KEYS = """
SELECT t.relname, con.conname, f.relname,
       array(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, n)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
             ORDER BY k.n),
       array(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, n)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum
             ORDER BY k.n)
FROM pg_constraint con
JOIN pg_class t ON t.oid = con.conrelid
JOIN pg_class f ON f.oid = con.confrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = :schema AND con.contype = 'f'
"""

_KIND = {"p": "primary key", "u": "unique constraint", "i": "unique index"}


def citus_problems(conn: Connection, schema: str = "public") -> list[str]:
    """What stops distributing every table outside NOT_DISTRIBUTED by shop_id."""
    if conn.dialect.name != "postgresql":
        return _portable_problems(conn)
    problems = []
    params = {"schema": schema}
    distributed = set()
    for table, column, not_null in conn.execute(text(_COLUMNS), params):
        if table in NOT_DISTRIBUTED:
            continue
        distributed.add(table)
        if column is None:
            problems.append(f"{table}: no shop_id column")
        elif not not_null:
            problems.append(f"{table}: shop_id may be NULL")
    for table, index, kind, columns in conn.execute(text(_UNIQUE_INDEXES), params):
        if table in distributed and "shop_id" not in columns:
            problems.append(f"{table}: {_KIND[kind]} {index} ({', '.join(columns)}) lacks shop_id")
    for table, name, target, columns, targets in conn.execute(text(_FOREIGN_KEYS), params):
        pairs = list(zip(columns, targets, strict=True))
        if table in distributed and target in distributed and ("shop_id", "shop_id") not in pairs:
            problems.append(
                f"{table}: foreign key {name} ({', '.join(columns)}) -> "
                f"{target} ({', '.join(targets)}) does not pair shop_id with shop_id"
            )
        if table not in distributed and target in distributed:
            problems.append(f"{table}: foreign key {name} from a reference table to {target}")
    return sorted(problems)


def _portable_problems(conn: Connection) -> list[str]:
    """SQLite: shop_id and the unique keys (primary and foreign keys stay single-column)."""
    inspector = inspect(conn)
    problems = []
    for table in inspector.get_table_names():
        if table in NOT_DISTRIBUTED:
            continue
        column = next((c for c in inspector.get_columns(table) if c["name"] == "shop_id"), None)
        if column is None:
            problems.append(f"{table}: no shop_id column")
            continue
        if column["nullable"]:
            problems.append(f"{table}: shop_id may be NULL")
        uniques: list[tuple[str, str | None, Sequence[str | None]]] = [
            ("unique constraint", u["name"], u["column_names"])
            for u in inspector.get_unique_constraints(table)
        ]
        uniques += [
            ("unique index", i["name"], i["column_names"])
            for i in inspector.get_indexes(table)
            if i["unique"]
        ]
        for kind, name, names in uniques:
            columns = [str(c) for c in names]
            if "shop_id" not in columns:
                problems.append(f"{table}: {kind} {name} ({', '.join(columns)}) lacks shop_id")
    return sorted(problems)


def test_every_tenant_key_includes_shop_id(settings: Settings) -> None:
    engine = create_engine(settings.database_url)
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        problems = citus_problems(conn)
    engine.dispose()
    assert set(NOT_DISTRIBUTED) <= tables
    assert len(tables) > len(NOT_DISTRIBUTED)
    assert problems == []


@pytest.mark.postgres_only
def test_the_checker_reports_each_kind_of_problem(settings: Settings) -> None:
    engine = create_engine(settings.database_url)
    with engine.connect() as conn:
        for statement in (
            "CREATE SCHEMA citus_check",
            "SET LOCAL search_path TO citus_check",
            "CREATE TABLE shops (id bigint PRIMARY KEY)",
            "CREATE TABLE periodic_runs (name text PRIMARY KEY, last_id bigint)",
            "CREATE TABLE good (id bigserial, shop_id bigint NOT NULL REFERENCES shops,"
            " PRIMARY KEY (id, shop_id))",
            "CREATE TABLE no_shop (id bigint PRIMARY KEY)",
            "CREATE TABLE nullable_shop (id bigint, shop_id bigint)",
            "CREATE TABLE bad_keys (id bigint PRIMARY KEY, shop_id bigint NOT NULL,"
            " code text, ref text, CONSTRAINT uq_code UNIQUE (code))",
            "CREATE UNIQUE INDEX ix_ref ON bad_keys (lower(ref))",
            "CREATE TABLE bad_fks (id bigint, shop_id bigint NOT NULL, good_id bigint,"
            " bad_id bigint, PRIMARY KEY (id, shop_id),"
            " CONSTRAINT fk_bad FOREIGN KEY (bad_id) REFERENCES bad_keys (id),"
            " CONSTRAINT fk_swapped FOREIGN KEY (good_id, shop_id) REFERENCES good (shop_id, id))",
            "ALTER TABLE periodic_runs ADD CONSTRAINT fk_ref"
            " FOREIGN KEY (last_id) REFERENCES no_shop (id)",
        ):
            conn.execute(text(statement))
        problems = citus_problems(conn, "citus_check")
        conn.rollback()
    engine.dispose()
    assert problems == [
        "bad_fks: foreign key fk_bad (bad_id) -> bad_keys (id) does not pair shop_id with shop_id",
        "bad_fks: foreign key fk_swapped (good_id, shop_id) -> good (shop_id, id)"
        " does not pair shop_id with shop_id",
        "bad_keys: primary key bad_keys_pkey (id) lacks shop_id",
        "bad_keys: unique constraint uq_code (code) lacks shop_id",
        "bad_keys: unique index ix_ref ((expression)) lacks shop_id",
        "no_shop: no shop_id column",
        "no_shop: primary key no_shop_pkey (id) lacks shop_id",
        "nullable_shop: shop_id may be NULL",
        "periodic_runs: foreign key fk_ref from a reference table to no_shop",
    ]
