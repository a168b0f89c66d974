"""Reading member/points CSV files: which layout a file uses, and what is wrong with each row.

Pure: stdlib only. The file is read as a stream of rows; nothing here holds more than the
row at hand and one 8-byte digest per member seen (to find duplicates).

Layouts, detected from the header row (names compared case-insensitively, surrounding
spaces ignored, spaces and hyphens read as underscores: "Customer ID" is `customer_id`):

- `loyalty` (ours): `points` (or `balance`, as in our members export) and `email` and/or
  `customer_id`; optional `first_name`, `last_name`; other columns (our export's
  `pending`, `tier`, ...) are ignored, so a members export imports back as it is.
- `smile`: exactly `email,points` — Smile.io's "Import points with a CSV file" ("your file
  must include only the following two column headers: email, points"; the merchant picks
  "add points to existing balances" or "reset existing balances")
  https://help.smile.io/en/articles/4036233-import-points-with-a-csv-file
  LoyaltyLion's own points import asks for the same two columns ("Column A: email
  addresses, Column B: points", added to the existing total)
  https://help.loyaltylion.com/articles/1965540-customers-and-points-import
- `loyaltylion`: a LoyaltyLion customer export: `email` and `points_approved`, optional
  `merchant_id` (the store's customer id), `first_name`, `last_name`; `points_pending`,
  `points_spent` and other columns are ignored (the field names of LoyaltyLion's customer
  resource: https://developers.loyaltylion.com/headless-api/2025-06/customers/get-customer).
  Approved points are the spendable balance; pending points are not known to be approved
  yet, so they are not imported.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum


class Layout(StrEnum):
    LOYALTY = "loyalty"
    SMILE = "smile"
    LOYALTYLION = "loyaltylion"


class Mode(StrEnum):
    ADD = "add"  # each row's points are added to the member's balance
    RESET = "reset"  # the member's spendable balance becomes the row's points


class Problem(StrEnum):
    """Stable codes for what is wrong with one row."""

    WRONG_COLUMN_COUNT = "wrong_column_count"
    MISSING_IDENTITY = "missing_identity"  # neither an email nor a customer id
    BAD_EMAIL = "bad_email"
    BAD_POINTS = "bad_points"  # empty, not a whole number, or thousands separators
    NEGATIVE_POINTS = "negative_points"
    POINTS_TOO_LARGE = "points_too_large"
    FIELD_TOO_LONG = "field_too_long"
    DUPLICATE_ROW = "duplicate_row"  # the same member on an earlier line
    UNKNOWN_CUSTOMER = "unknown_customer"  # a customer id alone, not a member of the shop


class ImportFileError(ValueError):
    """The file as a whole cannot be read: `code` says why (stable)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


MAX_POINTS = 10_000_000  # per row
MAX_EMAIL = 320
MAX_NAME = 255
MAX_CUSTOMER_ID = 255
# Spreadsheet formula triggers (OWASP "CSV injection"): a text cell starting with one of
# these is written with a leading apostrophe, which spreadsheets show but never execute.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

_EMAIL = re.compile(r"[^@\s,;<>\"]+@[^@\s,;<>\"]+\.[^@\s,;<>\"]+")
_INTEGER = re.compile(r"[+-]?\d+")

_POINTS_COLUMNS = {
    Layout.LOYALTY: ("points", "balance"),
    Layout.SMILE: ("points",),
    Layout.LOYALTYLION: ("points_approved",),
}
_ID_COLUMNS = {Layout.LOYALTY: "customer_id", Layout.LOYALTYLION: "merchant_id"}


def header_name(cell: str) -> str:
    """`" Customer ID"` -> `customer_id` (a BOM, case, spaces and hyphens ignored)."""
    name = cell.strip().lstrip("\ufeff").strip().lower()
    return re.sub(r"[\s\-]+", "_", name)


@dataclass(frozen=True, slots=True)
class Header:
    layout: Layout
    width: int
    email: int | None
    customer_id: int | None
    points: int
    first_name: int | None
    last_name: int | None


def detect_layout(names: Iterable[str]) -> Layout | None:
    """The layout a header row (already `header_name`d) belongs to, or None."""
    found = set(names)
    if "email" in found and "points_approved" in found:
        return Layout.LOYALTYLION
    if found == {"email", "points"}:
        return Layout.SMILE
    if found & {"points", "balance"} and found & {"email", "customer_id"}:
        return Layout.LOYALTY
    return None


def parse_header(cells: list[str], layout: Layout | None = None) -> Header:
    """The columns to read, for the given layout or the one the header names."""
    names = [header_name(c) for c in cells]
    if not any(names):
        raise ImportFileError("empty_file", "The file has no header row.")
    repeated = sorted({n for n in names if n and names.count(n) > 1})
    if repeated:
        raise ImportFileError(
            "invalid_csv", f"The header names a column more than once: {', '.join(repeated)}."
        )
    detected = detect_layout(names)
    if layout is None:
        if detected is None:
            raise ImportFileError(
                "unknown_layout",
                "The header row matches no supported layout (loyalty: email and/or "
                "customer_id with points; smile: email,points; loyaltylion: email with "
                f"points_approved). Found: {', '.join(names)}.",
            )
        layout = detected
    index = {n: i for i, n in enumerate(names)}
    points = next((index[c] for c in _POINTS_COLUMNS[layout] if c in index), None)
    id_column = _ID_COLUMNS.get(layout)
    customer_id = index.get(id_column) if id_column else None
    email = index.get("email")
    missing = []
    if points is None:
        missing.append(" or ".join(_POINTS_COLUMNS[layout]))
    if layout is Layout.LOYALTY and email is None and customer_id is None:
        missing.append("email or customer_id")
    elif layout is not Layout.LOYALTY and email is None:
        missing.append("email")
    if missing or points is None:
        raise ImportFileError(
            "missing_columns",
            f"The {layout.value} layout needs the column(s): {'; '.join(missing)}.",
        )
    return Header(
        layout=layout,
        width=len(cells),
        email=email,
        customer_id=customer_id,
        points=points,
        first_name=index.get("first_name"),
        last_name=index.get("last_name"),
    )


