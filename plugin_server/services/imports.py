"""CSV imports of members and points: check a file, then apply it in resumable batches.

Every valid row becomes at most one ledger entry of kind `import`, whose idempotency key
is the import's fingerprint (SHA-256 of the mode and the file) and the row's line: the same
file imported again, or a batch applied twice, credits nothing twice. "Reset to N" writes
the difference between N and the member's spendable balance (the ledger is append-only).

A run commits one transaction per batch: the batch's members, entries and the import's
progress (`last_line`) together, so a run that stops for any reason resumes exactly after
the last committed row. Each batch locks the import row and checks its progress first, so
two runners of one import never apply the same rows.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, select, text
from sqlalchemy.orm import Session

from plugin_server.db import repositories
from plugin_server.db.models import Customer, Import, LedgerEntry
from plugin_server.db.unit_of_work import UnitOfWork
from plugin_server.domain import errors
from plugin_server.domain import imports as rules
from plugin_server.domain.imports import Layout, Mode, Row, RowProblem
from plugin_server.domain.ledger import EntryKind

logger = logging.getLogger(__name__)

MAX_FILE_BYTES = 64 * 1024 * 1024
BATCH = 1000
PROBLEMS_KEPT = 100  # on the import record and in a refusal
PROBLEMS_REPORTED = 10_000  # in a dry run's report
ANALYZE_FIRST = 5000  # rows written before the first statistics refresh (PostgreSQL)
_LOOKUP_CHUNK = 1000

_FILE_ERRORS: dict[str, type[errors.LoyaltyError]] = {
    "unknown_layout": errors.UnknownLayout,
    "missing_columns": errors.MissingColumns,
    "invalid_csv": errors.InvalidCsv,
    "empty_file": errors.EmptyFile,
}


def _file_error(exc: rules.ImportFileError) -> errors.LoyaltyError:
    return _FILE_ERRORS.get(exc.code, errors.InvalidCsv)(str(exc))


def _rows(content: bytes, layout: Layout | None) -> tuple[rules.Header, Iterator[Row | RowProblem]]:
    """The file's header and rows, read lazily from the bytes (UTF-8, with or without a
    BOM); a file that cannot be read raises the matching domain error."""
    text = io.TextIOWrapper(io.BytesIO(content), encoding="utf-8-sig", newline="")
    try:
        header, rows = rules.read_rows(text, layout)
    except rules.ImportFileError as exc:
        raise _file_error(exc) from None
    except UnicodeDecodeError:
        raise errors.InvalidCsv("The file is not UTF-8 text.") from None

    def guarded() -> Iterator[Row | RowProblem]:
        try:
            yield from rows
        except rules.ImportFileError as exc:
            raise _file_error(exc) from None
        except UnicodeDecodeError:
            raise errors.InvalidCsv("The file is not UTF-8 text.") from None

    return header, guarded()


def fingerprint(content: bytes, mode: Mode) -> str:
    """SHA-256 of the mode and the file: what makes two uploads the same import."""
    digest = hashlib.sha256(f"{mode.value}\n".encode())
    digest.update(content)
    return digest.hexdigest()


@dataclass
class Scan:
    """What a whole file holds, checked row by row (nothing written)."""

    layout: Layout
    total_rows: int = 0
    problem_count: int = 0
    problems: list[dict[str, object]] = field(default_factory=list)

    def add(self, problem: RowProblem, keep: int) -> None:
        self.problem_count += 1
        if len(self.problems) < keep:
            self.problems.append(problem.as_dict())


def scan(
    uow: UnitOfWork, shop_id: int, content: bytes, layout: Layout | None, *, keep: int
) -> Scan:
    """Every row checked, and rows naming only a customer id checked against the shop's
    members (UNKNOWN_CUSTOMER): the first `keep` problems in line order, and their count.

    Reads the database only for those ids, a short transaction per 1,000 of them: on
    SQLite any transaction holds the write lock, which checking a large file must not."""
    header, rows = _rows(content, layout)
    out = Scan(header.layout)
    found: list[RowProblem] = []
    id_only: list[Row] = []

    def check_ids() -> None:
        refs = [r.customer_ref for r in id_only if r.customer_ref]
        known: set[str] = set()
        if refs:
            with uow:
                known.update(
                    uow.session.scalars(
                        select(Customer.customer_ref).where(
                            Customer.shop_id == shop_id, Customer.customer_ref.in_(refs)
                        )
                    )
                )
        for r in id_only:
            if r.customer_ref not in known:
                found.append(
                    RowProblem(r.line, rules.Problem.UNKNOWN_CUSTOMER, "no such customer id")
                )
        id_only.clear()

    def flush() -> None:
        # Every row so far is checked (ids included): hand the problems on in line order.
        check_ids()
        for p in sorted(found, key=lambda p: p.line):
            out.add(p, keep)
        found.clear()

    for item in rows:
        out.total_rows += 1
        if isinstance(item, RowProblem):
            found.append(item)
        elif item.email is None:
            id_only.append(item)
        if len(id_only) >= _LOOKUP_CHUNK or len(found) >= _LOOKUP_CHUNK:
            flush()
    flush()
    return out


def dry_run(
    uow: UnitOfWork, shop_id: int, content: bytes, *, layout: Layout | None, mode: Mode
) -> dict[str, Any]:
    """Check a file and report every problem row (up to PROBLEMS_REPORTED); writes nothing."""
    result = scan(uow, shop_id, content, layout, keep=PROBLEMS_REPORTED)
    return {
        "dry_run": True,
        "layout": result.layout.value,
        "mode": mode.value,
        "total_rows": result.total_rows,
        "valid_rows": result.total_rows - result.problem_count,
        "problem_count": result.problem_count,
        "problems": result.problems,
        "problems_truncated": result.problem_count > len(result.problems),
    }


def view(imp: Import) -> dict[str, Any]:
    """An import as the API shows it (never the file itself)."""
    return {
        "id": imp.id,
        "name": imp.name,
        "layout": imp.layout,
        "mode": imp.mode,
        "skip_invalid": imp.skip_invalid,
        "status": imp.status,
        "size_bytes": imp.size_bytes,
        "total_rows": imp.total_rows,
        "last_line": imp.last_line,
        "rows_imported": imp.rows_imported,
        "rows_unchanged": imp.rows_unchanged,
        "rows_skipped": imp.rows_skipped,
        "members_created": imp.members_created,
        "points_added": imp.points_added,
        "points_removed": imp.points_removed,
        "problem_count": imp.problem_count,
        "problems": json.loads(imp.problems),
        "created_at": imp.created_at.isoformat(),
        "updated_at": imp.updated_at.isoformat(),
        "completed_at": imp.completed_at.isoformat() if imp.completed_at else None,
    }


def create_import(
    uow: UnitOfWork,
    shop_id: int,
    content: bytes,
    *,
    name: str,
    layout: Layout | None,
    mode: Mode,
    skip_invalid: bool,
    now: datetime,
) -> tuple[dict[str, Any], bool]:
    """Check the file and record the import (not yet applied); (import, created).

    A file with problem rows is refused (ImportHasProblems, nothing recorded) unless
    `skip_invalid`, when those rows are left out and counted. The same file in the same
    mode again is the same import: it is returned as it stands, nothing new is recorded.
    """
    name = name.strip()[:255] or "CSV import"
    key = fingerprint(content, mode)
    with uow:
        existing = uow.session.scalars(
            select(Import).where(Import.shop_id == shop_id, Import.fingerprint == key)
        ).one_or_none()
        if existing is not None:
            return view(existing), False
    result = scan(uow, shop_id, content, layout, keep=PROBLEMS_KEPT)
    if result.problem_count and not skip_invalid:
        raise errors.ImportHasProblems(
            f"{result.problem_count} of {result.total_rows} rows cannot be imported; "
            "nothing was written. Fix them, or import with skip_invalid to leave them out "
            "(a dry run lists every one).",
            problems=result.problems,
        )
    with uow:
        values = {
            "shop_id": shop_id,
            "name": name,
            "layout": result.layout.value,
            "mode": mode.value,
            "fingerprint": key,
            "skip_invalid": skip_invalid,
            "status": "pending",
            "content": content,
            "size_bytes": len(content),
            "total_rows": result.total_rows,
            "problem_count": result.problem_count,
            "problems": json.dumps(result.problems),
            "last_line": 1,  # the header
            "rows_imported": 0,
            "rows_unchanged": 0,
            "rows_skipped": 0,
            "members_created": 0,
            "points_added": 0,
            "points_removed": 0,
            "created_at": now,
            "updated_at": now,
            "completed_at": None,
        }
        new_id = repositories.insert_ignoring_conflict(
            uow.session, Import, values, ("shop_id", "fingerprint")
        )
        imp = uow.session.scalars(
            select(Import).where(Import.shop_id == shop_id, Import.fingerprint == key)
        ).one()
        out = view(imp)
        uow.commit()
    return out, new_id is not None


def get_import(uow: UnitOfWork, shop_id: int, import_id: int) -> dict[str, Any]:
    """One import of this shop; ImportNotFound for another shop's."""
    with uow:
        imp = uow.session.scalars(
            select(Import).where(Import.shop_id == shop_id, Import.id == import_id)
        ).one_or_none()
        if imp is None:
            raise errors.ImportNotFound(f"no import {import_id} in this shop")
        return view(imp)


