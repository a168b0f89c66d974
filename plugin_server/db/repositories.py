"""Queries the services need. Every function that reads tenant data takes `shop_id` first."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, case, func, or_, select, text, type_coerce
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator

from plugin_server.db import email_outbox, outbox
from plugin_server.db.models import Customer, LedgerEntry, Order, OrderRefund, Shop
from plugin_server.db.types import UTCDateTime
from plugin_server.domain.ledger import EARNING_KINDS, IMMEDIATE_DEBIT_KINDS, Balance, EntryKind

_STATEMENTS: dict[tuple[object, ...], Any] = {}


def _insert_for(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def insert_ignoring_conflict(
    session: Session, model: type[Any], values: Mapping[str, Any], conflict_columns: Sequence[str]
) -> int | None:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING id: the id, or None if the row existed.

    A single arbitrated statement, so two concurrent writers can never both insert. The
    statement is built once per table and executed with parameters: building SQLAlchemy
    statements per call cost more than running them.
    """
    insert = _insert_for(session)
    key = ("ignore", model, tuple(conflict_columns), insert)
    stmt = _STATEMENTS.get(key)
    if stmt is None:
        table = model.__table__
        stmt = (
            insert(table)
            .on_conflict_do_nothing(index_elements=list(conflict_columns))
            .returning(table.c.id)
        )
        _STATEMENTS[key] = stmt
    new_id = session.connection().execute(stmt, dict(values)).scalar_one_or_none()
    if new_id is not None:
        # Webhook deliveries for the new row, in this transaction (see db/outbox.py).
        outbox.after_insert(session, model, (values,), (new_id,))
        email_outbox.after_insert(session, model, (values,), (new_id,))
    return new_id


def insert_many_ignoring_conflict(
    session: Session,
    model: type[Any],
    rows: Sequence[Mapping[str, Any]],
    conflict_columns: Sequence[str],
) -> int:
    """INSERT ... ON CONFLICT DO NOTHING for many rows; how many rows were new.

    On PostgreSQL the rows travel as one array per column (`INSERT ... SELECT FROM
    unnest(...)`): one short statement per call, where a multi-row VALUES list would be
    thousands of placeholders that the driver re-parses every time (about 2.5x slower for
    a few thousand ledger entries). SQLite takes SQLAlchemy's insertmanyvalues."""
    if not rows:
        return 0
    table = model.__table__
    first_key = next(iter(table.primary_key.columns))
    dialect = session.get_bind().dialect
    if dialect.name != "postgresql":
        stmt = (
            _insert_for(session)(table)
            .on_conflict_do_nothing(index_elements=list(conflict_columns) or None)
            .returning(first_key)
        )
        ids = list(session.connection().execute(stmt, [dict(r) for r in rows]).scalars())
        outbox.after_insert(session, model, rows, ids)
        email_outbox.after_insert(session, model, rows, ids)
        return len(ids)
    columns = [c for c in table.columns if c.name in rows[0]]
    arrays: dict[str, list[Any]] = {}
    for column in columns:
        bind = column.type.bind_processor(dialect)
        values = [row[column.name] for row in rows]
        if isinstance(column.type, TypeDecorator):
            values = [column.type.process_bind_param(v, dialect) for v in values]
        elif bind is not None:
            values = [bind(v) for v in values]
        arrays[column.name] = values
    casts = ", ".join(f"CAST(:{c.name} AS {c.type.compile(dialect=dialect)}[])" for c in columns)
    names = ", ".join(c.name for c in columns)
    target = f"({', '.join(conflict_columns)}) " if conflict_columns else ""
    sql = text(
        f"INSERT INTO {table.name} ({names}) SELECT * FROM unnest({casts}) "
        f"ON CONFLICT {target}DO NOTHING RETURNING {first_key.name}"
    )
    ids = list(session.connection().execute(sql, arrays).scalars())
    outbox.after_insert(session, model, rows, ids)
    email_outbox.after_insert(session, model, rows, ids)
    return len(ids)


def upsert_many(
    session: Session,
    model: type[Any],
    rows: Sequence[Mapping[str, Any]],
    conflict_columns: Sequence[str],
    *,
    update: Sequence[str],
) -> None:
    """INSERT ... ON CONFLICT DO UPDATE SET `update` for many rows in few round trips."""
    if not rows:
        return
    insert = _insert_for(session)(model.__table__)
    stmt = insert.on_conflict_do_update(
        index_elements=list(conflict_columns),
        set_={column: insert.excluded[column] for column in update},
    )
    session.connection().execute(stmt, [dict(r) for r in rows])