@dataclass(frozen=True, slots=True)
class Row:
    """A valid row: whom (an email, lower-cased, and/or the platform's customer id) and how
    many points."""

    line: int
    email: str | None
    customer_ref: str | None
    first_name: str | None
    last_name: str | None
    points: int

    @property
    def identities(self) -> tuple[str, ...]:
        """Duplicates are found by these: a second row with the same customer id or the
        same email is the same member (two ids sharing an email are refused too: the
        platforms keep one account per email)."""
        keys = (f"id:{self.customer_ref}" if self.customer_ref else None, f"email:{self.email}")
        return tuple(k for k in keys if k and k != "email:None")


@dataclass(frozen=True, slots=True)
class RowProblem:
    line: int
    code: Problem
    message: str

    def as_dict(self) -> dict[str, object]:
        return {"line": self.line, "code": self.code.value, "message": self.message}


def unescape_cell(value: str) -> str:
    """Undo `escape_cell` (our own exports read back as they were written)."""
    if len(value) > 1 and value[0] == "'" and value[1] in FORMULA_PREFIXES:
        return value[1:]
    return value


def escape_cell(value: str) -> str:
    """A text cell that a spreadsheet would run as a formula gets a leading apostrophe."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def _cell(cells: list[str], index: int | None) -> str:
    if index is None or index >= len(cells):
        return ""
    return unescape_cell(cells[index].strip())


def check_row(header: Header, line: int, cells: list[str]) -> Row | RowProblem:
    """The row's member and points, or its first problem."""
    if len(cells) != header.width:
        return RowProblem(
            line,
            Problem.WRONG_COLUMN_COUNT,
            f"{len(cells)} columns where the header has {header.width}",
        )
    email = _cell(cells, header.email)
    customer_ref = _cell(cells, header.customer_id)
    first, last = _cell(cells, header.first_name), _cell(cells, header.last_name)
    raw_points = cells[header.points].strip()
    if not email and not customer_ref:
        return RowProblem(line, Problem.MISSING_IDENTITY, "no email or customer id")
    if len(email) > MAX_EMAIL:
        return RowProblem(line, Problem.FIELD_TOO_LONG, f"email longer than {MAX_EMAIL}")
    if len(customer_ref) > MAX_CUSTOMER_ID:
        return RowProblem(
            line, Problem.FIELD_TOO_LONG, f"customer id longer than {MAX_CUSTOMER_ID}"
        )
    if len(first) > MAX_NAME or len(last) > MAX_NAME:
        return RowProblem(line, Problem.FIELD_TOO_LONG, f"name longer than {MAX_NAME}")
    if email and not _EMAIL.fullmatch(email):
        return RowProblem(line, Problem.BAD_EMAIL, "not an email address")
    if not _INTEGER.fullmatch(raw_points):
        return RowProblem(
            line, Problem.BAD_POINTS, "points must be a whole number without separators"
        )
    points = int(raw_points)
    if points < 0:
        return RowProblem(line, Problem.NEGATIVE_POINTS, "points must not be negative")
    if points > MAX_POINTS:
        return RowProblem(line, Problem.POINTS_TOO_LARGE, f"points above {MAX_POINTS:,}")
    return Row(
        line=line,
        email=email.lower() or None,
        customer_ref=customer_ref or None,
        first_name=first or None,
        last_name=last or None,
        points=points,
    )


def read_rows(
    lines: Iterable[str], layout: Layout | None = None
) -> tuple[Header, Iterator[Row | RowProblem]]:
    """The header of a CSV text stream and an iterator over its rows, each valid or with
    its problem. `line` is the physical line a row starts on (the header is line 1);
    blank lines are skipped. A second row for a member already seen is a DUPLICATE_ROW
    naming the first line. ImportFileError for a file that cannot be read at all."""
    reader = csv.reader(lines, strict=True)
    try:
        cells = next(reader, None)
    except csv.Error as exc:
        raise ImportFileError("invalid_csv", f"line 1: {exc}") from None
    if cells is None:
        raise ImportFileError("empty_file", "The file is empty.")
    header = parse_header(cells, layout)
    return header, _rows(reader, header)


def _rows(reader: Iterator[list[str]], header: Header) -> Iterator[Row | RowProblem]:
    seen: dict[bytes, int] = {}
    end = 1
    while True:
        start = end + 1
        try:
            cells = next(reader, None)
        except csv.Error as exc:
            raise ImportFileError("invalid_csv", f"line {start}: {exc}") from None
        if cells is None:
            return
        end = reader.line_num  # type: ignore[attr-defined]
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            continue
        checked = check_row(header, start, cells)
        if isinstance(checked, Row):
            digests = [
                hashlib.blake2b(key.encode(), digest_size=8).digest() for key in checked.identities
            ]
            first = next((seen[d] for d in digests if d in seen), None)
            if first is not None:
                checked = RowProblem(
                    start, Problem.DUPLICATE_ROW, f"the same member as line {first}"
                )
            else:
                for d in digests:
                    seen[d] = start
        yield checked