def list_imports(uow: UnitOfWork, shop_id: int, *, limit: int = 50) -> list[dict[str, Any]]:
    """The shop's latest imports, newest first."""
    with uow:
        found = uow.session.scalars(
            select(Import).where(Import.shop_id == shop_id).order_by(Import.id.desc()).limit(limit)
        ).all()
        return [view(i) for i in found]


def stalled(uow: UnitOfWork, *, now: datetime, older_than: timedelta) -> list[tuple[int, int]]:
    """(shop id, import id) of imports not completed and untouched for `older_than`: a
    run that crashed or was never started (its job lost). A running import commits a
    batch every second or so, so one this quiet has nobody working on it."""
    with uow:
        return [
            (shop_id, import_id)
            for shop_id, import_id in uow.session.execute(
                select(Import.shop_id, Import.id)
                .where(Import.status != "completed", Import.updated_at < now - older_than)
                .order_by(Import.id)
            ).all()
        ]


class _Moved(Exception):
    """Another runner committed rows of this import first: this one stops."""


@dataclass
class _Batch:
    rows: list[Row] = field(default_factory=list)
    skipped: int = 0
    last_line: int = 0


def run_import(
    new_uow: Callable[[], UnitOfWork],
    shop_id: int,
    import_id: int,
    *,
    clock: Callable[[], datetime],
    batch_size: int = BATCH,
    max_batches: int | None = None,
) -> dict[str, Any]:
    """Apply an import from where it got to, one transaction per `batch_size` rows, and
    mark it completed; returns it. Safe to call again at any time: a completed import is
    returned as it is, a stopped one resumes after its last committed line. `max_batches`
    stops early (the import stays running, to be resumed)."""
    with new_uow() as uow:
        imp = uow.session.scalars(
            select(Import).where(Import.shop_id == shop_id, Import.id == import_id)
        ).one_or_none()
        if imp is None:
            raise errors.ImportNotFound(f"no import {import_id} in this shop")
        if imp.status == "completed" or imp.content is None:
            return view(imp)
        content, done = imp.content, imp.last_line
        layout, mode = Layout(imp.layout), Mode(imp.mode)
        key, label = imp.fingerprint[:32], f"Import #{imp.id}: {imp.name}"
        if imp.status == "pending":
            imp.status, imp.updated_at = "running", clock()
            uow.commit()
    _, rows = _rows(content, layout)
    batch, committed = _Batch(last_line=done), 0
    written, analyze_at = 0, ANALYZE_FIRST
    try:
        for item in rows:
            if item.line <= done:
                continue
            batch.last_line = item.line
            if isinstance(item, RowProblem):
                batch.skipped += 1
            else:
                batch.rows.append(item)
            if len(batch.rows) >= batch_size:
                if max_batches is not None and committed >= max_batches:
                    break
                done, rows_written = _commit_batch(
                    new_uow, shop_id, import_id, done, batch, mode, key, label, clock()
                )
                batch, committed = _Batch(last_line=done), committed + 1
                written += rows_written
                if written >= analyze_at:
                    _analyze(new_uow)
                    analyze_at *= 2
        else:
            _commit_batch(
                new_uow, shop_id, import_id, done, batch, mode, key, label, clock(), last=True
            )
    except _Moved:
        logger.info("import advanced by another run", extra={"import_id": import_id})
    return get_import(new_uow(), shop_id, import_id)