def upsert_locked(
    session: Session,
    model: type[Any],
    values: Mapping[str, Any],
    conflict_columns: Sequence[str],
    keep_existing: Sequence[str] = (),
) -> Any:
    """INSERT ... ON CONFLICT DO UPDATE ... RETURNING the row, as an ORM object.

    One round trip creates the row if needed, row-locks it for the rest of the transaction
    (the DO UPDATE takes the lock, as SELECT ... FOR UPDATE would) and loads it. Columns in
    `keep_existing` keep their stored value unless the stored value is NULL.
    """
    insert = _insert_for(session)
    key = (
        "upsert",
        model,
        tuple(conflict_columns),
        tuple(keep_existing),
        insert,
        tuple(sorted(values)),
    )
    stmt = _STATEMENTS.get(key)
    if stmt is None:
        table = model.__table__
        base = insert(table)
        updates = {"updated_at": base.excluded.updated_at}
        for column in keep_existing:
            # New non-null values win (an email changed at the platform); nulls never erase.
            updates[column] = func.coalesce(base.excluded[column], table.c[column])
        stmt = select(model).from_statement(
            base.on_conflict_do_update(
                index_elements=list(conflict_columns), set_=updates
            ).returning(*table.c)
        )
        _STATEMENTS[key] = stmt
    return session.scalars(stmt, dict(values), execution_options={"populate_existing": True}).one()


def member_ids_between(session: Session, shop_id: int, first: int, last: int) -> list[int]:
    """The shop's member ids from `first` to `last`, in order."""
    return list(
        session.scalars(
            select(Customer.id)
            .where(Customer.shop_id == shop_id, Customer.id.between(first, last))
            .order_by(Customer.id)
        )
    )


def lock_members(session: Session, shop_id: int, customer_ids: Sequence[int]) -> None:
    """Row-lock these members, in id order (so two passes never deadlock): the lock that
    redemptions, adjustments and activities take before they spend or award."""
    session.execute(
        select(Customer.id)
        .where(Customer.shop_id == shop_id, Customer.id.in_(customer_ids))
        .order_by(Customer.id)
        .with_for_update()
    )


def shop_by_api_key_hash(session: Session, api_key_hash: str) -> Shop | None:
    return session.scalars(select(Shop).where(Shop.api_key_hash == api_key_hash)).one_or_none()


def shop_by_domain(session: Session, platform: str, domain: str) -> Shop | None:
    return session.scalars(
        select(Shop).where(Shop.platform == platform, Shop.domain == domain)
    ).one_or_none()


def customer_by_ref(session: Session, shop_id: int, customer_ref: str) -> Customer | None:
    return session.scalars(
        select(Customer).where(Customer.shop_id == shop_id, Customer.customer_ref == customer_ref)
    ).one_or_none()


def customers_by_email(session: Session, shop_id: int, email: str) -> Sequence[Customer]:
    return session.scalars(
        select(Customer)
        .where(Customer.shop_id == shop_id, Customer.email == email)
        .order_by(Customer.id)
    ).all()


def lock_order(session: Session, shop_id: int, order_ref: str, now: datetime) -> Order:
    """The order row, created if new, locked for the rest of the transaction.

    Every change to an order's points happens under this lock, so two workers handling two
    deliveries about the same order apply them one after the other.
    """
    order: Order = upsert_locked(
        session,
        Order,
        {
            "shop_id": shop_id,
            "order_ref": order_ref,
            "cancelled": False,
            "fully_refunded": False,
            "refund_count": 0,
            "created_at": now,
            "updated_at": now,
        },
        ("shop_id", "order_ref"),
    )
    return order


def order_refunds(session: Session, shop_id: int, order_id: int) -> Sequence[OrderRefund]:
    return session.scalars(
        select(OrderRefund)
        .where(OrderRefund.shop_id == shop_id, OrderRefund.order_id == order_id)
        .order_by(OrderRefund.id)
    ).all()


def order_reversals(session: Session, shop_id: int, order_id: int) -> tuple[int, int]:
    """(points already given back for the order, number of reversal entries)."""
    total, count = session.execute(
        select(func.coalesce(func.sum(LedgerEntry.points), 0), func.count(LedgerEntry.id)).where(
            LedgerEntry.shop_id == shop_id,
            LedgerEntry.order_id == order_id,
            LedgerEntry.kind == EntryKind.REVERSE_ORDER.value,
        )
    ).one()
    return -int(total), int(count)


