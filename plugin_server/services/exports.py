"""CSV exports of members, balances and the ledger, streamed a chunk at a time.

Each chunk is read in its own short transaction (keyset pagination on ids), so an export
of a million members holds neither memory nor locks for long; rows written while an export
runs may or may not appear in it. Text cells that a spreadsheet would run as a formula
(`= + - @`, tab, CR) are written with a leading apostrophe; numbers are written as numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select

from plugin_server.db import repositories
from plugin_server.db.models import Customer, LedgerEntry, MemberTier, Tier
from plugin_server.db.unit_of_work import UnitOfWork
from plugin_server.domain.imports import escape_cell

CHUNK = 2000

MEMBER_COLUMNS = (
    "customer_id",
    "email",
    "first_name",
    "last_name",
    "balance",
    "pending",
    "lifetime_earned",
    "tier",
    "member_since",
)
BALANCE_COLUMNS = ("customer_id", "email", "balance", "pending")
LEDGER_COLUMNS = (
    "entry_id",
    "created_at",
    "available_at",
    "customer_id",
    "email",
    "points",
    "kind",
    "reason",
    "source_type",
    "source_ref",
)


class ExportKind(StrEnum):
    MEMBERS = "members"
    BALANCES = "balances"
    LEDGER = "ledger"


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str):
        return escape_cell(value)
    return value


def _csv(rows: Iterable[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return buffer.getvalue()


def members_csv(
    new_uow: Callable[[], UnitOfWork],
    shop_id: int,
    *,
    now: datetime,
    balances_only: bool = False,
    chunk: int = CHUNK,
) -> Iterator[str]:
    """The shop's members in id order with their balances (and tier), as CSV text."""
    yield _csv([BALANCE_COLUMNS if balances_only else MEMBER_COLUMNS])
    after = 0
    while True:
        with new_uow() as uow:
            s = uow.session
            members = s.execute(
                select(
                    Customer.id,
                    Customer.customer_ref,
                    Customer.email,
                    Customer.first_name,
                    Customer.last_name,
                    Customer.created_at,
                )
                .where(Customer.shop_id == shop_id, Customer.id > after)
                .order_by(Customer.id)
                .limit(chunk)
            ).all()
            if not members:
                return
            first, last = members[0].id, members[-1].id
            spendable, pending, earned, _ = repositories.balance_columns(now)
            balances = {
                cid: (int(b), int(p), int(e))
                for cid, b, p, e in s.execute(
                    select(LedgerEntry.customer_id, spendable, pending, earned)
                    .where(
                        LedgerEntry.shop_id == shop_id,
                        LedgerEntry.customer_id.between(first, last),
                    )
                    .group_by(LedgerEntry.customer_id)
                ).all()
            }
            tiers: dict[int, str] = {}
            if not balances_only:
                tiers = dict(
                    s.execute(
                        select(MemberTier.customer_id, Tier.name)
                        .join(Tier, Tier.id == MemberTier.tier_id)
                        .where(
                            MemberTier.shop_id == shop_id,
                            MemberTier.customer_id.between(first, last),
                        )
                    ).all()
                )
        rows: list[Sequence[Any]] = []
        for m in members:
            balance, pending_points, lifetime = balances.get(m.id, (0, 0, 0))
            if balances_only:
                rows.append((m.customer_ref, m.email, balance, pending_points))
            else:
                rows.append(
                    (
                        m.customer_ref,
                        m.email,
                        m.first_name,
                        m.last_name,
                        balance,
                        pending_points,
                        lifetime,
                        tiers.get(m.id),
                        m.created_at,
                    )
                )
        yield _csv(rows)
        after = last


def ledger_csv(
    new_uow: Callable[[], UnitOfWork],
    shop_id: int,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    chunk: int = CHUNK,
) -> Iterator[str]:
    """The shop's ledger entries in id order, created in [since, until), as CSV text."""
    yield _csv([LEDGER_COLUMNS])
    after = 0
    while True:
        stmt = (
            select(
                LedgerEntry.id,
                LedgerEntry.created_at,
                LedgerEntry.available_at,
                Customer.customer_ref,
                Customer.email,
                LedgerEntry.points,
                LedgerEntry.kind,
                LedgerEntry.reason,
                LedgerEntry.source_type,
                LedgerEntry.source_ref,
            )
            .join(Customer, Customer.id == LedgerEntry.customer_id)
            .where(LedgerEntry.shop_id == shop_id, LedgerEntry.id > after)
            .order_by(LedgerEntry.id)
            .limit(chunk)
        )
        if since is not None:
            stmt = stmt.where(LedgerEntry.created_at >= since)
        if until is not None:
            stmt = stmt.where(LedgerEntry.created_at < until)
        with new_uow() as uow:
            rows = uow.session.execute(stmt).all()
        if not rows:
            return
        yield _csv(rows)
        after = rows[-1].id