def _commit_batch(
    new_uow: Callable[[], UnitOfWork],
    shop_id: int,
    import_id: int,
    expected: int,
    batch: _Batch,
    mode: Mode,
    key: str,
    label: str,
    now: datetime,
    *,
    last: bool = False,
) -> tuple[int, int]:
    """One transaction: the batch's members and entries, and the import's progress; the
    last line committed and how many members and entries were written."""
    with new_uow() as uow:
        s = uow.session
        imp = s.scalars(
            select(Import)
            .where(Import.shop_id == shop_id, Import.id == import_id)
            .with_for_update()
        ).one()
        if imp.last_line != expected or imp.status == "completed":
            raise _Moved()
        members, created, unknown = _members(s, shop_id, batch.rows, now)
        applied = [r for r in batch.rows if r.line not in unknown]
        entries, unchanged = _entries(
            s, shop_id, import_id, applied, members, mode, key, label, now
        )
        repositories.insert_many_ignoring_conflict(
            s, LedgerEntry, entries, ("shop_id", "idempotency_key")
        )
        imp.last_line = batch.last_line
        imp.rows_imported += len(entries)
        imp.rows_unchanged += unchanged
        imp.rows_skipped += batch.skipped + len(unknown)
        imp.members_created += created
        imp.points_added += sum(e["points"] for e in entries if e["points"] > 0)
        imp.points_removed -= sum(e["points"] for e in entries if e["points"] < 0)
        imp.updated_at = now
        if last:
            imp.status, imp.completed_at = "completed", now
            imp.content = None  # the file's emails are not kept past their use
        uow.commit()
    return batch.last_line, created + len(entries)