def balance_columns(now: Any) -> tuple[Any, ...]:
    """Spendable, pending, lifetime earned and the next time pending points become
    spendable, as aggregates over ledger entries (`now`: a time or a bind parameter)."""
    available = or_(
        LedgerEntry.available_at <= now,
        and_(
            LedgerEntry.points < 0,
            LedgerEntry.kind.in_([k.value for k in IMMEDIATE_DEBIT_KINDS]),
        ),
    )
    earned = LedgerEntry.kind.in_([k.value for k in EARNING_KINDS])
    return (
        func.coalesce(func.sum(case((available, LedgerEntry.points), else_=0)), 0),
        func.coalesce(func.sum(case((available, 0), else_=LedgerEntry.points)), 0),
        func.coalesce(func.sum(case((earned, LedgerEntry.points), else_=0)), 0),
        # type_coerce: SQLite hands MIN() back as text unless told it is a time.
        type_coerce(
            func.min(case((available, None), else_=LedgerEntry.available_at)), UTCDateTime()
        ),
    )


def balance_from_row(spendable: Any, pending: Any, earned: Any, next_at: Any) -> Balance:
    return Balance(
        spendable=int(spendable),
        pending=int(pending),
        lifetime_earned=int(earned),
        next_available_at=next_at,
    )


# Built once: constructing this expression costs more than running it on a hot path.
_BALANCE = select(*balance_columns(bindparam("now", type_=UTCDateTime()))).where(
    LedgerEntry.shop_id == bindparam("shop_id"),
    LedgerEntry.customer_id == bindparam("customer_id"),
)


def balance(session: Session, shop_id: int, customer_id: int, now: datetime) -> Balance:
    """Spendable, pending and lifetime points, summed from the ledger entries themselves."""
    row = session.execute(
        _BALANCE, {"shop_id": shop_id, "customer_id": customer_id, "now": now}
    ).one()
    return balance_from_row(*row)


def ledger_page(
    session: Session, shop_id: int, customer_id: int, *, limit: int, before_id: int | None
) -> Sequence[LedgerEntry]:
    """Newest first; keyset pagination on the entry id so pages never shift under writes."""
    stmt = select(LedgerEntry).where(
        LedgerEntry.shop_id == shop_id, LedgerEntry.customer_id == customer_id
    )
    if before_id is not None:
        stmt = stmt.where(LedgerEntry.id < before_id)
    return session.scalars(stmt.order_by(LedgerEntry.id.desc()).limit(limit)).all()


def member_id_range_after(
    session: Session, shop_id: int, after: int, limit: int
) -> tuple[int, int, int] | None:
    """The next `limit` members of the shop above `after` (a chunk of a pass over every
    member) as (how many, first id, last id), without sending the ids themselves; None
    when no member is left."""
    ids = (
        select(Customer.id)
        .where(Customer.shop_id == shop_id, Customer.id > after)
        .order_by(Customer.id)
        .limit(limit)
        .subquery()
    )
    count, first, last = session.execute(
        select(func.count(), func.min(ids.c.id), func.max(ids.c.id))
    ).one()
    return None if not count else (int(count), int(first), int(last))


def lock_member_ids(session: Session, shop_id: int, customer_ids: Sequence[int]) -> None:
    """`lock_members` with the ids sent as one array (PostgreSQL): one parameter, however
    many members."""
    from sqlalchemy import BigInteger
    from sqlalchemy.dialects.postgresql import ARRAY

    ids = bindparam("lock_ids", list(customer_ids), type_=ARRAY(BigInteger))
    session.execute(
        select(Customer.id)
        .where(Customer.shop_id == shop_id, Customer.id == func.any(ids))
        .order_by(Customer.id)
        .with_for_update()
    )


def plan_for_chunks(session: Session) -> None:
    """Planner settings for the rest of the transaction (PostgreSQL) suited to a pass over
    every member: thousands of short aggregates over one chunk's index range, tens of
    milliseconds each. Without JIT compilation and parallel workers, whose start-up cost
    about as much again as the query; and with index reads costed as the cached reads they
    are (random_page_cost 1.1, the usual SSD setting), so the join from a chunk's ledger
    entries to their orders stays a nested loop over the orders' primary key: at the default
    4.0 the planner sometimes hashed the whole orders table for every chunk instead (10x
    slower at 1,000,000 members)."""
    session.execute(text("SET LOCAL jit = off"))
    session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
    session.execute(text("SET LOCAL random_page_cost = 1.1"))


def lock_member_range(session: Session, shop_id: int, first: int, last: int) -> None:
    """`lock_members` for every member with an id from `first` to `last`."""
    session.execute(
        select(Customer.id)
        .where(Customer.shop_id == shop_id, Customer.id.between(first, last))
        .order_by(Customer.id)
        .with_for_update()
    )