def _analyze(new_uow: Callable[[], UnitOfWork]) -> None:
    """Refresh PostgreSQL's statistics on the tables an import grows. Without them, a shop
    whose members mostly arrive through the import keeps the planner's empty-table guess:
    the batch's member lookups then filter every member of the shop instead of using the
    (shop_id, customer_ref) index, and each batch is slower than the last (1,244 rows/s over
    100,000 new members, against 6,000+ at 5,000). Run after 5,000 rows written, then at
    each doubling: a handful of samples per import."""
    with new_uow() as uow:
        if uow.session.get_bind().dialect.name != "postgresql":
            return
        uow.session.execute(text("ANALYZE customers, ledger_entries"))
        uow.commit()


def _members(
    s: Session, shop_id: int, rows: list[Row], now: datetime
) -> tuple[dict[int, int], int, set[int]]:
    """Each row's member id by line, creating members for rows with an email; how many were
    created, and the lines naming only a customer id that is not a member (left out)."""
    refs = {r.customer_ref for r in rows if r.customer_ref}
    by_ref: dict[str, int] = {}
    if refs:
        by_ref = dict(
            s.execute(
                select(Customer.customer_ref, Customer.id).where(
                    Customer.shop_id == shop_id, Customer.customer_ref.in_(refs)
                )
            ).all()
        )
    # A row with a customer id is that platform customer (created if new); only rows
    # without one are matched by email.
    emails = {r.email for r in rows if r.email and not r.customer_ref}
    by_email: dict[str, int] = {}
    if emails:
        # Emails are stored lower-cased; a registered account wins over a guest's.
        for email, cid in s.execute(
            select(Customer.email, Customer.id)
            .where(Customer.shop_id == shop_id, Customer.email.in_(emails))
            .order_by(case((Customer.customer_ref.startswith("guest:"), 1), else_=0), Customer.id)
        ).all():
            if email is not None:
                by_email.setdefault(email, cid)
    new: dict[str, dict[str, Any]] = {}
    unknown: set[int] = set()
    for r in rows:
        if (r.customer_ref in by_ref) if r.customer_ref else (r.email in by_email):
            continue
        if r.email is None:
            unknown.add(r.line)
            continue
        ref = r.customer_ref or f"guest:{r.email}"
        new.setdefault(
            ref,
            {
                "shop_id": shop_id,
                "customer_ref": ref,
                "email": r.email,
                "first_name": r.first_name,
                "last_name": r.last_name,
                "created_at": now,
                "updated_at": now,
            },
        )
    created = 0
    if new:
        created = repositories.insert_many_ignoring_conflict(
            s, Customer, list(new.values()), ("shop_id", "customer_ref")
        )
        by_ref.update(
            s.execute(
                select(Customer.customer_ref, Customer.id).where(
                    Customer.shop_id == shop_id, Customer.customer_ref.in_(list(new))
                )
            ).all()
        )
    out: dict[int, int] = {}
    for r in rows:
        if r.line in unknown:
            continue
        if r.customer_ref:
            out[r.line] = by_ref[r.customer_ref]
        else:
            out[r.line] = by_email.get(r.email or "") or by_ref[f"guest:{r.email}"]
    return out, created, unknown


def _entries(
    s: Session,
    shop_id: int,
    import_id: int,
    rows: list[Row],
    members: dict[int, int],
    mode: Mode,
    key: str,
    label: str,
    now: datetime,
) -> tuple[list[dict[str, Any]], int]:
    """The batch's ledger entries, and how many rows changed nothing (0 to add, or a
    balance already at its reset value)."""
    running: dict[int, int] = {}
    if mode is Mode.RESET and rows:
        ids = sorted(set(members.values()))
        # The members' row locks, as adjustments and redemptions take them: no spend can
        # slip between reading a balance and writing its correction.
        repositories.lock_members(s, shop_id, ids)
        spendable = repositories.balance_columns(now)[0]
        running = {cid: 0 for cid in ids}
        running.update(
            s.execute(
                select(LedgerEntry.customer_id, spendable)
                .where(LedgerEntry.shop_id == shop_id, LedgerEntry.customer_id.in_(ids))
                .group_by(LedgerEntry.customer_id)
            ).all()
        )
    entries: list[dict[str, Any]] = []
    unchanged = 0
    for r in rows:
        cid = members[r.line]
        if mode is Mode.RESET:
            points = r.points - int(running[cid])
            running[cid] = r.points
            reason = f"{label} (balance set to {r.points})"
        else:
            points, reason = r.points, label
        if points == 0:
            unchanged += 1
            continue
        entries.append(
            {
                "shop_id": shop_id,
                "customer_id": cid,
                "points": points,
                "kind": EntryKind.IMPORT.value,
                "reason": reason[:255],
                "source_type": "import",
                "source_ref": f"{import_id}:{r.line}",
                "order_id": None,
                "idempotency_key": f"import:{key}:{r.line}",
                "created_at": now,
                "available_at": now,
            }
        )
    return entries, unchanged
